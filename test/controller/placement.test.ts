import { describe, expect, it } from 'vitest'
import { assignReplicas, shardSlot } from '../../src/controller/placement.js'

describe('replica placement', () => {
  it('puts every partition’s replicas on distinct brokers and spreads the leaders evenly', () => {
    const assignments = assignReplicas([0, 1, 2], 6, 3)
    for (const replicas of assignments) expect(new Set(replicas).size).toBe(3)
    const leaders = assignments.map((replicas) => replicas[0])
    expect(leaders.filter((id) => id === 0)).toHaveLength(2)
    expect(leaders.filter((id) => id === 1)).toHaveLength(2)
    expect(leaders.filter((id) => id === 2)).toHaveLength(2)
  })

  it('spreads one topic’s partitions across a broker’s shards, the same way every time', () => {
    const slots = Array.from({ length: 8 }, (_, p) => shardSlot('orders', p, 2))
    expect(slots.filter((s) => s === 0)).toHaveLength(4)
    expect(slots).toEqual(Array.from({ length: 8 }, (_, p) => shardSlot('orders', p, 2)))
  })
})
