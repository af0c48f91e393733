/**
 * Tests of src/runtime/compiled-url.ts: a source module's compiled twin under dist/ (built by
 * `npm run build`, which `npm test` runs first).
 */
import { describe, expect, it } from 'vitest'
import { compiledUrl, normalizeModuleUrl } from '../../src/runtime/compiled-url.js'

const root = new URL('../../', import.meta.url)

describe('compiledUrl', () => {
  it('maps a module of src/ to dist/src/ with a .js suffix', () => {
    expect(compiledUrl(new URL('src/runtime/ring.ts', root), './shard-worker.js').href).toBe(new URL('dist/src/runtime/shard-worker.js', root).href)
  })

  it('maps a module of src/bench/ to dist/src/bench/, not to a dist/ inside src/', () => {
    const url = compiledUrl(new URL('src/bench/ceiling/kafka-ceiling-path.ts', root), './kafka-ceiling-server.js')
    expect(url.href).toBe(new URL('dist/src/bench/ceiling/kafka-ceiling-server.js', root).href)
  })

  it('maps a module of the top-level bench/ to dist/bench/', () => {
    expect(normalizeModuleUrl(new URL('bench/protocol/servers.ts', root)).href).toBe(new URL('dist/bench/protocol/servers.js', root).href)
  })

  it('keeps compiled JavaScript as it is', () => {
    const compiled = new URL('dist/src/runtime/ring.js', root)
    expect(compiledUrl(compiled, './shard-worker.js').href).toBe(new URL('dist/src/runtime/shard-worker.js', root).href)
  })
})
