/**
 * Tests of src/metadata/broker-config.ts: the defaults a broker gets when nothing is configured.
 */
import { describe, expect, it } from 'vitest'
import { HEAP_YOUNG_MAX_MB_DEFAULT, resolveBrokerConfig } from '../../src/metadata/broker-config.js'
import { CONFIG_KEYS } from '../../src/metadata/config-keys.js'

describe('the broker defaults', () => {
  it("gives each broker thread a 12 MiB young generation, so scavenges free dead buffers before V8's external-memory limit starts a full collection", () => {
    expect(resolveBrokerConfig({}, '/tmp/partita-unused').heapYoungMaxMb).toBe(12)
  })

  it('documents the young generation default that the broker applies', () => {
    const key = CONFIG_KEYS.find((entry) => entry.key === 'broker.heap.young.max.mb')
    expect(key?.defaultValue).toBe(String(HEAP_YOUNG_MAX_MB_DEFAULT))
  })
})
