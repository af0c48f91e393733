/**
 * Tests of src/runtime/cpu-pool.ts on real piscina threads, which load the compiled task from
 * dist/: run `npm run build` first (`npm test` does).
 */
import { BroadcastChannel } from 'node:worker_threads'
import { afterEach, describe, expect, it } from 'vitest'
import { CpuPool, poolThreadsPerShard, YOUNG_GENERATION_MB_DEFAULT } from '../../src/runtime/cpu-pool.js'

const taskUrl = new URL('../../src/runtime/testing/checksum-task.ts', import.meta.url)
const eventLoopTaskUrl = new URL('../../src/runtime/testing/event-loop-task.ts', import.meta.url)
const resourceLimitsTaskUrl = new URL('../../src/runtime/testing/resource-limits-task.ts', import.meta.url)
let pool: CpuPool | null = null

afterEach(async () => {
  await pool?.close()
  pool = null
})

describe('CpuPool', () => {
  it('runs a task module off the thread, with a transferred buffer', async () => {
    pool = new CpuPool({ maxThreads: 1 })
    const bytes = new Uint8Array([1, 2, 3, 250])
    const result = await pool.runTask<{ bytes: Uint8Array }, { sum: number; length: number }>(taskUrl, { bytes }, [bytes.buffer as ArrayBuffer])
    expect(result).toEqual({ sum: 256, length: 4 })
    // Transferred, not copied: the caller's buffer is detached.
    expect(bytes.byteLength).toBe(0)
  })

  it('rejects with the task error, and refuses tasks beyond the queue bound', async () => {
    pool = new CpuPool({ maxThreads: 1, maxQueue: 2 })
    await expect(pool.runTask(taskUrl, { bytes: new Uint8Array(1), fail: 'bad input' })).rejects.toThrow('bad input')
    const big = { bytes: new Uint8Array(20_000_000) }
    const running = [pool.runTask(taskUrl, big), pool.runTask(taskUrl, big), pool.runTask(taskUrl, big)]
    const outcomes = await Promise.allSettled([...running, pool.runTask(taskUrl, big), pool.runTask(taskUrl, big)])
    const refused = outcomes.filter((outcome) => outcome.status === 'rejected')
    expect(refused.length).toBeGreaterThan(0)
    for (const outcome of refused) expect((outcome as PromiseRejectedResult).reason).toMatchObject({ code: 'PARTITA_CPU_POOL_FULL' })
  })

  it("turns a pool thread's event loop after a task, where Node runs deferred work such as native buffers' finalizers", async () => {
    pool = new CpuPool({ maxThreads: 1 })
    const channel = new BroadcastChannel('partita-cpu-pool-test-turns')
    try {
      const turned = new Promise((resolve) => (channel.onmessage = (event) => resolve((event as MessageEvent).data)))
      await pool.runTask(eventLoopTaskUrl, { channel: 'partita-cpu-pool-test-turns' })
      expect(await turned).toBe('turned')
    } finally {
      channel.close()
    }
  }, 10_000)

  it("bounds each pool thread's young generation, by default and as told", async () => {
    pool = new CpuPool({ maxThreads: 1 })
    expect(await pool.runTask(resourceLimitsTaskUrl, {})).toMatchObject({ maxYoungGenerationSizeMb: YOUNG_GENERATION_MB_DEFAULT })
    await pool.close()
    pool = new CpuPool({ maxThreads: 1, youngGenerationSizeMb: 24 })
    expect(await pool.runTask(resourceLimitsTaskUrl, {})).toMatchObject({ maxYoungGenerationSizeMb: 24 })
  })

  it('shares half the cores out between the shards, one pool thread each at least', () => {
    expect(poolThreadsPerShard(2, 2)).toBe(1)
    expect(poolThreadsPerShard(2, 3)).toBe(1)
    expect(poolThreadsPerShard(16, 16)).toBe(1)
    expect(poolThreadsPerShard(16, 4)).toBe(2)
    expect(poolThreadsPerShard(64, 1)).toBe(32)
  })
})
