/**
 * Worker threads load JavaScript only. When the runtime itself runs from its TypeScript sources
 * (under vitest), a module next to it must be loaded from the build output in dist/ instead.
 */
import { existsSync } from 'node:fs'

/**
 * The URL of the compiled module `relative` to `base` (an `import.meta.url`): unchanged when
 * `base` is already compiled JS, else redirected from `<root>/src/...` (or test/, bench/) to
 * `<root>/dist/src/...` with a .js suffix.
 */
export function compiledUrl(base: string | URL, relative: string): URL {
  const resolved = new URL(relative, base)
  if (!String(base).endsWith('.ts') && !resolved.pathname.endsWith('.ts')) return resolved
  return toDist(resolved)
}

/** A module URL as given by a caller: a .ts source is mapped into dist/, compiled JS is kept. */
export function normalizeModuleUrl(url: string | URL): URL {
  const resolved = new URL(url)
  return resolved.pathname.endsWith('.ts') ? toDist(resolved) : resolved
}

function toDist(url: URL): URL {
  if (url.pathname.includes('/dist/')) return new URL(url.href.replace(/\.ts$/, '.js'))
  // The project's src/test/bench folder is the one whose compiled twin exists: an outer folder
  // may share the name (/work/src/partita/src/...), and so may an inner one (src/bench/...).
  // Tried from the innermost out; bounded by the path's depth.
  const href = url.href.replace(/\.ts$/, '.js')
  // A lookahead, so /src/bench/ yields both folders.
  const slashes = [...href.matchAll(/\/(?=(?:src|test|bench)\/)/g)]
  const candidates = slashes.reverse().map((m) => new URL(`${href.slice(0, m.index)}/dist/${href.slice(m.index + 1)}`))
  if (candidates.length === 0) throw new Error(`cannot map ${url.href} to its compiled module under dist/`)
  return candidates.find((candidate) => existsSync(candidate)) ?? candidates[0]
}
