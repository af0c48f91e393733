/**
 * Tests of bench/protocol/plan.ts: how the load generator spreads its connections and partitions
 * over the listeners that lead them.
 */
import { describe, expect, it } from 'vitest'
import { singlePartitionRequests, singleRoute, wideRequests, type Route } from '../../bench/protocol/plan.js'

const twoListeners: Route[] = [
  { host: '127.0.0.1', port: 1, partitions: [0, 2, 4, 6, 8, 10] },
  { host: '127.0.0.1', port: 2, partitions: [1, 3, 5] },
]

describe('load plans', () => {
  it('shares wide-request connections among listeners by the partitions they lead, each partition on exactly one', () => {
    const plans = wideRequests(twoListeners, 3)
    expect(plans.map((plan) => [plan.port, plan.partitions])).toEqual([
      [1, [0, 4, 8]],
      [1, [2, 6, 10]],
      [2, [1, 3, 5]],
    ])
    expect(wideRequests(singleRoute('127.0.0.1:9', 64), 4).map((plan) => plan.partitions.length)).toEqual([16, 16, 16, 16])
  })

  it('gives every listener at least one connection, and no connection without partitions', () => {
    const plans = wideRequests([{ host: 'h', port: 1, partitions: [0] }, { host: 'h', port: 2, partitions: [1, 2, 3, 4, 5, 6, 7] }], 1)
    expect(plans.map((plan) => [plan.port, plan.partitions])).toEqual([
      [1, [0]],
      [2, [1, 2, 3, 4, 5, 6, 7]],
    ])
    expect(wideRequests([{ host: 'h', port: 1, partitions: [0, 1] }], 8)).toHaveLength(2)
  })

  it('sends each small request to one partition, on the listener that leads it, taking partitions in turn', () => {
    const plans = singlePartitionRequests(twoListeners, 11)
    expect(plans.map((plan) => [plan.port, ...plan.partitions])).toEqual([
      [1, 0], [1, 2], [1, 4], [1, 6], [1, 8], [1, 10], [2, 1], [2, 3], [2, 5], [1, 0], [1, 2],
    ])
  })
})
