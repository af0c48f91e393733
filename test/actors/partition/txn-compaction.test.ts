/**
 * Compaction of a transactional partition (Kafka's LogCleaner rules): aborted data goes, a marker
 * goes delete.retention.ms after no data of its transaction is left, and nothing at or past the
 * last stable offset (an open transaction) is cleaned. Checked through the reads consumers make.
 */
import * as fs from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { PartitionReplica } from '../../../src/actors/partition/partition-replica.js'
import { ManualClock } from '../../../src/common/clock.js'
import { ErrorCode } from '../../../src/common/error-codes.js'
import { decodeTxnMarker } from '../../../src/records/control-batch.js'
import { decodeRecords, encodeBatch, isControlBatch, iterateBatches, readBatchHeader } from '../../../src/records/record-batch.js'
import { InlineCompactor } from '../../../src/storage/compaction.js'
import { config, removeDir, tempDir } from './replica-harness.js'

const P1 = 1000
const P2 = 2000
const DELETE_RETENTION_MS = 60_000
const dirs: string[] = []

afterEach(() => {
  for (const dir of dirs.splice(0)) removeDir(dir)
})

async function openLeader(clock: ManualClock): Promise<PartitionReplica> {
  const dir = tempDir()
  dirs.push(dir)
  const replica = await PartitionReplica.open({
    topic: 't',
    partition: 0,
    dir,
    // One batch per segment: every batch but the last is sealed, so compaction may take it.
    config: config({ cleanupPolicy: 'compact', segmentBytes: 100, deleteRetentionMs: DELETE_RETENTION_MS, minCompactionLagMs: 0 }),
    clock,
    brokerId: 0,
    logOptions: { compactor: new InlineCompactor() },
  })
  replica.becomeLeader({ leaderEpoch: 0, replicas: [0], isr: [0] })
  return replica
}

/** `key=value` pairs in one batch; transactional when a producer is given. */
function keyed(pairs: string[], txn?: { producerId: number; baseSequence: number }): Buffer {
  return encodeBatch({
    records: pairs.map((p) => {
      const [key, value] = p.split('=')
      return { key: Buffer.from(key), value: Buffer.from(value) }
    }),
    baseTimestamp: 1_700_000_000_000,
    producerId: txn?.producerId ?? -1,
    producerEpoch: txn === undefined ? -1 : 0,
    baseSequence: txn?.baseSequence ?? -1,
    isTransactional: txn !== undefined,
  })
}

/** acks=all: answered once on disk, so the high watermark and the LSO include the records at once (partita.fsync.mode=acks-all). */
async function produce(replica: PartitionReplica, bytes: Buffer): Promise<void> {
  expect((await replica.produce(bytes, -1, 5000)).errorCode).toBe(ErrorCode.NONE)
}

async function endTxn(replica: PartitionReplica, producerId: number, commit: boolean): Promise<void> {
  expect((await replica.writeTxnMarker({ producerId, producerEpoch: 0, coordinatorEpoch: 0, commit })).errorCode).toBe(ErrorCode.NONE)
}

interface Read {
  values: string[]
  markers: string[]
  aborted: Array<{ producerId: number; firstOffset: number }>
}

/** What a consumer reads from the start, aborted transactions filtered out as clients do for read_committed. */
async function read(replica: PartitionReplica, isolationLevel: 0 | 1): Promise<Read> {
  const out: Read = { values: [], markers: [], aborted: [] }
  // Bounded: each fetch moves past at least one batch, up to the log end.
  for (let offset = 0; offset < replica.logEndOffset; ) {
    const result = await replica.fetch({ replicaId: -1, fetchOffset: offset, maxBytes: 1 << 20, maxWaitMs: 0, minBytes: 1, isolationLevel })
    expect(result.errorCode).toBe(ErrorCode.NONE)
    const records = result.records ?? Buffer.alloc(0)
    if (records.length === 0) break
    for (const a of result.abortedTransactions ?? []) if (!out.aborted.some((b) => b.firstOffset === a.firstOffset)) out.aborted.push(a)
    for (const { pos } of iterateBatches(records)) {
      const header = readBatchHeader(records, pos)
      offset = header.baseOffset + header.lastOffsetDelta + 1
      if (isControlBatch(header.attributes)) {
        const marker = decodeTxnMarker(records, pos)
        out.markers.push(`${marker?.commit === true ? 'COMMIT' : 'ABORT'}@${header.baseOffset}`)
        continue
      }
      const aborted = isolationLevel === 1 && (header.attributes & 0x10) !== 0 && out.aborted.some((a) => a.producerId === header.producerId && a.firstOffset <= header.baseOffset)
      if (aborted) continue
      for (const r of decodeRecords(records, pos)) out.values.push(`${r.key!.toString()}=${r.value!.toString()}`)
    }
  }
  return out
}

describe('compaction of transactional data', () => {
  it('removes aborted records at once, then the ABORT marker and its .txnindex entry delete.retention.ms after, and both isolation levels read the committed values throughout', async () => {
    const clock = new ManualClock()
    const r = await openLeader(clock)
    await produce(r, keyed(['k1=a'])) // 0
    await produce(r, keyed(['k1=aborted', 'k2=aborted'], { producerId: P1, baseSequence: 0 })) // 1-2
    await endTxn(r, P1, false) // 3
    await produce(r, keyed(['k3=c'], { producerId: P2, baseSequence: 0 })) // 4
    await endTxn(r, P2, true) // 5
    await produce(r, keyed(['tail=z'])) // 6, the active segment
    const committed = ['k1=a', 'k3=c', 'tail=z']
    expect((await read(r, 0)).values).toEqual(['k1=a', 'k1=aborted', 'k2=aborted', 'k3=c', 'tail=z'])
    expect((await read(r, 1)).values).toEqual(committed)

    // First cleaning: the aborted records go; the marker stays, as the data was met in this pass.
    await r.housekeeping()
    expect((await read(r, 0)).values).toEqual(committed)
    expect((await read(r, 0)).markers).toEqual(['ABORT@3', 'COMMIT@5'])
    expect((await read(r, 1)).values).toEqual(committed)
    expect(r.log.abortedTxns().map((t) => t.lastOffset)).toEqual([3])

    // Second: no data of the aborted transaction is left, so its marker gets a delete horizon; the
    // COMMIT marker stays while its transaction's record does. Before the horizon nothing more goes.
    await r.housekeeping()
    clock.advance(DELETE_RETENTION_MS - 1)
    await r.housekeeping()
    expect((await read(r, 0)).markers).toEqual(['ABORT@3', 'COMMIT@5'])

    clock.advance(1)
    await r.housekeeping()
    const after = await read(r, 1)
    expect(after.markers).toEqual(['COMMIT@5'])
    expect(after.values).toEqual(committed)
    expect(after.aborted).toEqual([])
    expect((await read(r, 0)).values).toEqual(committed)
    expect(r.log.abortedTxns()).toEqual([])
    expect(fs.readdirSync(r.log.dir).filter((n) => n.endsWith('.txnindex'))).toEqual([])
    expect(r.lastStableOffset).toBe(7)
  })

  it('cleans nothing at or past the last stable offset, so an open transaction neither loses its records nor shadows the committed value of its key', async () => {
    const clock = new ManualClock()
    const r = await openLeader(clock)
    await produce(r, keyed(['k=committed'])) // 0
    await produce(r, keyed(['k=open'], { producerId: P1, baseSequence: 0 })) // 1
    await produce(r, keyed(['other=x'])) // 2
    await produce(r, keyed(['tail=z'])) // 3, the active segment
    expect(r.lastStableOffset).toBe(1)
    await r.housekeeping()
    expect((await read(r, 0)).values).toEqual(['k=committed', 'k=open', 'other=x', 'tail=z'])

    await endTxn(r, P1, false) // 4
    await produce(r, keyed(['tail=y'])) // 5
    await r.housekeeping()
    expect((await read(r, 1)).values).toEqual(['k=committed', 'other=x', 'tail=z', 'tail=y'])
    expect((await read(r, 0)).values).toEqual(['k=committed', 'other=x', 'tail=z', 'tail=y'])
  })
})
