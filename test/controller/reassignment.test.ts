/**
 * Partition reassignment (KIP-455) as the controller runs it, over a scripted actor host: the
 * steps' replica sets, the completion an ISR change triggers, and a reassignment that outlives a
 * controller restart and a broker's death.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/common/clock.js'
import { ErrorCode } from '../../src/common/error-codes.js'
import { Controller } from '../../src/controller/controller.js'
import { ImagePublisher } from '../../src/controller/image-publisher.js'
import { MetadataStore, type PartitionState, type TopicState } from '../../src/controller/metadata-store.js'
import { cancelReassignment, canComplete, completeReassignment, leaderAfter, startReassignment } from '../../src/controller/reassignment.js'
import { Supervisor } from '../../src/controller/supervisor.js'
import { resolveBrokerConfig } from '../../src/metadata/broker-config.js'
import { ScriptedHost } from './scripted-host.js'

const state = (replicas: number[], isr: number[], extra: Partial<PartitionState> = {}): PartitionState => ({ partition: 0, replicas, leader: replicas[0], leaderEpoch: 3, isr, ...extra })

describe('reassignment steps', () => {
  it('starts with the union, target first, and completes to the target once it is in sync', () => {
    const started = startReassignment(state([0], [0]), [1, 2])
    expect(started).toMatchObject({ replicas: [1, 2, 0], isr: [0], addingReplicas: [1, 2], removingReplicas: [0], open: [1, 2], close: [] })
    const running = state([1, 2, 0], [0, 1], { leader: 0, addingReplicas: [1, 2], removingReplicas: [0] })
    expect(canComplete(running)).toBe(false)
    running.isr = [0, 1, 2]
    const done = completeReassignment(running)
    expect(done).toMatchObject({ replicas: [1, 2], isr: [1, 2], close: [0] })
    expect(done.addingReplicas).toBeUndefined()
    // The old leader is not in the target: the first live in-sync target replica leads.
    expect(leaderAfter(running, done, () => true)).toBe(1)
    expect(leaderAfter(running, done, (id) => id !== 1)).toBe(2)
  })

  it('replaces a running reassignment measured from the original replicas, closing replicas it no longer adds', () => {
    const running = state([1, 2, 0], [0, 1], { leader: 0, addingReplicas: [1, 2], removingReplicas: [0] })
    expect(startReassignment(running, [0, 1])).toMatchObject({ replicas: [0, 1], isr: [0, 1], addingReplicas: [1], removingReplicas: [], open: [], close: [2] })
    // A target without the only in-sync replica (an added one) would leave the partition none: refused.
    expect(() => startReassignment({ ...running, isr: [1] }, [2])).toThrow(expect.objectContaining({ errorCode: ErrorCode.REASSIGNMENT_IN_PROGRESS }))
  })

  it('cancels back to the original replicas, unclean only when none of them is in sync', () => {
    const running = state([1, 2, 0], [0, 1], { leader: 0, addingReplicas: [1, 2], removingReplicas: [0] })
    expect(cancelReassignment(running)).toEqual({ replicas: [0], isr: [0], open: [], close: [1, 2], unclean: false })
    expect(cancelReassignment({ ...running, isr: [1, 2] })).toEqual({ replicas: [0], isr: [0], open: [], close: [1, 2], unclean: true })
  })
})

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function topic(name: string, replicas: number[]): TopicState {
  return { name, topicId: `id-${name}`, configs: {}, partitions: [{ partition: 0, replicas, leader: replicas[0], leaderEpoch: 0, isr: [...replicas] }] }
}

/** A controller over a scripted host; `restart` is a new one on the same metadata directory. */
function setUp(dataDir: string, topics: TopicState[] = []) {
  const config = resolveBrokerConfig({ port: 0, brokers: 3 }, dataDir)
  const store = MetadataStore.open(join(dataDir, 'meta'))
  for (const t of topics) store.putTopic(t)
  const host = new ScriptedHost(3)
  const clock = new ManualClock()
  const warnings: string[] = []
  let supervisor: Supervisor | undefined
  const publisher = new ImagePublisher({ clusterId: store.clusterId, topic: (name) => store.topic(name), send: () => {}, liveNodes: () => supervisor?.liveBrokerIds() ?? [] }, [])
  store.onChange((changes) => changes.forEach((c) => publisher.topicChanged(c.topic, c.partitions)))
  const nodes = { startNode: async (id: number) => 19_000 + id, nodeListening: () => {}, liveBrokersChanged: () => {}, serveNode: async () => {} }
  supervisor = new Supervisor({ config, store, host, nodes, clock, logger: { warn: (m) => warnings.push(m), info: () => {} } })
  const sup = supervisor
  host.onShardDown = (shard) => sup.onShardDown(shard)
  const controller = new Controller({ config, store, supervisor, publisher, logger: { warn: (m) => warnings.push(m) } })
  const isrChange = async (isr: number[]) => {
    const p = store.topic('t')!.partitions[0]
    sup.onPartitionEvent({ event: 'isrChange', topic: 't', partition: 0, leaderEpoch: p.leaderEpoch, isr })
    await sup.isrChangesStored()
    // The completion it may start runs on the controller's queue: an empty list request waits behind it.
    await controller.handle({ op: 'listReassignments', topics: [] })
  }
  const partition = () => store.topic('t')!.partitions[0]
  return { store, host, clock, supervisor: sup, controller, warnings, isrChange, partition }
}

describe('the controller running a reassignment', () => {
  it('opens the added replicas, completes on the ISR change that brings the target in sync, and deletes the removed replica', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'partita-reassign-'))
    dirs.push(dir)
    const { host, supervisor, controller, isrChange, partition, warnings } = setUp(dir, [topic('t', [0])])
    await supervisor.start()
    const reply = await controller.handle({ op: 'alterReassignments', inputs: [{ topic: 't', partition: 0, replicas: [1, 2] }] })
    expect(reply.result).toEqual([{ topic: 't', partition: 0, errorCode: ErrorCode.NONE, errorMessage: null }])
    expect(partition()).toMatchObject({ replicas: [1, 2, 0], leader: 0, leaderEpoch: 2, isr: [0], addingReplicas: [1, 2], removingReplicas: [0] })
    expect([host.actors[1].has('t/0'), host.actors[2].has('t/0')]).toEqual([true, true])
    // The leader learns the union with the new epoch; the added replicas follow it.
    expect(host.sent.filter((s) => s.message.op === 'becomeLeader').at(-1)).toMatchObject({ shard: 0, message: { leaderEpoch: 2, replicas: [1, 2, 0] } })
    expect(host.sent.filter((s) => s.message.op === 'becomeFollower').map((s) => s.shard)).toEqual([1, 2])

    await isrChange([0, 1])
    expect(partition().addingReplicas).toEqual([1, 2])
    await isrChange([0, 1, 2])
    expect(partition()).toEqual({ partition: 0, replicas: [1, 2], leader: 1, leaderEpoch: 3, isr: [1, 2] })
    expect(host.sent.at(-1)).toMatchObject({ shard: 0, id: 't/0', message: { op: 'close', deleteData: true } })
    expect((await controller.handle({ op: 'listReassignments', topics: null })).result).toEqual([])
    expect(warnings).toEqual([])
  })

  it('keeps a running reassignment across a controller restart and completes it there once the target is in sync', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'partita-reassign-'))
    dirs.push(dir)
    const first = setUp(dir, [topic('t', [0])])
    await first.supervisor.start()
    await first.controller.handle({ op: 'alterReassignments', inputs: [{ topic: 't', partition: 0, replicas: [1, 2] }] })
    await first.isrChange([0, 1])
    first.supervisor.stop()

    const second = setUp(dir)
    await second.supervisor.start()
    await second.controller.resumeReassignments()
    // Every replica of the union is open again, and the reassignment is still listed.
    expect([0, 1, 2].map((b) => second.host.actors[b].has('t/0'))).toEqual([true, true, true])
    expect((await second.controller.handle({ op: 'listReassignments', topics: null })).result).toEqual([
      { topic: 't', partition: 0, replicas: [1, 2, 0], addingReplicas: [1, 2], removingReplicas: [0] },
    ])
    await second.isrChange([0, 1, 2])
    expect(second.partition()).toMatchObject({ replicas: [1, 2], leader: 1, isr: [1, 2] })
  })

  it('completes at start a reassignment whose target caught up just before the controller stopped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'partita-reassign-'))
    dirs.push(dir)
    const caughtUp: TopicState = { ...topic('t', [1, 2, 0]), partitions: [{ partition: 0, replicas: [1, 2, 0], leader: 0, leaderEpoch: 4, isr: [0, 1, 2], addingReplicas: [1, 2], removingReplicas: [0] }] }
    const { supervisor, controller, partition, host } = setUp(dir, [caughtUp])
    await supervisor.start()
    await controller.resumeReassignments()
    expect(partition()).toMatchObject({ replicas: [1, 2], leader: 1, isr: [1, 2] })
    expect(host.sent.at(-1)).toMatchObject({ shard: 0, id: 't/0', message: { op: 'close', deleteData: true } })
  })

  it('reopens an added replica whose broker died mid-reassignment, and completes once it is back in sync', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'partita-reassign-'))
    dirs.push(dir)
    const { host, clock, supervisor, controller, isrChange, partition } = setUp(dir, [topic('t', [0])])
    await supervisor.start()
    await controller.handle({ op: 'alterReassignments', inputs: [{ topic: 't', partition: 0, replicas: [1, 2] }] })
    await isrChange([0, 1])
    const back = new Promise((resolve) => supervisor.onRecovered(resolve))
    host.killShard(2)
    // The failover runs to its end (it only awaits the scripted host); then the restart is due.
    await new Promise((resolve) => setImmediate(resolve))
    expect(host.actors[2].has('t/0')).toBe(false)
    clock.advance(100)
    await back
    expect(host.actors[2].has('t/0')).toBe(true)
    expect(partition()).toMatchObject({ replicas: [1, 2, 0], addingReplicas: [1, 2] })
    await isrChange([0, 1, 2])
    expect(partition()).toMatchObject({ replicas: [1, 2], leader: 1, isr: [1, 2] })
  })
})
