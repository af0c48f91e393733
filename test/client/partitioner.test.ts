import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import {
  Partitioner,
  RoundRobinPartitioner,
  StickyPartitioner,
  defaultPartition,
  murmur2,
  toPositive,
} from '../../src/client/partitioner.js'

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8')

describe('murmur2', () => {
  // Kafka's UtilsTest.testMurmur2 vectors (clients/src/test/.../utils/UtilsTest.java).
  const kafkaUtilsTest: Array<[string, number]> = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ]
  // librdkafka's rdmurmur2.c unit-test vectors, there as unsigned hex.
  const librdkafka: Array<[string, number]> = [
    ['kafka', 0xd067cf64 | 0],
    ['giberish123456789', 0x8f552b0c | 0],
    ['1234', 0x9fc97b14 | 0],
    ['234', 0xe7c009ca | 0],
    ['34', 0x873930da | 0],
    ['4', 0x5a4b5ca1 | 0],
    ['PreAmbleWillBeRemoved,ThePrePartThatIs', 0x78424f1c],
    ['reAmbleWillBeRemoved,ThePrePartThatIs', 0x4a62b377],
    ['eAmbleWillBeRemoved,ThePrePartThatIs', 0xe0e4e09e | 0],
    ['AmbleWillBeRemoved,ThePrePartThatIs', 0x62b8b43f],
    ['', 0x106e08d9],
  ]
  // kafkajs's defaultJava murmur2.spec.js, generated there with the Java client.
  const kafkajsJava: Array<[string, number]> = [
    ['0', 971027396],
    ['1', -1993445489],
    ['128', -326012175],
    ['2187', -1508407203],
    ['16384', -325739742],
    ['78125', -1654490814],
    ['279936', 1462227128],
    ['823543', -2014198330],
    ['2097152', 607668903],
    ['4782969', -1182699775],
    ['10000000', -1830336757],
    ['100:48069', 1009543857],
  ]

  it.each(kafkaUtilsTest)('hashes %j as Kafka UtilsTest says', (key, expected) => {
    expect(murmur2(utf8(key))).toBe(expected)
  })

  it.each(librdkafka)('hashes %j as librdkafka says', (key, expected) => {
    expect(murmur2(utf8(key))).toBe(expected)
  })

  it.each(kafkajsJava)('hashes %j as the Java client did for kafkajs', (key, expected) => {
    expect(murmur2(utf8(key))).toBe(expected)
  })

  it('always returns a signed 32-bit integer', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const h = murmur2(bytes)
        return Number.isInteger(h) && h >= -0x80000000 && h <= 0x7fffffff
      }),
      { seed: 42, numRuns: 200 },
    )
  })
})

describe('defaultPartition', () => {
  it('clears the sign bit rather than taking the absolute value', () => {
    expect(toPositive(-973932308)).toBe(1173551340)
    expect(toPositive(-2147483648)).toBe(0)
    expect(toPositive(479470107)).toBe(479470107)
  })

  it('maps keys to the partitions the Java client picks', () => {
    // toPositive(murmur2(key)) % n, from the verified hashes above.
    expect(defaultPartition('21', 3)).toBe(1173551340 % 3)
    expect(defaultPartition('21', 3)).toBe(0)
    expect(defaultPartition('foobar', 10)).toBe(6)
    expect(defaultPartition('1', 3)).toBe(0)
    expect(defaultPartition('kafka', 7)).toBe(3)
    expect(defaultPartition('abc', 5)).toBe(2)
    expect(defaultPartition('', 12)).toBe(0x106e08d9 % 12)
  })

  it('treats a string key as its UTF-8 bytes', () => {
    expect(defaultPartition('ключ', 17)).toBe(defaultPartition(utf8('ключ'), 17))
  })

  it('rejects a partition count that is not a positive integer', () => {
    expect(() => defaultPartition('a', 0)).toThrow(RangeError)
    expect(() => defaultPartition('a', 1.5)).toThrow(RangeError)
  })

  it('always lands inside the partition range', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.integer({ min: 1, max: 1000 }), (key, n) => {
        const p = defaultPartition(key, n)
        return Number.isInteger(p) && p >= 0 && p < n
      }),
      { seed: 7, numRuns: 200 },
    )
  })
})

/** A scripted random source: returns the queued draws in order. */
function scripted(draws: number[]): (bound: number) => number {
  return (bound) => {
    const next = draws.shift()
    if (next === undefined) throw new Error('no scripted draw left')
    expect(next).toBeLessThan(bound)
    return next
  }
}

describe('StickyPartitioner', () => {
  it('keeps every record of a batch on one partition until the batch is sent', () => {
    const sticky = new StickyPartitioner(scripted([2, 0]))
    expect([1, 2, 3, 4].map(() => sticky.partition('t', 5))).toEqual([2, 2, 2, 2])
    // After the batch is sent the next draw is among the other four: 2 + 1 + 0 = 3.
    expect(sticky.onNewBatch('t', 5)).toBe(3)
    expect(sticky.partition('t', 5)).toBe(3)
  })

  it('always moves to a different partition on a new batch', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 50 }), fc.array(fc.nat(), { minLength: 1, maxLength: 20 }), (n, seeds) => {
        const draws = seeds.map((s) => s % n)
        let i = 0
        const sticky = new StickyPartitioner((bound) => draws[i++ % draws.length] % bound)
        let previous = sticky.partition('t', n)
        for (let k = 0; k < 10; k++) {
          const next = sticky.onNewBatch('t', n)
          if (next === previous || next < 0 || next >= n) return false
          previous = next
        }
        return true
      }),
      { seed: 42, numRuns: 100 },
    )
  })

  it('sticks per topic', () => {
    const sticky = new StickyPartitioner(scripted([1, 4]))
    expect(sticky.partition('a', 6)).toBe(1)
    expect(sticky.partition('b', 6)).toBe(4)
    expect(sticky.partition('a', 6)).toBe(1)
  })

  it('chooses again when the topic shrank below the sticky partition', () => {
    const sticky = new StickyPartitioner(scripted([7, 1]))
    expect(sticky.partition('t', 8)).toBe(7)
    expect(sticky.partition('t', 4)).toBe(1)
  })

  it('stays on partition 0 of a one-partition topic', () => {
    const sticky = new StickyPartitioner(scripted([]))
    expect(sticky.partition('t', 1)).toBe(0)
    expect(sticky.onNewBatch('t', 1)).toBe(0)
  })
})

describe('RoundRobinPartitioner', () => {
  it('cycles through the partitions, per topic', () => {
    const rr = new RoundRobinPartitioner()
    expect([0, 1, 2, 3, 4, 5, 6].map(() => rr.partition('a', 3))).toEqual([0, 1, 2, 0, 1, 2, 0])
    expect(rr.partition('b', 3)).toBe(0)
  })
})

describe('Partitioner', () => {
  const args = (key: string | null, partitionCount = 4) => ({
    topic: 't',
    key: key === null ? null : utf8(key),
    value: utf8('v'),
    partitionCount,
  })

  it('sends keyed records by murmur2 whatever the unkeyed strategy', () => {
    expect(new Partitioner('default').partition(args('foobar', 10))).toBe(6)
    expect(new Partitioner('round-robin').partition(args('foobar', 10))).toBe(6)
  })

  it('sticks unkeyed records by default and moves on a new batch', () => {
    const p = new Partitioner('default', scripted([3, 1]))
    expect(p.partition(args(null))).toBe(3)
    expect(p.partition(args(null))).toBe(3)
    p.onNewBatch('t', 4)
    expect(p.partition(args(null))).toBe(1)
  })

  it('round-robins unkeyed records when asked', () => {
    const p = new Partitioner('round-robin')
    expect([1, 2, 3, 4, 5].map(() => p.partition(args(null)))).toEqual([0, 1, 2, 3, 0])
  })

  it('lets a custom function choose, and checks its answer', () => {
    const seen: unknown[] = []
    const p = new Partitioner((a) => {
      seen.push(a)
      return a.partitionCount - 1
    })
    expect(p.partition(args('k'))).toBe(3)
    expect(seen).toEqual([args('k')])
    const bad = new Partitioner(() => 4)
    expect(() => bad.partition(args('k'))).toThrow(RangeError)
  })
})
