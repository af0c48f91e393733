/**
 * The console's rate history: samples of what the brokers' per-topic counters (the /metrics ones)
 * added between reads, bounded, robust to a broker restarting or missing a read, and averaged
 * over the last minute for the rates shown beside the chart.
 */
import { describe, expect, it } from 'vitest'
import type { NodeTraffic } from '../../src/broker/node-metrics.js'
import type { AdminSource } from '../../src/admin/cluster-snapshot.js'
import type { BrokerNodeMessage } from '../../src/broker/broker-node.js'
import { TrafficHistory, startTrafficSampler } from '../../src/admin/traffic-history.js'

function node(nodeId: number, topics: Record<string, [recordsIn: number, recordsOut: number]>): NodeTraffic {
  return {
    nodeId,
    topics: Object.entries(topics).map(([topic, [recordsIn, recordsOut]]) => ({ topic, recordsIn, bytesIn: recordsIn * 100, recordsOut, bytesOut: recordsOut * 100 })),
  }
}

describe('the traffic history', () => {
  it('keeps what the brokers added between reads, summed over brokers, from the second read on', () => {
    const history = new TrafficHistory()
    history.record(0, [node(0, { a: [10, 0] }), node(1, { b: [5, 5] })])
    expect(history.samples()).toEqual([])
    history.record(5_000, [node(0, { a: [60, 20] }), node(1, { b: [5, 30] })])
    expect(history.samples()).toEqual([{ atMs: 5_000, intervalMs: 5_000, recordsIn: 50, bytesIn: 5_000, recordsOut: 45, bytesOut: 4_500 }])
    expect(history.rates()).toEqual({ recordsInPerSec: 10, bytesInPerSec: 1_000, recordsOutPerSec: 9, bytesOutPerSec: 900 })
    expect(Object.fromEntries(history.topicRates())).toEqual({
      a: { recordsInPerSec: 10, bytesInPerSec: 1_000, recordsOutPerSec: 4, bytesOutPerSec: 400 },
      b: { recordsInPerSec: 0, bytesInPerSec: 0, recordsOutPerSec: 5, bytesOutPerSec: 500 },
    })
  })

  it("counts a restarted broker's counters from 0 rather than as negative traffic", () => {
    const history = new TrafficHistory()
    history.record(0, [node(0, { a: [1_000, 0] })])
    history.record(5_000, [node(0, { a: [7, 0] })])
    expect(history.samples()[0].recordsIn).toBe(7)
  })

  it("leaves out a broker that did not answer a read, and shows what it added when it next answers", () => {
    const history = new TrafficHistory()
    history.record(0, [node(0, { a: [0, 0] }), node(1, { a: [0, 0] })])
    history.record(5_000, [node(0, { a: [10, 0] })])
    history.record(10_000, [node(0, { a: [10, 0] }), node(1, { a: [40, 0] })])
    expect(history.samples().map((s) => s.recordsIn)).toEqual([10, 40])
  })

  it('takes a broker first seen after the first read as started since, and ignores a read where none answered', () => {
    const history = new TrafficHistory()
    history.record(0, [node(0, { a: [0, 0] })])
    history.record(5_000, [])
    history.record(10_000, [node(0, { a: [0, 0] }), node(1, { a: [3, 0] })])
    expect(history.samples()).toEqual([{ atMs: 10_000, intervalMs: 10_000, recordsIn: 3, bytesIn: 300, recordsOut: 0, bytesOut: 0 }])
  })

  it('keeps at most samplesMax samples and averages the rates over the last minute only', () => {
    const history = new TrafficHistory(4, 10_000)
    let produced = 0
    for (let i = 0; i <= 6; i++) {
      history.record(i * 5_000, [node(0, { a: [produced, 0] })])
      // 5 records per read interval, then 50 in the last two.
      produced += i < 4 ? 5 : 50
    }
    expect(history.samples().map((s) => s.atMs)).toEqual([15_000, 20_000, 25_000, 30_000])
    expect(history.rates().recordsInPerSec).toBe(10)
    expect(history.topicRates().get('a')?.recordsInPerSec).toBe(10)
  })

  it('drops a topic from the rates once it has had no traffic for the window', () => {
    const history = new TrafficHistory(10, 10_000)
    history.record(0, [node(0, { a: [0, 0] })])
    history.record(5_000, [node(0, { a: [5, 0] })])
    expect([...history.topicRates().keys()]).toEqual(['a'])
    for (let t = 10_000; t <= 20_000; t += 5_000) history.record(t, [node(0, { a: [5, 0] })])
    expect([...history.topicRates().keys()]).toEqual([])
  })
})

describe('the traffic sampler', () => {
  it("asks every live broker for its counters and leaves out one that fails", async () => {
    let nowMs = 0
    const counts = [0, 0]
    const asked: Array<[number, BrokerNodeMessage]> = []
    const source = {
      liveBrokerIds: () => [0, 1],
      nowMs: () => nowMs,
      askNode: async (brokerId: number, message: BrokerNodeMessage) => {
        asked.push([brokerId, message])
        if (brokerId === 1) throw new Error('broker 1 is restarting')
        return node(brokerId, { a: [counts[brokerId], 0] })
      },
    } as unknown as AdminSource
    const sampler = startTrafficSampler(source, 60_000)
    try {
      await sampler.sample()
      counts[0] = 30
      nowMs = 3_000
      await sampler.sample()
      expect(asked).toEqual([
        [0, { op: 'traffic' }],
        [1, { op: 'traffic' }],
        [0, { op: 'traffic' }],
        [1, { op: 'traffic' }],
      ])
      expect(sampler.history.samples()).toEqual([{ atMs: 3_000, intervalMs: 3_000, recordsIn: 30, bytesIn: 3_000, recordsOut: 0, bytesOut: 0 }])
    } finally {
      sampler.stop()
    }
  })
})
