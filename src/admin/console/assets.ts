/**
 * The console's static files, compiled in as strings so tsc ships them in dist with the rest
 * and nothing is loaded from outside the box: one page, one script, one stylesheet.
 */
import { PAGE_CSS } from './page-css.js'
import { PAGE_HTML } from './page-html.js'
import { PAGE_JS } from './page-js.js'
import type { ConsoleMode } from './api.js'

export interface ConsoleAsset {
  contentType: string
  body: string
}

/**
 * The files as served in `mode`: the page names its mode on <body>, so a read-only console shows
 * no write forms (the API refuses writes with 403 all the same).
 */
export function consoleAssets(mode: Exclude<ConsoleMode, 'off'>): ReadonlyMap<string, ConsoleAsset> {
  return new Map([
    ['/', { contentType: 'text/html; charset=utf-8', body: PAGE_HTML.replace('<body>', `<body data-console-mode="${mode}">`) }],
    ['/console.js', { contentType: 'text/javascript; charset=utf-8', body: PAGE_JS }],
    ['/console.css', { contentType: 'text/css; charset=utf-8', body: PAGE_CSS }],
  ])
}

/** The paths of the console's files, whatever its mode. */
export const CONSOLE_ASSET_PATHS: readonly string[] = ['/', '/console.js', '/console.css']
