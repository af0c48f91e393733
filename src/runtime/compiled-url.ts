/**
 * Worker threads load JavaScript only. When the runtime itself runs from its TypeScript sources
 * (under vitest), a module next to it must be loaded from the build output in dist/ instead.
 */

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
  // Greedy: the last src/test/bench folder is the project's, even if an outer folder shares the name.
  const match = /^(.*)\/(src|test|bench)\/(.*)$/.exec(url.href)
  if (match === null) throw new Error(`cannot map ${url.href} to its compiled module under dist/`)
  return new URL(`${match[1]}/dist/${match[2]}/${match[3].replace(/\.ts$/, '.js')}`)
}
