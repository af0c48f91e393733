/**
 * The console's static files, compiled in as strings so tsc ships them in dist with the rest
 * and nothing is loaded from outside the box: one page, one script, one stylesheet.
 */
import { PAGE_CSS } from './page-css.js'
import { PAGE_HTML } from './page-html.js'
import { PAGE_JS } from './page-js.js'

export interface ConsoleAsset {
  contentType: string
  body: string
}

export const CONSOLE_ASSETS: ReadonlyMap<string, ConsoleAsset> = new Map([
  ['/', { contentType: 'text/html; charset=utf-8', body: PAGE_HTML }],
  ['/console.js', { contentType: 'text/javascript; charset=utf-8', body: PAGE_JS }],
  ['/console.css', { contentType: 'text/css; charset=utf-8', body: PAGE_CSS }],
])
