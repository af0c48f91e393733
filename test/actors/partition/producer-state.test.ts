import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { ErrorCode } from '../../../src/common/error-codes.js'
import {
  BATCHES_RETAINED,
  ProducerState,
  inSequence,
  lastSequenceOf,
  type ProducerBatchHeader,
} from '../../../src/actors/partition/producer-state.js'
import {
  decodeProducerSnapshot,
  encodeProducerSnapshot,
} from '../../../src/actors/partition/producer-state-snapshot.js'

function batch(
  producerId: number,
  producerEpoch: number,
  baseSequence: number,
  records = 1,
  baseOffset = 0,
  maxTimestamp = 1000,
): ProducerBatchHeader {
  return { producerId, producerEpoch, baseSequence, lastOffsetDelta: records - 1, baseOffset, maxTimestamp }
}

describe('producer state', () => {
  it('accepts and never tracks non-idempotent batches', () => {
    const state = new ProducerState()
    expect(state.check([batch(-1, -1, -1)])).toEqual({ kind: 'append' })
    state.update(batch(-1, -1, -1))
    expect(state.size).toBe(0)
  })

  it('accepts an unknown producer at any sequence, as Kafka does since KIP-360', () => {
    const state = new ProducerState()
    expect(state.check([batch(7, 0, 0)])).toEqual({ kind: 'append' })
    expect(state.check([batch(7, 0, 42)])).toEqual({ kind: 'append' })
  })

  it('accepts the next sequence in order and refuses a gap with OUT_OF_ORDER_SEQUENCE_NUMBER', () => {
    const state = new ProducerState()
    state.update(batch(7, 0, 0, 3, 0))
    expect(state.check([batch(7, 0, 3)])).toEqual({ kind: 'append' })
    const gap = state.check([batch(7, 0, 4)])
    expect(gap).toMatchObject({ kind: 'error', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER })
  })

  it('answers a duplicate with the original offsets', () => {
    const state = new ProducerState()
    state.update(batch(7, 0, 0, 2, 10, 500))
    state.update(batch(7, 0, 2, 2, 12, 600))
    const duplicate = state.check([batch(7, 0, 0, 2)])
    expect(duplicate).toEqual({
      kind: 'duplicate',
      batch: { firstSeq: 0, lastSeq: 1, firstOffset: 10, lastOffset: 11, timestampMs: 500 },
    })
  })

  it('remembers only the last five batches for duplicate detection', () => {
    const state = new ProducerState()
    for (let i = 0; i < BATCHES_RETAINED + 1; i++) state.update(batch(7, 0, i, 1, i))
    expect(state.get(7)!.batches).toHaveLength(BATCHES_RETAINED)
    expect(state.check([batch(7, 0, 1)])).toMatchObject({ kind: 'duplicate' })
    // Sequence 0 fell out of the window: no longer a duplicate, and not in order either.
    expect(state.check([batch(7, 0, 0)])).toMatchObject({ errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER })
  })

  it('refuses a stale epoch with INVALID_PRODUCER_EPOCH', () => {
    const state = new ProducerState()
    state.update(batch(7, 3, 0))
    expect(state.check([batch(7, 2, 1)])).toMatchObject({ kind: 'error', errorCode: ErrorCode.INVALID_PRODUCER_EPOCH })
  })

  it('requires a new epoch to start at sequence 0 and resets the state on it', () => {
    const state = new ProducerState()
    state.update(batch(7, 0, 0, 5, 0))
    expect(state.check([batch(7, 1, 5)])).toMatchObject({ errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER })
    expect(state.check([batch(7, 1, 0)])).toEqual({ kind: 'append' })
    state.update(batch(7, 1, 0, 1, 5))
    expect(state.get(7)).toMatchObject({ epoch: 1, batches: [{ firstSeq: 0, lastSeq: 0, firstOffset: 5 }] })
    // The old epoch's batch (seq 0..4) is no longer a duplicate under the new epoch.
    expect(state.check([batch(7, 0, 0, 5)])).toMatchObject({ errorCode: ErrorCode.INVALID_PRODUCER_EPOCH })
  })

  it('chains several batches of one request before any is appended', () => {
    const state = new ProducerState()
    state.update(batch(7, 0, 0, 2))
    expect(state.check([batch(7, 0, 2, 2), batch(7, 0, 4, 1)])).toEqual({ kind: 'append' })
    expect(state.check([batch(7, 0, 2, 2), batch(7, 0, 5, 1)])).toMatchObject({
      errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    })
    // Checking changes nothing: only update() does.
    expect(state.get(7)!.batches).toHaveLength(1)
  })

  it('wraps sequences past int32 max to 0', () => {
    expect(lastSequenceOf(2147483647, 0)).toBe(2147483647)
    expect(lastSequenceOf(2147483646, 2)).toBe(0)
    expect(inSequence(2147483647, 0)).toBe(true)
    const state = new ProducerState()
    state.update(batch(7, 0, 2147483646, 3))
    expect(state.check([batch(7, 0, 1)])).toEqual({ kind: 'append' })
  })

  it('drops producers idle longer than the expiration', () => {
    const state = new ProducerState()
    state.update(batch(1, 0, 0, 1, 0, 1_000))
    state.update(batch(2, 0, 0, 1, 1, 5_000))
    expect(state.removeExpired(10_000, 6_000)).toBe(1)
    expect(state.get(1)).toBeUndefined()
    expect(state.get(2)).toBeDefined()
  })

  it('round-trips through a snapshot and rejects a corrupted one', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            producerId: fc.integer({ min: 0, max: 2 ** 40 }),
            producerEpoch: fc.integer({ min: 0, max: 32767 }),
            baseSequence: fc.integer({ min: 0, max: 2147483647 }),
            lastOffsetDelta: fc.integer({ min: 0, max: 100 }),
            baseOffset: fc.integer({ min: 0, max: 2 ** 45 }),
            maxTimestamp: fc.integer({ min: 0, max: 2 ** 42 }),
          }),
          { maxLength: 30 },
        ),
        fc.integer({ min: 0, max: 2 ** 45 }),
        (batches, coveredOffset) => {
          const state = new ProducerState()
          for (const b of batches) state.update(b)
          const bytes = encodeProducerSnapshot(state, coveredOffset)
          const decoded = decodeProducerSnapshot(bytes)
          expect(decoded).not.toBeNull()
          expect(decoded!.coveredOffset).toBe(coveredOffset)
          expect(decoded!.entries).toEqual([...state.entries()])
          const flipped = Buffer.from(bytes)
          flipped[flipped.length - 1] ^= 1
          expect(decodeProducerSnapshot(flipped)).toBeNull()
          expect(decodeProducerSnapshot(bytes.subarray(0, bytes.length - 1))).toBeNull()
        },
      ),
      { seed: 42, numRuns: 200 },
    )
  })
})
