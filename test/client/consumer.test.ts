import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Consumer, type EachBatchPayload } from '../../src/client/consumer.js'
import { CompressionTypes, type KafkaMessage } from '../../src/client/messages.js'
import { Producer } from '../../src/client/producer.js'
import { encodeBatch } from '../../src/records/record-batch.js'
import { fastConsumer, until } from './helpers.js'
import { MemoryCore } from './memory-core.js'

let core: MemoryCore
const consumers: Consumer[] = []

beforeEach(async () => {
  core = await MemoryCore.create()
  await core.createTopics([{ name: 'orders', numPartitions: 8, replicationFactor: 1, configs: {} }], false)
})

afterEach(async () => {
  for (const c of consumers.splice(0)) await c.disconnect()
  await core.close()
})

function consumer(groupId: string, overrides = {}): Consumer {
  const c = new Consumer(core, fastConsumer(groupId, overrides))
  consumers.push(c)
  return c
}

interface Seen {
  topic: string
  partition: number
  message: KafkaMessage
}

async function produce(n: number, start = 0, extra: { partition?: number } = {}): Promise<void> {
  const producer = new Producer(core)
  await producer.send({ topic: 'orders', messages: Array.from({ length: n }, (_, i) => ({ key: `k${(start + i) % 13}`, value: `v${start + i}`, ...extra })) })
}

function covering(assignments: Array<Array<{ topic: string; partition: number }>>): number[] {
  return assignments.flat().map((a) => a.partition).sort((a, b) => a - b)
}

describe('Consumer', () => {
  it('delivers every message from the beginning in partition order, in kafkajs shapes', async () => {
    await new Producer(core).send({ topic: 'orders', messages: [{ key: 'a', value: 'one', partition: 3, timestamp: '1700000000000', headers: { h: 'x', r: ['1', '2'] } }] })
    await produce(30)
    const seen: Seen[] = []
    const c = consumer('g1')
    await c.subscribe({ topics: ['orders'], fromBeginning: true })
    await c.run({ eachMessage: async ({ topic, partition, message }) => void seen.push({ topic, partition, message }) })
    await until(() => seen.length === 31, '31 messages')
    const first = seen.find((s) => s.message.value?.toString() === 'one')!
    expect(first.partition).toBe(3)
    expect(first.message).toMatchObject({ offset: '0', timestamp: '1700000000000', attributes: 0 })
    expect(first.message.key).toEqual(Buffer.from('a'))
    expect(first.message.headers).toEqual({ h: Buffer.from('x'), r: [Buffer.from('1'), Buffer.from('2')] })
    for (let p = 0; p < 8; p++) {
      const offsets = seen.filter((s) => s.partition === p).map((s) => Number(s.message.offset))
      expect(offsets).toEqual(offsets.map((_, i) => i))
    }
  })

  it('splits the partitions between two members, disjoint and covering, and each message is seen once', async () => {
    const seen: string[] = []
    const a = consumer('g2')
    const b = consumer('g2')
    for (const c of [a, b]) await c.subscribe({ topics: ['orders'], fromBeginning: true })
    await Promise.all([a, b].map((c) => c.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) })))
    await until(() => a.assignment().length + b.assignment().length === 8 && a.assignment().length > 0 && b.assignment().length > 0, 'a split assignment')
    expect(covering([a.assignment(), b.assignment()])).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    await produce(50)
    await until(() => seen.length >= 50, '50 messages')
    expect([...seen].sort()).toEqual(Array.from({ length: 50 }, (_, i) => `v${i}`).sort())
  })

  it('rebalances a running member when a second one joins, then takes everything back when it leaves', async () => {
    const a = consumer('g3')
    await a.subscribe({ topic: 'orders' })
    const joins: number[] = []
    a.on(a.events.GROUP_JOIN, (e) => joins.push(Object.values((e.payload as { memberAssignment: Record<string, number[]> }).memberAssignment).flat().length))
    await a.run({ eachMessage: async () => {} })
    expect(a.assignment().length).toBe(8)
    const b = consumer('g3')
    await b.subscribe({ topic: 'orders' })
    await b.run({ eachMessage: async () => {} })
    await until(() => a.assignment().length === 4 && b.assignment().length === 4, 'a 4/4 split')
    expect(covering([a.assignment(), b.assignment()])).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    await b.disconnect()
    await until(() => a.assignment().length === 8, 'a to own all 8 again')
    expect(joins).toEqual([8, 4, 8])
  })

  it('resumes a group from its committed offsets', async () => {
    await produce(20)
    const first: string[] = []
    const a = consumer('g4')
    await a.subscribe({ topics: ['orders'], fromBeginning: true })
    await a.run({ eachMessage: async ({ message }) => void first.push(message.value!.toString()) })
    await until(() => first.length === 20, '20 messages')
    await a.disconnect()
    await produce(5, 20)
    const second: string[] = []
    const b = consumer('g4')
    await b.subscribe({ topics: ['orders'], fromBeginning: true })
    await b.run({ eachMessage: async ({ message }) => void second.push(message.value!.toString()) })
    await until(() => second.length === 5, '5 new messages')
    expect(second.sort()).toEqual(['v20', 'v21', 'v22', 'v23', 'v24'])
  })

  it('starts at the end of the log without fromBeginning', async () => {
    await produce(10)
    const seen: string[] = []
    const c = consumer('g5')
    await c.subscribe({ topics: ['orders'] })
    await c.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) })
    await produce(3, 100)
    await until(() => seen.length === 3, '3 messages')
    expect(seen.sort()).toEqual(['v100', 'v101', 'v102'])
  })

  it('skips the records of a compressed batch below the committed offset, and control batches', async () => {
    const producer = new Producer(core, { compression: CompressionTypes.GZIP })
    await producer.send({ topic: 'orders', messages: Array.from({ length: 5 }, (_, i) => ({ value: `c${i}`, partition: 0 })) })
    const marker = encodeBatch({ records: [{ key: Buffer.from([0, 0, 0, 0]), value: Buffer.from([0, 0, 0, 0, 0, 0]) }], baseTimestamp: Date.now(), isControl: true })
    await core.produce([{ topic: 'orders', partition: 0, records: marker }], -1, 1000)
    await producer.send({ topic: 'orders', messages: [{ value: 'after', partition: 0 }] })
    await core.groups.commitOffsets({ groupId: 'g6', generationId: -1, memberId: '', offsets: [{ topic: 'orders', partition: 0, offset: 3 }] })
    const seen: string[] = []
    const c = consumer('g6')
    await c.subscribe({ topics: ['orders'], fromBeginning: true })
    await c.run({ eachMessage: async ({ message }) => void seen.push(`${message.offset}:${message.value}`) })
    await until(() => seen.length === 3, '3 messages')
    expect(seen).toEqual(['3:c3', '4:c4', '6:after'])
  })

  it('redelivers from the failing message after a handler error, without repeating earlier ones', async () => {
    await produce(6, 0, { partition: 1 })
    const seen: string[] = []
    let failed = false
    const c = consumer('g7')
    await c.subscribe({ topics: ['orders'], fromBeginning: true })
    await c.run({
      eachMessage: async ({ message }) => {
        if (message.offset === '3' && !failed) {
          failed = true
          throw new Error('handler failed once')
        }
        seen.push(message.offset)
      },
    })
    await until(() => seen.length === 6, '6 messages')
    expect(seen).toEqual(['0', '1', '2', '3', '4', '5'])
  })

  it('crashes after the handler keeps failing past the retry budget', async () => {
    await produce(1, 0, { partition: 0 })
    const crashes: unknown[] = []
    let calls = 0
    const c = consumer('g8')
    c.on(c.events.CRASH, (e) => crashes.push((e.payload as { error: unknown }).error))
    await c.subscribe({ topics: ['orders'], fromBeginning: true })
    await c.run({
      eachMessage: async () => {
        calls++
        throw new Error('always')
      },
    })
    await until(() => crashes.length === 1, 'a crash')
    expect((crashes[0] as Error).message).toBe('always')
    expect(calls).toBe(4)
    expect(core.coordinator.describeGroups(['g8'])[0].members).toEqual([])
  })

  it('hands eachBatch a kafkajs batch and resumes after the last resolved offset when it throws', async () => {
    await produce(5, 0, { partition: 2 })
    const batches: Array<{ first: string | null; last: string; hw: string; lag: string; n: number }> = []
    let thrown = false
    const c = consumer('g9')
    await c.subscribe({ topics: ['orders'], fromBeginning: true })
    await c.run({
      eachBatch: async ({ batch, resolveOffset }: EachBatchPayload) => {
        batches.push({ first: batch.firstOffset(), last: batch.lastOffset(), hw: batch.highWatermark, lag: batch.offsetLag(), n: batch.messages.length })
        if (!thrown) {
          resolveOffset('1')
          thrown = true
          throw new Error('stop half way')
        }
      },
    })
    await until(() => batches.length === 2, 'two batches')
    expect(batches).toEqual([
      { first: '0', last: '4', hw: '5', lag: '0', n: 5 },
      { first: '2', last: '4', hw: '5', lag: '0', n: 3 },
    ])
    await until(() => core.coordinator.fetchOffsets({ groupId: 'g9', topics: [{ topic: 'orders', partitions: [2] }] }).topics[0].partitions[0].offset === 5, 'commit of 5')
  })

  it('stops fetching a paused partition until it is resumed', async () => {
    const seen: string[] = []
    const c = consumer('g10')
    await c.subscribe({ topics: ['orders'] })
    await c.run({ eachMessage: async ({ partition, message }) => void seen.push(`${partition}:${message.value}`) })
    c.pause([{ topic: 'orders', partitions: [5] }])
    expect(c.paused()).toEqual([{ topic: 'orders', partitions: [5] }])
    await produce(1, 0, { partition: 5 })
    await produce(1, 1, { partition: 6 })
    await until(() => seen.length === 1, 'the unpaused message')
    const fetchesBefore = core.fetchCount
    await until(() => core.fetchCount >= fetchesBefore + 3, 'a few more fetches')
    expect(seen).toEqual(['6:v1'])
    c.resume([{ topic: 'orders', partitions: [5] }])
    await until(() => seen.length === 2, 'the resumed message')
    expect(seen).toEqual(['6:v1', '5:v0'])
  })

  it('seeks a partition back and replays from there', async () => {
    await produce(4, 0, { partition: 7 })
    const seen: string[] = []
    const c = consumer('g11')
    await c.subscribe({ topics: ['orders'], fromBeginning: true })
    await c.run({ eachMessage: async ({ message }) => void seen.push(message.offset) })
    await until(() => seen.length === 4, '4 messages')
    c.seek({ topic: 'orders', partition: 7, offset: '1' })
    await until(() => seen.length === 7, 'the replay')
    expect(seen).toEqual(['0', '1', '2', '3', '1', '2', '3'])
  })

  it('commits only when told with autoCommit off', async () => {
    await produce(3, 0, { partition: 4 })
    const seen: string[] = []
    const c = consumer('g12')
    await c.subscribe({ topics: ['orders'], fromBeginning: true })
    await c.run({ autoCommit: false, eachMessage: async ({ message }) => void seen.push(message.offset) })
    await until(() => seen.length === 3, '3 messages')
    const committed = (): number => core.coordinator.fetchOffsets({ groupId: 'g12', topics: [{ topic: 'orders', partitions: [4] }] }).topics[0].partitions[0].offset
    expect(committed()).toBe(-1)
    await c.commitOffsets([{ topic: 'orders', partition: 4, offset: '2' }])
    expect(committed()).toBe(2)
    await c.disconnect()
    expect(committed()).toBe(2)
  })

  it('disconnects promptly while a long-poll fetch is waiting', async () => {
    const c = consumer('g13', { maxWaitTimeInMs: 30_000 })
    await c.subscribe({ topics: ['orders'] })
    const fetches = core.fetchCount
    await c.run({ eachMessage: async () => {} })
    await until(() => core.fetchCount > fetches, 'a fetch in flight')
    const started = Date.now()
    await c.disconnect()
    expect(Date.now() - started).toBeLessThan(1_000)
    expect(core.coordinator.describeGroups(['g13'])[0].groupState).toBe('Empty')
  })

  it('can be disconnected from inside its own handler', async () => {
    await produce(5, 0, { partition: 0 })
    const seen: string[] = []
    const c = consumer('g15')
    let stopped = false
    c.on(c.events.STOP, () => (stopped = true))
    await c.subscribe({ topics: ['orders'], fromBeginning: true })
    await c.run({
      eachMessage: async ({ message }) => {
        seen.push(message.offset)
        if (message.offset === '1') await c.disconnect()
      },
    })
    await until(() => stopped, 'the stop event')
    expect(seen).toEqual(['0', '1'])
    const committed = core.coordinator.fetchOffsets({ groupId: 'g15', topics: [{ topic: 'orders', partitions: [0] }] })
    expect(committed.topics[0].partitions[0].offset).toBe(2)
    expect(core.coordinator.describeGroups(['g15'])[0].groupState).toBe('Empty')
  })

  it('commits at the autoCommitThreshold and keeps a partition\'s messages in order under concurrency', async () => {
    await produce(40)
    const seen: Array<{ partition: number; offset: number }> = []
    const c = consumer('g14')
    await c.subscribe({ topics: ['orders'], fromBeginning: true })
    await c.run({
      autoCommitThreshold: 1_000_000,
      partitionsConsumedConcurrently: 4,
      eachMessage: async ({ partition, message }) => {
        await new Promise((resolve) => setTimeout(resolve, 1))
        seen.push({ partition, offset: Number(message.offset) })
      },
    })
    await until(() => seen.length === 40, '40 messages')
    for (let p = 0; p < 8; p++) {
      const offsets = seen.filter((s) => s.partition === p).map((s) => s.offset)
      expect(offsets).toEqual(offsets.map((_, i) => i))
    }
    // Below the threshold nothing is committed until the consumer stops.
    const anyCommitted = (): boolean => core.coordinator.fetchOffsets({ groupId: 'g14' }).topics.length > 0
    expect(anyCommitted()).toBe(false)
    await c.disconnect()
    expect(anyCommitted()).toBe(true)
  })
})
