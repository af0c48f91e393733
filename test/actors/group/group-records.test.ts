import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeRecord, encodeKey, encodeValue, groupPartition, type GroupRecord } from '../../../src/actors/group/group-records.js'

const str = (s: string): Buffer => Buffer.concat([Buffer.from([s.length >> 8, s.length & 0xff]), Buffer.from(s)])
const i16 = (n: number): Buffer => Buffer.from([(n >> 8) & 0xff, n & 0xff])
const i32 = (n: number): Buffer => {
  const b = Buffer.alloc(4)
  b.writeInt32BE(n)
  return b
}
const i64 = (n: number): Buffer => {
  const b = Buffer.alloc(8)
  b.writeBigInt64BE(BigInt(n))
  return b
}

describe('__consumer_offsets records', () => {
  it('writes an offset commit as Kafka does: key version 1, value version 3', () => {
    const record: GroupRecord = { type: 'offset', groupId: 'g', topic: 't', partition: 3, value: { offset: 42, leaderEpoch: 5, metadata: 'm', commitTimestampMs: 1_700_000_000_000 } }
    expect(encodeKey(record)).toEqual(Buffer.concat([i16(1), str('g'), str('t'), i32(3)]))
    expect(encodeValue(record)).toEqual(Buffer.concat([i16(3), i64(42), i32(5), str('m'), i64(1_700_000_000_000)]))
    expect(encodeValue({ ...record, value: null })).toBeNull()
  })

  it('reads offset values of versions 0, 1 and 2, which older brokers wrote', () => {
    const key = Buffer.concat([i16(0), str('g'), str('t'), i32(0)])
    const v0 = Buffer.concat([i16(0), i64(7), str('meta'), i64(99)])
    const v1 = Buffer.concat([i16(1), i64(7), str('meta'), i64(99), i64(12345)])
    const v2 = Buffer.concat([i16(2), i64(7), str('meta'), i64(99)])
    for (const value of [v0, v1, v2]) {
      expect(decodeRecord(key, value)).toEqual({ type: 'offset', groupId: 'g', topic: 't', partition: 0, value: { offset: 7, leaderEpoch: -1, metadata: 'meta', commitTimestampMs: 99 } })
    }
  })

  it('reads the flexible offset value version 4', () => {
    const key = Buffer.concat([i16(1), str('g'), str('t'), i32(1)])
    const compact = (s: string): Buffer => Buffer.concat([Buffer.from([s.length + 1]), Buffer.from(s)])
    const v4 = Buffer.concat([i16(4), i64(8), i32(2), compact('x'), i64(5), Buffer.from([0])])
    expect(decodeRecord(key, v4)).toMatchObject({ value: { offset: 8, leaderEpoch: 2, metadata: 'x', commitTimestampMs: 5 } })
  })

  it('round-trips any group metadata and offset record, tombstones included', () => {
    const text = fc.string({ maxLength: 20 })
    const member = fc.record({
      memberId: text,
      groupInstanceId: fc.option(text, { nil: null }),
      clientId: text,
      clientHost: text,
      rebalanceTimeoutMs: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      sessionTimeoutMs: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      subscription: fc.uint8Array({ maxLength: 30 }).map((a) => Buffer.from(a)),
      assignment: fc.uint8Array({ maxLength: 30 }).map((a) => Buffer.from(a)),
    })
    const group = fc.record({
      type: fc.constant('group' as const),
      groupId: text,
      value: fc.option(
        fc.record({
          protocolType: text,
          generation: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
          protocol: fc.option(text, { nil: null }),
          leader: fc.option(text, { nil: null }),
          currentStateTimestampMs: fc.integer({ min: -1, max: 2 ** 50 }),
          members: fc.array(member, { maxLength: 4 }),
        }),
        { nil: null },
      ),
    })
    const offset = fc.record({
      type: fc.constant('offset' as const),
      groupId: text,
      topic: text,
      partition: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      value: fc.option(
        fc.record({ offset: fc.integer({ min: -1, max: 2 ** 50 }), leaderEpoch: fc.integer({ min: -1, max: 2 ** 31 - 1 }), metadata: text, commitTimestampMs: fc.integer({ min: 0, max: 2 ** 50 }) }),
        { nil: null },
      ),
    })
    fc.assert(
      fc.property(fc.oneof(group, offset), (record) => {
        expect(decodeRecord(encodeKey(record), encodeValue(record))).toEqual(record)
      }),
      { seed: 7 },
    )
  })

  it("reads a group's subscriptions and assignments into bytes of their own, not into memory shared with other bytes", () => {
    const member = { memberId: 'm', groupInstanceId: null, clientId: 'c', clientHost: 'h', rebalanceTimeoutMs: 1, sessionTimeoutMs: 1, subscription: Buffer.from([1, 2, 3]), assignment: Buffer.from([4, 5]) }
    const record: GroupRecord = { type: 'group', groupId: 'g', value: { protocolType: 'consumer', generation: 1, protocol: 'range', leader: 'm', currentStateTimestampMs: 0, members: [member] } }
    // As loaded: the value is a view into a larger read buffer, reused once the load is done.
    const value = encodeValue(record)!
    const read = Buffer.alloc(64 * 1024)
    value.copy(read, 10)
    const decoded = decodeRecord(encodeKey(record), read.subarray(10, 10 + value.length))
    read.fill(0xee)
    expect(decoded).toEqual(record)
    const [loaded] = decoded?.type === 'group' ? decoded.value!.members : []
    expect(loaded.subscription.buffer.byteLength).toBe(3)
    expect(loaded.assignment.buffer.byteLength).toBe(2)
  })

  it('places a group on the partition Kafka does: the Java hash of its id, made non-negative, modulo the count', () => {
    // "test".hashCode() is 3556498 in Java; "polygenelubricants".hashCode() is Integer.MIN_VALUE,
    // which Kafka's Utils.abs maps to 0.
    expect(groupPartition('test', 50)).toBe(3556498 % 50)
    expect(groupPartition('polygenelubricants', 50)).toBe(0)
    expect(groupPartition('', 50)).toBe(0)
    // "my-group".hashCode() is -1906497762 in Java: its absolute value decides.
    expect(groupPartition('my-group', 50)).toBe(1906497762 % 50)
  })
})
