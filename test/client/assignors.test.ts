import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
  rangeAssign,
  roundRobinAssign,
  toTopicPartitions,
  type AssignorMember,
  type GroupAssignment,
} from '../../src/client/assignors.js'

function owners(assignment: GroupAssignment): Map<string, string[]> {
  const byPartition = new Map<string, string[]>()
  for (const [memberId, topics] of Object.entries(assignment)) {
    for (const [topic, partitions] of Object.entries(topics)) {
      for (const p of partitions) byPartition.set(`${topic}-${p}`, [...(byPartition.get(`${topic}-${p}`) ?? []), memberId])
    }
  }
  return byPartition
}

describe('rangeAssign', () => {
  it('gives each member a contiguous run per topic, the first ones taking the remainder (Java javadoc example)', () => {
    const members = [
      { memberId: 'C1', topics: ['t0', 't1'] },
      { memberId: 'C0', topics: ['t0', 't1'] },
    ]
    expect(rangeAssign(members, { t0: 3, t1: 3 })).toEqual({ C0: { t0: [0, 1], t1: [0, 1] }, C1: { t0: [2], t1: [2] } })
  })

  it('splits a topic only among its subscribers and orders static members first by instance id', () => {
    const members: AssignorMember[] = [
      { memberId: 'a', topics: ['x'] },
      { memberId: 'b', groupInstanceId: 'z', topics: ['x', 'y'] },
      { memberId: 'c', groupInstanceId: 'y', topics: ['x'] },
    ]
    expect(rangeAssign(members, { x: 4, y: 2 })).toEqual({ c: { x: [0, 1] }, b: { x: [2], y: [0, 1] }, a: { x: [3] } })
  })
})

describe('roundRobinAssign', () => {
  it('deals sorted partitions to sorted members (Java javadoc example, same subscriptions)', () => {
    const members = [
      { memberId: 'C0', topics: ['t0', 't1'] },
      { memberId: 'C1', topics: ['t1', 't0'] },
    ]
    expect(roundRobinAssign(members, { t0: 3, t1: 3 })).toEqual({ C0: { t0: [0, 2], t1: [1] }, C1: { t0: [1], t1: [0, 2] } })
  })

  it('skips members not subscribed to a partition topic (Java javadoc example, different subscriptions)', () => {
    const members = [
      { memberId: 'C0', topics: ['t0'] },
      { memberId: 'C1', topics: ['t0', 't1'] },
      { memberId: 'C2', topics: ['t0', 't1', 't2'] },
    ]
    expect(roundRobinAssign(members, { t0: 1, t1: 2, t2: 3 })).toEqual({ C0: { t0: [0] }, C1: { t1: [0] }, C2: { t1: [1], t2: [0, 1, 2] } })
  })
})

describe('both assignors', () => {
  it('assign every partition to exactly one subscribed member, balanced within one', () => {
    const input = fc.record({
      memberCount: fc.integer({ min: 1, max: 8 }),
      counts: fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), fc.integer({ min: 0, max: 20 }), { minKeys: 1 }),
    })
    fc.assert(
      fc.property(input, ({ memberCount, counts }) => {
        const topics = Object.keys(counts)
        const members = Array.from({ length: memberCount }, (_, i) => ({ memberId: `m${i}`, topics }))
        const total = Object.values(counts).reduce((sum, n) => sum + n, 0)
        for (const assign of [rangeAssign, roundRobinAssign]) {
          const assignment = assign(members, counts)
          const byPartition = owners(assignment)
          expect(byPartition.size).toBe(total)
          for (const holders of byPartition.values()) expect(holders).toHaveLength(1)
          const loads = members.map((m) => Object.values(assignment[m.memberId]).reduce((sum, ps) => sum + ps.length, 0))
          if (assign === roundRobinAssign) expect(Math.max(...loads) - Math.min(...loads)).toBeLessThanOrEqual(1)
        }
      }),
      { seed: 42, numRuns: 200 },
    )
  })
})

describe('consumer protocol encodings', () => {
  it('writes a v0 subscription byte for byte as kafkajs does (empty user data, not null)', () => {
    const bytes = encodeSubscription({ topics: ['ab'] })
    expect(bytes.toString('hex')).toBe('0000' + '00000001' + '0002' + '6162' + '00000000')
  })

  it('writes a v0 assignment byte for byte (topic, int32 partitions, user data)', () => {
    const bytes = encodeAssignment({ assignedPartitions: [{ topic: 't', partitions: [0, 2] }] })
    expect(bytes.toString('hex')).toBe('0000' + '00000001' + '0001' + '74' + '00000002' + '00000000' + '00000002' + '00000000')
  })

  it('round-trips subscriptions v0-1 and assignments v0-1', () => {
    const topicPartitions = fc.array(fc.record({ topic: fc.string({ maxLength: 8 }), partitions: fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 5 }) }), { maxLength: 4 })
    const userData = fc.option(fc.uint8Array({ maxLength: 16 }).map((a) => Buffer.from(a)), { nil: null })
    fc.assert(
      fc.property(fc.constantFrom(0, 1), fc.array(fc.string({ maxLength: 10 }), { maxLength: 5 }), userData, topicPartitions, (version, topics, data, owned) => {
        const subscription = { version, topics, userData: data, ownedPartitions: version === 1 ? owned : [] }
        expect(decodeSubscription(encodeSubscription(subscription))).toEqual(subscription)
        const assignment = { version, assignedPartitions: owned, userData: data }
        expect(decodeAssignment(encodeAssignment(assignment))).toEqual(assignment)
      }),
      { seed: 42, numRuns: 200 },
    )
  })

  it('reads a v1 subscription that leaves out the owned partitions, and an empty assignment', () => {
    const v1WithoutOwned = Buffer.concat([Buffer.from('0001', 'hex'), encodeSubscription({ topics: ['x'] }).subarray(2)])
    expect(decodeSubscription(v1WithoutOwned)).toEqual({ version: 1, topics: ['x'], userData: Buffer.alloc(0), ownedPartitions: [] })
    expect(decodeAssignment(Buffer.alloc(0)).assignedPartitions).toEqual([])
  })

  it('rejects truncated data instead of reading past it', () => {
    const bytes = encodeSubscription({ topics: ['abc'] })
    expect(() => decodeSubscription(bytes.subarray(0, bytes.length - 6))).toThrow(RangeError)
  })

  it('lists a member share sorted for the assignment encoding', () => {
    expect(toTopicPartitions({ b: [2, 1], a: [0] })).toEqual([
      { topic: 'a', partitions: [0] },
      { topic: 'b', partitions: [1, 2] },
    ])
  })
})
