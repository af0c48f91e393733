/**
 * The runtime seen as the supervisor's actor host: request timeouts a timer holds, and partition
 * actor ids that a closed or left-over replica gives up.
 */
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { timeoutFor, type RuntimeActorHost } from '../../src/controller/actor-host.js'
import { PARTITION_ACTOR_KIND, type OpenPartition } from '../../src/actors/partition-messages.js'
import { DEFAULT_LOG_CONFIG } from '../../src/storage/log-config.js'
import { TIMER_DELAY_MS_MAX } from '../../src/common/timers.js'
import { partitionHostPerTest } from '../actors/partition-host.js'

describe('the runtime timeout of a partition request from the main thread', () => {
  it('adds the slack to a fetch or produce wait and stays within what a timer holds at the ends of int32', () => {
    expect(timeoutFor({ op: 'fetch', maxWaitMs: 500 })).toBe(30_500)
    expect(timeoutFor({ op: 'produce', timeoutMs: 1_000 })).toBe(31_000)
    for (const waitMs of [-(2 ** 31), -1, 0]) {
      expect(timeoutFor({ op: 'fetch', maxWaitMs: waitMs })).toBe(30_000)
      expect(timeoutFor({ op: 'produce', timeoutMs: waitMs })).toBe(30_000)
    }
    expect(timeoutFor({ op: 'fetch', maxWaitMs: 2 ** 31 - 1 })).toBe(TIMER_DELAY_MS_MAX)
    expect(timeoutFor({ op: 'produce', timeoutMs: 2 ** 31 - 1 })).toBe(TIMER_DELAY_MS_MAX)
    expect(timeoutFor({ op: 'listOffsets', timestamp: -1 })).toBe(30_000)
  })
})

const startPartitionHost = partitionHostPerTest()

async function startHost(): Promise<{ host: RuntimeActorHost; open: (topic: string) => OpenPartition }> {
  const { host, dir: base } = await startPartitionHost()
  const open = (topic: string): OpenPartition => ({ topic, partition: 0, dir: join(base, `${topic}-0`), config: { ...DEFAULT_LOG_CONFIG }, brokerId: 0, housekeepingIntervalMs: 60_000, openFilesMax: 64 })
  return { host, open }
}

describe('partition actor ids on the actor host', () => {
  it('frees a partition actor id once its replica is closed, so a topic of the same name can be created again', async () => {
    const { host, open } = await startHost()
    await host.spawn(0, PARTITION_ACTOR_KIND, 'closing/0', open('closing'))
    await host.request(0, 'closing/0', { op: 'close', deleteData: true })
    await expect(host.request(0, 'closing/0', { op: 'stats' })).rejects.toMatchObject({ code: 'PARTITA_NO_SUCH_ACTOR' })
    await host.spawn(0, PARTITION_ACTOR_KIND, 'closing/0', open('closing'))
    expect((await host.request(0, 'closing/0', { op: 'stats' })).message).toMatchObject({ logEndOffset: 0 })
  })

  it('replaces a left-over partition actor when the same id is spawned again', async () => {
    const { host, open } = await startHost()
    await host.spawn(0, PARTITION_ACTOR_KIND, 'twice/0', open('twice'))
    await host.spawn(0, PARTITION_ACTOR_KIND, 'twice/0', open('twice'))
    expect((await host.request(0, 'twice/0', { op: 'stats' })).message).toMatchObject({ logEndOffset: 0 })
  })
})
