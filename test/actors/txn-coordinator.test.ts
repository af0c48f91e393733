/**
 * The transaction coordinator: fenced by a partition (once a partition refuses its marker with
 * TRANSACTION_COORDINATOR_FENCED, a newer coordinator epoch wrote there, it writes no more state
 * and sends clients away, so its stale view of the transaction never completes it), and ending a
 * transaction as Kafka does: EndTxn answered once the Prepare* record is durable, the markers and
 * the Complete* record after, with the client's next operation waiting behind them.
 */
import { describe, expect, it } from 'vitest'
import { COMPLETE_HOLD_MS, COMPLETION_WAIT_MS, type TxnMarkersOutcome, type TxnMarkerWrite, TxnCoordinator } from '../../src/actors/txn-coordinator.js'
import type { TxnRecord } from '../../src/actors/txn/txn-records.js'
import { ManualClock } from '../../src/common/clock.js'
import { ErrorCode } from '../../src/common/error-codes.js'

function coordinator(answer: (write: TxnMarkerWrite) => TxnMarkersOutcome | Promise<TxnMarkersOutcome>, afterAnswers?: (run: () => void) => void) {
  const log: TxnRecord[] = []
  /** The states of each append, one array per call. */
  const appends: Array<Array<string | undefined>> = []
  const writes: TxnMarkerWrite[] = []
  const clock = new ManualClock()
  const c = new TxnCoordinator({
    clock,
    log: {
      append: async (records) => {
        appends.push(states(records))
        log.push(...records)
      },
    },
    allocateProducerId: async () => 42,
    writeMarkers: async (write) => (writes.push(write), answer(write)),
    coordinatorEpoch: 3,
    maxTimeoutMs: 60_000,
    idExpirationMs: 3_600_000,
    abortCheckIntervalMs: 10_000,
    afterAnswers,
  })
  c.load([])
  return { c, log, appends, writes, clock }
}

/** A marker write that stays pending until the test lets it through. */
function heldMarkers() {
  const releases: Array<(outcome: TxnMarkersOutcome) => void> = []
  const answer = (): Promise<TxnMarkersOutcome> => new Promise((resolve) => releases.push(resolve))
  const release = (outcome: TxnMarkersOutcome = { retry: [], fenced: false }): void => releases.shift()!(outcome)
  return { answer, release, pending: () => releases.length }
}

/** Whether `promise` has settled once every queued microtask and timer-free step has run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false
  void promise.then(
    () => (done = true),
    () => (done = true),
  )
  for (let i = 0; i < 50; i++) await Promise.resolve()
  return done
}

const states = (log: TxnRecord[]): Array<string | undefined> => log.map((r) => r.value?.state)

/** A coordinator whose markers wait for the test, with transaction 'tx' on t-0 just ended (committed or aborted). */
async function endedBehindHeldMarkers(commit: boolean) {
  const markers = heldMarkers()
  const built = coordinator(markers.answer)
  const { producerId, producerEpoch } = await built.c.initProducerId('tx', 10_000, -1, -1)
  await built.c.addPartitions('tx', producerId, producerEpoch, [{ topic: 't', partition: 0 }])
  expect(await built.c.endTxn('tx', producerId, producerEpoch, commit)).toBe(ErrorCode.NONE)
  return { ...built, markers, producerId, producerEpoch }
}

describe('transaction coordinator fencing', () => {
  it('stamps its epoch in markers, and when a partition fences it answers the ended transaction but neither completes it nor writes state again', async () => {
    const { c, log, writes } = coordinator((write) => ({ retry: [], fenced: write.partitions.some((p) => p.partition === 1) }))
    const { producerId, producerEpoch } = await c.initProducerId('tx', 10_000, -1, -1)
    expect(await c.addPartitions('tx', producerId, producerEpoch, [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }])).toBe(ErrorCode.NONE)
    // The PrepareCommit is durable: the decision stands, and the newer coordinator finishes it.
    expect(await c.endTxn('tx', producerId, producerEpoch, true)).toBe(ErrorCode.NONE)
    // Waits behind the markers, which found the coordinator fenced.
    expect(await c.endTxn('tx', producerId, producerEpoch, true)).toBe(ErrorCode.NOT_COORDINATOR)
    expect(writes.map((w) => w.coordinatorEpoch)).toEqual([3])
    // The PrepareCommit was written before the markers; no CompleteCommit after the fencing.
    expect(states(log)).toEqual(['Empty', 'Ongoing', 'PrepareCommit'])
    expect(c.fenced).toBe(true)
    expect(await c.addPartitions('tx', producerId, producerEpoch, [{ topic: 't', partition: 2 }])).toBe(ErrorCode.NOT_COORDINATOR)
    expect(log).toHaveLength(3)
  })

  it('fences a request on an older connection than its producer id and epoch last used, and starts afresh under a new epoch', async () => {
    const { c } = coordinator(() => ({ retry: [], fenced: false }))
    const t0 = [{ topic: 't', partition: 0 }]
    const first = await c.initProducerId('tx', 10_000, -1, -1)
    expect(await c.addPartitions('tx', first.producerId, first.producerEpoch, t0, 5)).toBe(ErrorCode.NONE)
    expect(await c.endTxn('tx', first.producerId, first.producerEpoch, true, 7)).toBe(ErrorCode.NONE)
    // Connection 5 was given up for 7: nothing on it counts any more, the broker's own calls do.
    expect(await c.addPartitions('tx', first.producerId, first.producerEpoch, t0, 5)).toBe(ErrorCode.PRODUCER_FENCED)
    expect(await c.addPartitions('tx', first.producerId, first.producerEpoch, t0)).toBe(ErrorCode.NONE)
    expect(await c.endTxn('tx', first.producerId, first.producerEpoch, false, 6)).toBe(ErrorCode.PRODUCER_FENCED)
    expect(c.describe('tx')).toMatchObject({ state: 'Ongoing' })
    // A new producer of the id (a new epoch) owns whichever connection it came on.
    const second = await c.initProducerId('tx', 10_000, -1, -1)
    expect(second.producerEpoch).toBeGreaterThan(first.producerEpoch)
    expect(await c.addPartitions('tx', second.producerId, second.producerEpoch, t0, 2)).toBe(ErrorCode.NONE)
    expect(await c.endTxn('tx', second.producerId, second.producerEpoch, true, 2)).toBe(ErrorCode.NONE)
  })
})

describe('ending a transaction', () => {
  it('answers EndTxn once the PrepareCommit is written, before the markers, and the next AddPartitionsToTxn waits for them instead of answering CONCURRENT_TRANSACTIONS', async () => {
    const markers = heldMarkers()
    const { c, log, writes } = coordinator(markers.answer)
    const { producerId, producerEpoch } = await c.initProducerId('tx', 10_000, -1, -1)
    expect(await c.addPartitions('tx', producerId, producerEpoch, [{ topic: 't', partition: 0 }])).toBe(ErrorCode.NONE)
    const ended = c.endTxn('tx', producerId, producerEpoch, true)
    expect(await settled(ended)).toBe(true)
    expect(await ended).toBe(ErrorCode.NONE)
    expect(markers.pending()).toBe(1)
    expect(states(log)).toEqual(['Empty', 'Ongoing', 'PrepareCommit'])
    const next = c.addPartitions('tx', producerId, producerEpoch, [{ topic: 't', partition: 1 }])
    expect(await settled(next)).toBe(false)
    markers.release()
    expect(await next).toBe(ErrorCode.NONE)
    expect(writes.map((w) => [w.commit, w.partitions])).toEqual([[true, [{ topic: 't', partition: 0 }]]])
    // The CompleteCommit goes to the log after the markers and before the next transaction's state.
    expect(states(log)).toEqual(['Empty', 'Ongoing', 'PrepareCommit', 'CompleteCommit', 'Ongoing'])
    expect(c.describe('tx').partitions).toEqual([{ topic: 't', partition: 1 }])
  })

  it('writes the CompleteCommit in one append with the state of the operation that waited behind the markers, ahead of it', async () => {
    const { c, appends, markers, producerId, producerEpoch } = await endedBehindHeldMarkers(true)
    const next = c.addPartitions('tx', producerId, producerEpoch, [{ topic: 't', partition: 1 }])
    markers.release()
    expect(await next).toBe(ErrorCode.NONE)
    expect(appends).toEqual([['Empty'], ['Ongoing'], ['PrepareCommit'], ['CompleteCommit', 'Ongoing']])
  })

  it('holds the CompleteCommit for the next operation that comes within COMPLETE_HOLD_MS of the markers, and appends it alone after that', async () => {
    const { c, appends, clock, markers, producerId, producerEpoch } = await endedBehindHeldMarkers(true)
    markers.release()
    await settled(Promise.resolve())
    expect(c.describe('tx').state).toBe('CompleteCommit')
    clock.advance(COMPLETE_HOLD_MS - 1)
    expect(await c.addPartitions('tx', producerId, producerEpoch, [{ topic: 't', partition: 1 }])).toBe(ErrorCode.NONE)
    expect(appends).toEqual([['Empty'], ['Ongoing'], ['PrepareCommit'], ['CompleteCommit', 'Ongoing']])

    expect(await c.endTxn('tx', producerId, producerEpoch, false)).toBe(ErrorCode.NONE)
    markers.release()
    await settled(Promise.resolve())
    clock.advance(COMPLETE_HOLD_MS - 1)
    expect(appends.slice(4)).toEqual([['PrepareAbort']])
    clock.advance(1)
    expect(appends.slice(4)).toEqual([['PrepareAbort'], ['CompleteAbort']])
    // Its timer is gone with it: the next state is appended alone.
    expect(await c.addPartitions('tx', producerId, producerEpoch, [{ topic: 't', partition: 1 }])).toBe(ErrorCode.NONE)
    expect(appends.slice(4)).toEqual([['PrepareAbort'], ['CompleteAbort'], ['Ongoing']])
  })

  it('drops a held Complete* at close, leaving the Prepare* last for the next load to finish', async () => {
    const { c, appends, clock, markers, producerId, producerEpoch } = await endedBehindHeldMarkers(true)
    markers.release()
    await settled(Promise.resolve())
    c.close()
    clock.advance(COMPLETE_HOLD_MS)
    expect(appends).toEqual([['Empty'], ['Ongoing'], ['PrepareCommit']])
  })

  it('appends the CompleteCommit after a waiting operation that writes nothing (a retried EndTxn) or gives up waiting', async () => {
    const { c, appends, clock, markers, producerId, producerEpoch } = await endedBehindHeldMarkers(true)
    const retried = c.endTxn('tx', producerId, producerEpoch, true)
    markers.release()
    expect(await retried).toBe(ErrorCode.NONE)
    await settled(Promise.resolve())
    expect(appends).toEqual([['Empty'], ['Ongoing'], ['PrepareCommit'], ['CompleteCommit']])

    await c.addPartitions('tx', producerId, producerEpoch, [{ topic: 't', partition: 0 }])
    expect(await c.endTxn('tx', producerId, producerEpoch, false)).toBe(ErrorCode.NONE)
    const late = c.addPartitions('tx', producerId, producerEpoch, [{ topic: 't', partition: 1 }])
    clock.advance(COMPLETION_WAIT_MS)
    expect(await late).toBe(ErrorCode.CONCURRENT_TRANSACTIONS)
    markers.release()
    await settled(Promise.resolve())
    expect(appends.slice(4)).toEqual([['Ongoing'], ['PrepareAbort'], ['CompleteAbort']])
    expect(c.describe('tx').state).toBe('CompleteAbort')
  })

  it('answers EndTxn before it starts the markers, which wait for afterAnswers', async () => {
    const deferred: Array<() => void> = []
    const { c, writes, log } = coordinator(() => ({ retry: [], fenced: false }), (run) => deferred.push(run))
    const { producerId, producerEpoch } = await c.initProducerId('tx', 10_000, -1, -1)
    await c.addPartitions('tx', producerId, producerEpoch, [{ topic: 't', partition: 0 }])
    expect(await c.endTxn('tx', producerId, producerEpoch, true)).toBe(ErrorCode.NONE)
    expect(writes).toHaveLength(0)
    expect(deferred).toHaveLength(1)
    deferred.shift()!()
    const next = c.addPartitions('tx', producerId, producerEpoch, [{ topic: 't', partition: 1 }])
    expect(await next).toBe(ErrorCode.NONE)
    expect(writes).toHaveLength(1)
    expect(states(log)).toEqual(['Empty', 'Ongoing', 'PrepareCommit', 'CompleteCommit', 'Ongoing'])
  })

  it('answers CONCURRENT_TRANSACTIONS to an operation still waiting behind the markers after COMPLETION_WAIT_MS, and never runs it', async () => {
    const { c, log, clock, markers, producerId, producerEpoch } = await endedBehindHeldMarkers(false)
    const next = c.addPartitions('tx', producerId, producerEpoch, [{ topic: 't', partition: 1 }])
    clock.advance(COMPLETION_WAIT_MS - 1)
    expect(await settled(next)).toBe(false)
    clock.advance(1)
    expect(await next).toBe(ErrorCode.CONCURRENT_TRANSACTIONS)
    markers.release()
    // The retry is the one that starts the next transaction.
    expect(await c.addPartitions('tx', producerId, producerEpoch, [{ topic: 't', partition: 1 }])).toBe(ErrorCode.NONE)
    expect(states(log)).toEqual(['Empty', 'Ongoing', 'PrepareAbort', 'CompleteAbort', 'Ongoing'])
  })

  it('writes the markers of a transaction whose markers failed at its end on the next timeout check, so the next transaction can start', async () => {
    let failing = true
    const { c, log, writes, clock } = coordinator((write) => ({ retry: failing ? write.partitions : [], fenced: false }))
    const { producerId, producerEpoch } = await c.initProducerId('tx', 60_000, -1, -1)
    await c.addPartitions('tx', producerId, producerEpoch, [{ topic: 't', partition: 0 }])
    expect(await c.endTxn('tx', producerId, producerEpoch, true)).toBe(ErrorCode.NONE)
    // Every attempt fails (100 ms apart, 300 of them); the next operation gives up waiting meanwhile.
    const next = c.addPartitions('tx', producerId, producerEpoch, [{ topic: 't', partition: 1 }])
    for (let i = 0; i < 400 && writes.length < 300; i++) {
      clock.advance(100)
      await settled(Promise.resolve())
    }
    await settled(Promise.resolve())
    expect(writes).toHaveLength(300)
    expect(await next).toBe(ErrorCode.CONCURRENT_TRANSACTIONS)
    expect(c.describe('tx').state).toBe('PrepareCommit')
    expect(await c.addPartitions('tx', producerId, producerEpoch, [{ topic: 't', partition: 1 }])).toBe(ErrorCode.CONCURRENT_TRANSACTIONS)
    failing = false
    const attempts = writes.length
    await settled(Promise.resolve())
    clock.advance(10_000)
    for (let i = 0; i < 5 && c.describe('tx').state !== 'CompleteCommit'; i++) await settled(Promise.resolve())
    expect(writes.length).toBe(attempts + 1)
    expect(c.describe('tx').state).toBe('CompleteCommit')
    expect(await c.addPartitions('tx', producerId, producerEpoch, [{ topic: 't', partition: 1 }])).toBe(ErrorCode.NONE)
    expect(states(log)).toEqual(['Empty', 'Ongoing', 'PrepareCommit', 'CompleteCommit', 'Ongoing'])
  })
})

describe('verifying a transactional write (KIP-890 part 1)', () => {
  it("answers in Kafka's order: producer id, epoch, a transaction being ended, then whether the partition is in it", async () => {
    const markers = heldMarkers()
    const { c } = coordinator(markers.answer)
    const t0 = { topic: 't', partition: 0 }
    const t1 = { topic: 't', partition: 1 }
    expect(c.verify('unknown', 1, 0, t0)).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
    const { producerId, producerEpoch } = await c.initProducerId('tx', 10_000, -1, -1)
    // Empty: nothing is in a transaction yet.
    expect(c.verify('tx', producerId, producerEpoch, t0)).toBe(ErrorCode.INVALID_TXN_STATE)
    await c.addPartitions('tx', producerId, producerEpoch, [t0])
    expect(c.verify('tx', producerId, producerEpoch, t0)).toBe(ErrorCode.NONE)
    expect(c.verify('tx', producerId, producerEpoch, t1)).toBe(ErrorCode.INVALID_TXN_STATE)
    expect(c.verify('tx', producerId + 1, producerEpoch, t0)).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
    expect(c.verify('tx', producerId, producerEpoch + 1, t0)).toBe(ErrorCode.PRODUCER_FENCED)
    expect(await c.endTxn('tx', producerId, producerEpoch, true)).toBe(ErrorCode.NONE)
    // Its markers are being written.
    expect(c.verify('tx', producerId, producerEpoch, t0)).toBe(ErrorCode.CONCURRENT_TRANSACTIONS)
    markers.release()
    await c.addPartitions('tx', producerId, producerEpoch, [t1])
    // The next transaction holds t-1 only.
    expect(c.verify('tx', producerId, producerEpoch, t0)).toBe(ErrorCode.INVALID_TXN_STATE)
    expect(c.verify('tx', producerId, producerEpoch, t1)).toBe(ErrorCode.NONE)
  })
})
