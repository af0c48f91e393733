/**
 * The supervisor's elections and restarts over a scripted actor host: every spawn and role change
 * is recorded, shards die when told, and time moves only on a ManualClock, so each step of a
 * failure and a recovery can be looked at.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Supervisor, type RecoveryReport } from '../../src/controller/supervisor.js'
import { ScriptedHost } from './scripted-host.js'
import { resolveBrokerConfig, type BrokerOptions } from '../../src/metadata/broker-config.js'
import { MetadataStore, type TopicState } from '../../src/controller/metadata-store.js'
import { ManualClock } from '../../src/common/clock.js'
import { partitionActorId, type PartitionRequest } from '../../src/actors/partition-messages.js'
import { LOG_DIR_CLEAN_SHUTDOWN_FILE } from '../../src/storage/clean-shutdown.js'

/** The first restart of a dead broker is immediate; later ones back off. */
const RESTART_FIRST_DELAY_MS = 0

/** Lets the failover the kill started run to its end (it only awaits the scripted host). */
const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function setUp(options: BrokerOptions, topics: TopicState[], startNode = async (brokerId: number) => 19_000 + brokerId) {
  const dataDir = mkdtempSync(join(tmpdir(), 'partita-supervisor-'))
  dirs.push(dataDir)
  const config = resolveBrokerConfig({ port: 0, brokers: 1, ...options }, dataDir)
  const store = MetadataStore.open(join(dataDir, 'meta'))
  for (const topic of topics) store.putTopic(topic)
  const host = new ScriptedHost(config.brokers)
  const clock = new ManualClock()
  const warnings: string[] = []
  const nodes = {
    startNode,
    nodeListening: () => {},
    liveBrokersChanged: () => {},
    // Recorded in the same list as the replicas' requests, so their order can be checked.
    serveNode: async (brokerId: number) => void host.sent.push({ shard: brokerId, id: 'broker', message: { op: 'serve' } as unknown as PartitionRequest }),
  }
  const supervisor = new Supervisor({ config, store, host, nodes, clock, logger: { warn: (m) => warnings.push(m), info: () => {} } })
  host.onShardDown = (shard) => supervisor.onShardDown(shard)
  const recovered = (): Promise<RecoveryReport> => new Promise((resolve) => supervisor.onRecovered(resolve))
  // A supervisor over the same data directory and store, as after a restart of the process.
  const again = (): Supervisor => new Supervisor({ config, store, host, nodes, clock, logger: { warn: (m) => warnings.push(m), info: () => {} } })
  return { config, store, host, clock, supervisor, warnings, recovered, again, reopenStore: () => MetadataStore.open(join(dataDir, 'meta')) }
}

function topic(name: string, partitions: number, replicas: number[], configs: Record<string, string> = {}): TopicState {
  return {
    name,
    topicId: `id-${name}`,
    configs,
    partitions: Array.from({ length: partitions }, (_, partition) => ({ partition, replicas, leader: replicas[0], leaderEpoch: 0, isr: [...replicas] })),
  }
}

describe('supervisor', () => {
  it('writes one clean-shutdown marker per broker directory naming only the replicas whose close finished, and the next start trusts those alone', async () => {
    const { config, host, supervisor, again } = setUp({ brokers: 2 }, [topic('orders', 3, [0, 1])])
    await supervisor.start()
    // A close that fails (its flush hit EIO) leaves orders-1 on broker 1 to recovery.
    host.failRequest = (shard, id, message) => message.op === 'close' && shard === 1 && id === partitionActorId('orders', 1)
    await supervisor.closeAll()
    const markers = [0, 1].map((brokerId) => join(config.dataDir, `broker-${brokerId}`, LOG_DIR_CLEAN_SHUTDOWN_FILE))
    expect(markers.map((path) => existsSync(path))).toEqual([true, true])

    host.failRequest = () => false
    for (const actors of host.actors) actors.clear()
    await again().start()
    const clean = (shard: number, partition: number): boolean | undefined => host.inits.get(`${shard}/${partitionActorId('orders', partition)}`)?.cleanShutdown
    expect([0, 1, 2].map((p) => clean(0, p))).toEqual([true, true, true])
    expect([0, 1, 2].map((p) => clean(1, p))).toEqual([true, false, true])
    // Consumed by the start: a crash from now on recovers every log from its recovery point.
    expect(markers.map((path) => existsSync(path))).toEqual([false, false])
  })

  it('keeps a dead single broker in its partitions ISR, and leads them again with a new epoch when it restarts', async () => {
    const { store, host, clock, supervisor, recovered, reopenStore } = setUp({ brokers: 1 }, [topic('orders', 3, [0])])
    await supervisor.start()
    expect(store.topic('orders')!.partitions.map((p) => [p.leader, p.leaderEpoch])).toEqual([[0, 1], [0, 1], [0, 1]])

    const back = recovered()
    host.killShard(0)
    await settled()
    for (const p of store.topic('orders')!.partitions) expect({ leader: p.leader, isr: p.isr }).toEqual({ leader: -1, isr: [0] })
    // What a process restart would read: the ISR kept its last member, so it can be elected.
    for (const p of reopenStore().topic('orders')!.partitions) expect(p.isr).toEqual([0])

    clock.advance(100)
    const report = await back
    expect(report).toMatchObject({ brokerId: 0, replicas: 3, ledAgain: 3 })
    for (const p of store.topic('orders')!.partitions) expect({ leader: p.leader, epoch: p.leaderEpoch, isr: p.isr }).toEqual({ leader: 0, epoch: 2, isr: [0] })
    expect(host.lastLeaderEpoch('orders/2')).toBe(2)
  })

  it('opens and leads a topic created while its only broker was restarting, before the broker was live again', async () => {
    let gate: Promise<void> = Promise.resolve()
    const { store, host, clock, supervisor, recovered } = setUp({ brokers: 1 }, [topic('orders', 1, [0])], async (brokerId) => {
      await gate
      return 19_000 + brokerId
    })
    await supervisor.start()
    let release!: () => void
    gate = new Promise((resolve) => (release = resolve))
    const back = recovered()
    host.killShard(0)
    await settled()
    clock.advance(RESTART_FIRST_DELAY_MS)
    await settled()
    // The shard is back but its node is still starting: the broker is not live, so a topic
    // created now opens no replica and stays leaderless...
    const fresh = topic('fresh', 1, [0])
    store.putTopic(fresh)
    await supervisor.openPartitions(store.topic('fresh')!, 0)
    expect(store.topic('fresh')!.partitions[0].leader).toBe(-1)
    // ...until the restart, which must count it among the broker's replicas.
    release()
    await back
    expect(host.actors[0].has('fresh/0')).toBe(true)
    expect(store.topic('fresh')!.partitions[0]).toMatchObject({ leader: 0, isr: [0] })
  })

  it('lets a broker answer requests only once its partitions are elected, at start and after a restart', async () => {
    const { host, clock, supervisor, recovered } = setUp({ brokers: 1 }, [topic('orders', 2, [0])])
    const order = (): string[] => host.sent.map((s) => (s.message.op === 'becomeLeader' ? `lead ${s.id}` : s.message.op))
    await supervisor.start()
    expect(order()).toEqual(['lead orders/0', 'lead orders/1', 'serve'])
    host.sent.length = 0
    const back = recovered()
    host.killShard(0)
    await settled()
    clock.advance(RESTART_FIRST_DELAY_MS)
    await back
    expect(order()).toEqual(['lead orders/0', 'lead orders/1', 'serve'])
  })

  it('elects the last in-sync replica of a leaderless partition when the process starts again', async () => {
    const leaderless = topic('orders', 2, [0])
    for (const p of leaderless.partitions) Object.assign(p, { leader: -1, leaderEpoch: 4, isr: [0] })
    const { store, supervisor } = setUp({ brokers: 1 }, [leaderless])
    await supervisor.start()
    for (const p of store.topic('orders')!.partitions) expect([p.leader, p.leaderEpoch]).toEqual([0, 5])
  })

  it('fails a leader over to a live in-sync follower and drops the dead broker from the ISR', async () => {
    const { store, host, supervisor } = setUp({ brokers: 3 }, [topic('events', 1, [0, 1, 2])])
    await supervisor.start()
    host.killShard(0)
    await settled()
    expect(store.topic('events')!.partitions[0]).toMatchObject({ leader: 1, isr: [1, 2], leaderEpoch: 2 })
    expect(host.sent.some((s) => s.shard === 2 && s.message.op === 'becomeFollower' && s.message.leaderId === 1)).toBe(true)
  })

  it('stores the ISR changes its leaders report in one turn with one write, and each of them survives a restart', async () => {
    const { store, host, supervisor, reopenStore } = setUp({ brokers: 3 }, [topic('wide', 500, [0, 1, 2])])
    await supervisor.start()
    const writes: number[] = []
    const save = store.save.bind(store)
    store.save = (changes) => {
      writes.push((changes ?? []).reduce((sum, change) => sum + (change.partitions?.length ?? 0), 0))
      save(changes)
    }
    // A broker dies: every leader drops it from its ISR, and each reports on its own.
    for (const state of store.topic('wide')!.partitions) {
      supervisor.onPartitionEvent({ event: 'isrChange', topic: 'wide', partition: state.partition, leaderEpoch: state.leaderEpoch, isr: [0, 1] })
    }
    await supervisor.isrChangesStored()
    expect(writes).toEqual([500])
    expect(reopenStore().topic('wide')!.partitions.every((p) => p.isr.join() === '0,1')).toBe(true)
    // Each leader hears its smaller ISR is stored: only then does it stop counting the dropped follower.
    await settled()
    const told = host.sent.filter((s) => s.message.op === 'isrStored')
    expect(told).toHaveLength(500)
    expect(told[0]).toMatchObject({ shard: 0, id: partitionActorId('wide', 0), message: { op: 'isrStored', leaderEpoch: 1, isr: [0, 1] } })
  })

  it('waits for the last in-sync replica rather than electing an out-of-sync one, unless unclean election is enabled', async () => {
    const clean = topic('clean', 1, [0, 1])
    const unclean = topic('unclean', 1, [0, 1], { 'unclean.leader.election.enable': 'true' })
    for (const t of [clean, unclean]) t.partitions[0].isr = [0]
    const { store, host, supervisor, warnings } = setUp({ brokers: 2 }, [clean, unclean])
    await supervisor.start()
    host.killShard(0)
    await settled()
    expect(store.topic('clean')!.partitions[0]).toMatchObject({ leader: -1, isr: [0] })
    expect(store.topic('unclean')!.partitions[0]).toMatchObject({ leader: 1, isr: [1] })
    expect(warnings.some((w) => w.includes('unclean leader election: unclean-0'))).toBe(true)
  })

  it('brings back every partition but one whose replica cannot be opened, which stays offline with a logged reason', async () => {
    const { store, host, clock, supervisor, recovered, warnings } = setUp({ brokers: 1 }, [topic('orders', 3, [0])])
    await supervisor.start()
    const back = recovered()
    host.killShard(0)
    host.failSpawn = (_shard, id) => id === 'orders/1'
    await settled()
    clock.advance(100)
    expect(await back).toMatchObject({ replicas: 3, ledAgain: 2 })
    expect(store.topic('orders')!.partitions.map((p) => p.leader)).toEqual([0, -1, 0])
    expect(store.topic('orders')!.partitions[1].isr).toEqual([0])
    expect(warnings.some((w) => w.includes('orders-1') && w.includes('EMFILE'))).toBe(true)
  })

  it('refuses to open a new topic whose replicas cannot all be opened', async () => {
    const { host, supervisor } = setUp({ brokers: 1 }, [])
    await supervisor.start()
    host.failSpawn = (_shard, id) => id === 'big/7'
    await expect(supervisor.openPartitions(topic('big', 10, [0]), 0)).rejects.toMatchObject({ code: 'PARTITA_RESOURCE_LIMIT' })
  })
})
