/**
 * The transaction coordinator fenced by a partition: once a partition refuses its marker with
 * TRANSACTION_COORDINATOR_FENCED (a newer coordinator epoch wrote there), it writes no more state
 * and sends clients away, so its stale view of the transaction never completes it.
 */
import { describe, expect, it } from 'vitest'
import { type TxnMarkersOutcome, type TxnMarkerWrite, TxnCoordinator } from '../../src/actors/txn-coordinator.js'
import type { TxnRecord } from '../../src/actors/txn/txn-records.js'
import { ManualClock } from '../../src/common/clock.js'
import { ErrorCode } from '../../src/common/error-codes.js'

function coordinator(answer: (write: TxnMarkerWrite) => TxnMarkersOutcome) {
  const log: TxnRecord[] = []
  const writes: TxnMarkerWrite[] = []
  const c = new TxnCoordinator({
    clock: new ManualClock(),
    log: { append: async (records) => void log.push(...records) },
    allocateProducerId: async () => 42,
    writeMarkers: async (write) => (writes.push(write), answer(write)),
    coordinatorEpoch: 3,
    maxTimeoutMs: 60_000,
    idExpirationMs: 3_600_000,
    abortCheckIntervalMs: 10_000,
  })
  c.load([])
  return { c, log, writes }
}

describe('transaction coordinator fencing', () => {
  it('stamps its epoch in markers, and when a partition fences it neither completes the transaction nor writes state again', async () => {
    const { c, log, writes } = coordinator((write) => ({ retry: [], fenced: write.partitions.some((p) => p.partition === 1) }))
    const { producerId, producerEpoch } = await c.initProducerId('tx', 10_000, -1, -1)
    expect(await c.addPartitions('tx', producerId, producerEpoch, [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }])).toBe(ErrorCode.NONE)
    const answer = await c.endTxn('tx', producerId, producerEpoch, true)
    expect(answer).toBe(ErrorCode.NOT_COORDINATOR)
    expect(writes.map((w) => w.coordinatorEpoch)).toEqual([3])
    // The PrepareCommit was written before the markers; no CompleteCommit after the fencing.
    expect(log.map((r) => r.value?.state)).toEqual(['Empty', 'Ongoing', 'PrepareCommit'])
    expect(c.fenced).toBe(true)
    expect(await c.endTxn('tx', producerId, producerEpoch, true)).toBe(ErrorCode.NOT_COORDINATOR)
    expect(await c.addPartitions('tx', producerId, producerEpoch, [{ topic: 't', partition: 2 }])).toBe(ErrorCode.NOT_COORDINATOR)
    expect(log).toHaveLength(3)
  })
})
