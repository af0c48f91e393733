/**
 * kafka-python 2.0.2 (Debian's python) against Partita over TCP with kafka-python's defaults:
 * api_version detection, metadata, keyed produce on murmur2 partitions read back by a group,
 * offsets_for_times, and two members splitting partitions then rebalancing when one leaves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultPartition } from '../../src/client/partitioner.js'
import { createTopicOn, kcat, runPython, startTestBroker, tempDataDir, type Broker } from './harness.js'

const SCRIPT = 'kafka_python_client.py'

let data: ReturnType<typeof tempDataDir>
let broker: Broker

beforeAll(async () => {
  data = tempDataDir()
  broker = await startTestBroker(data.dir)
})

afterAll(async () => {
  await broker?.close()
  data?.remove()
})

interface Record {
  partition: number
  offset: number
  key: string | null
  value: string | null
}

describe('kafka-python', () => {
  it('detects an api version and reads metadata', async () => {
    await createTopicOn(broker, 'kp-meta', 3)
    const meta = await runPython<{ api_version: number[]; topics: string[]; partitions: number[]; brokers: unknown[] }>(SCRIPT, [
      'metadata',
      broker.bootstrapServers,
      'kp-meta',
    ])
    // kafka-python infers the broker version from the highest API versions we declare (2.4 today:
    // Produce v8 without DescribeAcls); anything below 2.0 would make it use old request versions.
    expect(meta.api_version[0]).toBeGreaterThanOrEqual(2)
    expect(meta.topics).toContain('kp-meta')
    expect(meta.partitions).toEqual([0, 1, 2])
    expect((meta.brokers as Array<{ id: number }>).sort((a, b) => a.id - b.id)).toEqual(broker.ports.map((port, id) => ({ id, host: '127.0.0.1', port })))
  })

  it('produces keyed records on murmur2 partitions and a group reads them back in order per key', async () => {
    const topic = 'kp-keyed'
    await createTopicOn(broker, topic, 4)
    const produced = await runPython<{ records: Array<{ key: string; partition: number; offset: number }> }>(SCRIPT, [
      'produce',
      broker.bootstrapServers,
      topic,
      '24',
      '6',
    ])
    for (const r of produced.records) expect(r.partition).toBe(defaultPartition(r.key, 4))
    const consumed = await runPython<{ records: Record[] }>(SCRIPT, ['consume', broker.bootstrapServers, topic, 'kp-group', '24'])
    expect(consumed.records).toHaveLength(24)
    for (let k = 0; k < 6; k++) {
      const key = `key-${k}`
      const values = consumed.records.filter((r) => r.key === key).map((r) => r.value)
      expect(values).toEqual([0, 1, 2, 3].map((round) => `${key}#${k + round * 6}`))
    }
    // The group committed the end of every partition it read.
    const committed = await broker.admin.fetchOffsets({ groupId: 'kp-group', topics: [topic] })
    const ends = new Map<number, number>()
    for (const r of produced.records) ends.set(r.partition, Math.max(ends.get(r.partition) ?? 0, r.offset + 1))
    expect(committed[0].partitions.filter((p) => ends.has(p.partition)).map((p) => [p.partition, Number(p.offset)])).toEqual(
      [...ends.entries()].sort((a, b) => a[0] - b[0]),
    )
    const out = await kcat(broker.bootstrapServers, ['-C', '-t', topic, '-o', 'beginning', '-e', '-f', '%k\n'])
    expect(out.trim().split('\n')).toHaveLength(24)
  })

  it('finds offsets by timestamp', async () => {
    const topic = 'kp-times'
    await createTopicOn(broker, topic, 1)
    const base = Date.now() - 60_000
    const producer = broker.producer()
    for (let i = 0; i < 4; i++) {
      await producer.send({ topic, messages: [{ value: `t${i}`, timestamp: String(base + i * 1_000) }] })
    }
    await producer.disconnect()
    const answer = await runPython<{ found: Array<{ offset: number; timestamp: number } | null>; beginning: number; end: number }>(
      SCRIPT,
      ['offsets-for-times', broker.bootstrapServers, topic, String(base + 1_000), String(base + 1_500), String(base + 10_000)],
    )
    expect(answer.found).toEqual([{ offset: 1, timestamp: base + 1_000 }, { offset: 2, timestamp: base + 2_000 }, null])
    expect([answer.beginning, answer.end]).toEqual([0, 4])
  })

  it('splits partitions between two members and gives them all to the one left', async () => {
    const topic = 'kp-group'
    await createTopicOn(broker, topic, 4)
    const result = await runPython<{ split: number[][]; first: number[][]; after: number[]; second: number[]; duplicates: number }>(
      SCRIPT,
      ['group-split', broker.bootstrapServers, topic, 'kp-split-group'],
      60_000,
    )
    expect([...result.split[0], ...result.split[1]].sort()).toEqual([0, 1, 2, 3])
    expect(result.first).toEqual(result.split)
    expect(result.after).toEqual([0, 1, 2, 3])
    expect(result.second).toEqual([0, 1, 2, 3])
    expect(result.duplicates).toBe(0)
  })
})
