import * as fs from 'node:fs'
import * as path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ErrorCode } from '../../../src/common/error-codes.js'
import type { PartitionReplica } from '../../../src/actors/partition/partition-replica.js'
import { encodeTxnMarkerBatch } from '../../../src/records/control-batch.js'
import { decodeRecords, isControlBatch, iterateBatches, readBatchHeader } from '../../../src/records/record-batch.js'
import { decodeAbortedTxns, TXN_INDEX_ENTRY_BYTES } from '../../../src/storage/txn-index.js'
import { batch, cluster, pumpUntilCaughtUp, type Cluster } from './replica-harness.js'

const P1 = 1000
const P2 = 2000

let c: Cluster
afterEach(async () => {
  await c?.close()
})

function dataValues(records: Buffer | null): string[] {
  if (records === null) return []
  const out: string[] = []
  for (const { pos } of iterateBatches(records)) {
    if (isControlBatch(readBatchHeader(records, pos).attributes)) continue
    for (const r of decodeRecords(records, pos)) out.push(r.value!.toString())
  }
  return out
}

function fetch(replica: PartitionReplica, fetchOffset: number, isolationLevel: number) {
  return replica.fetch({ replicaId: -1, fetchOffset, maxBytes: 1 << 20, maxWaitMs: 0, minBytes: 1, isolationLevel })
}

async function txnProduce(replica: PartitionReplica, prefix: string, count: number, producerId: number, baseSequence: number): Promise<number> {
  const result = await replica.produce(batch(prefix, count, { producerId, producerEpoch: 0, baseSequence, transactional: true }), 1, 30_000)
  expect(result.errorCode).toBe(ErrorCode.NONE)
  return result.baseOffset
}

async function leader(overrides = {}): Promise<PartitionReplica> {
  const replica = await c.open(1, overrides)
  replica.becomeLeader({ leaderEpoch: 1, replicas: [1], isr: [1] })
  return replica
}

function txnIndexFiles(replica: PartitionReplica): string[] {
  return fs.readdirSync(replica.log.dir).filter((n) => n.endsWith('.txnindex'))
}

describe('partition replica: transactions', () => {
  it('holds the last stable offset at an open transaction, so read_committed reads stop there while read_uncommitted reads on', async () => {
    c = cluster()
    const r = await leader()
    await r.produce(batch('plain', 2), 1, 30_000)
    const first = await txnProduce(r, 'txn', 3, P1, 0)
    await r.produce(batch('after', 1), 1, 30_000)
    expect(first).toBe(2)
    expect(r.highWatermark).toBe(6)
    expect(r.lastStableOffset).toBe(2)
    expect(dataValues((await fetch(r, 0, 1)).records)).toEqual(['plain-0', 'plain-1'])
    expect((await fetch(r, 0, 1)).lastStableOffset).toBe(2)
    expect(dataValues((await fetch(r, 0, 0)).records)).toHaveLength(6)
    expect(r.listOffsets(-1, 1).offset).toBe(2)
    expect(r.listOffsets(-1, 0).offset).toBe(6)

    expect(await r.writeTxnMarker({ producerId: P1, producerEpoch: 0, coordinatorEpoch: 0, commit: true })).toEqual({ errorCode: ErrorCode.NONE, errorMessage: null })
    expect(r.lastStableOffset).toBe(7)
    const committed = await fetch(r, 0, 1)
    expect(dataValues(committed.records)).toEqual(['plain-0', 'plain-1', 'txn-0', 'txn-1', 'txn-2', 'after-0'])
    expect(committed.abortedTransactions).toEqual([])
    expect(txnIndexFiles(r)).toEqual([])
  })

  it('reports an aborted transaction to read_committed fetches and indexes it in Kafka\'s .txnindex layout', async () => {
    c = cluster()
    const r = await leader()
    await txnProduce(r, 'a', 2, P1, 0) // 0-1
    await txnProduce(r, 'b', 1, P2, 0) // 2
    await txnProduce(r, 'a2', 1, P1, 2) // 3
    await r.writeTxnMarker({ producerId: P1, producerEpoch: 0, coordinatorEpoch: 5, commit: false }) // 4
    // P2's open transaction still holds the LSO at 2.
    expect(r.lastStableOffset).toBe(2)
    await r.writeTxnMarker({ producerId: P2, producerEpoch: 0, coordinatorEpoch: 5, commit: true }) // 5
    expect(r.lastStableOffset).toBe(6)
    const read = await fetch(r, 0, 1)
    expect(read.abortedTransactions).toEqual([{ producerId: P1, firstOffset: 0 }])
    expect((await fetch(r, 5, 1)).abortedTransactions).toEqual([])
    expect((await fetch(r, 0, 0)).abortedTransactions).toBeNull()

    const [file] = txnIndexFiles(r)
    expect(file).toBe('00000000000000000000.txnindex')
    const bytes = fs.readFileSync(path.join(r.log.dir, file))
    expect(bytes.length).toBe(TXN_INDEX_ENTRY_BYTES)
    expect(bytes.readInt16BE(0)).toBe(0)
    expect(decodeAbortedTxns(bytes)).toEqual([{ producerId: P1, firstOffset: 0, lastOffset: 4, lastStableOffset: 2 }])
  })

  it('refuses control batches from clients and markers of a fenced epoch', async () => {
    c = cluster()
    const r = await leader()
    const marker = encodeTxnMarkerBatch({ producerId: P1, producerEpoch: 0, coordinatorEpoch: 0, commit: true }, 0)
    expect((await r.produce(marker, 1, 30_000)).errorCode).toBe(ErrorCode.INVALID_RECORD)
    // Ids and epochs off the wire that no batch can carry are refused, not asserted on.
    for (const [producerId, producerEpoch] of [[2 ** 60, 0], [-1, 0], [P1, -1], [P1, 40_000]]) {
      expect((await r.writeTxnMarker({ producerId, producerEpoch, coordinatorEpoch: 0, commit: true })).errorCode).toBe(ErrorCode.INVALID_REQUEST)
    }
    await r.produce(batch('x', 1, { producerId: P1, producerEpoch: 4, baseSequence: 0, transactional: true }), 1, 30_000)
    expect((await r.writeTxnMarker({ producerId: P1, producerEpoch: 3, coordinatorEpoch: 0, commit: true })).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH)
    expect(r.lastStableOffset).toBe(0)
    // A bumped epoch (the coordinator fencing a zombie) ends it, and the zombie's writes are refused after.
    expect((await r.writeTxnMarker({ producerId: P1, producerEpoch: 5, coordinatorEpoch: 0, commit: false })).errorCode).toBe(ErrorCode.NONE)
    expect(r.lastStableOffset).toBe(r.highWatermark)
    const zombie = await r.produce(batch('z', 1, { producerId: P1, producerEpoch: 4, baseSequence: 1, transactional: true }), 1, 30_000)
    expect(zombie.errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH)
  })

  it('refuses a marker from an older coordinator epoch than the producer\'s last marker (TRANSACTION_COORDINATOR_FENCED), also after a restart', async () => {
    c = cluster()
    let r = await leader()
    await txnProduce(r, 'a', 1, P1, 0) // 0
    // The transaction's coordinator moved (epoch 3 -> 5); the new one ends the transaction first.
    expect((await r.writeTxnMarker({ producerId: P1, producerEpoch: 0, coordinatorEpoch: 5, commit: true })).errorCode).toBe(ErrorCode.NONE) // 1
    await txnProduce(r, 'b', 1, P1, 1) // 2
    const stale = await r.writeTxnMarker({ producerId: P1, producerEpoch: 0, coordinatorEpoch: 3, commit: false })
    expect(stale.errorCode).toBe(ErrorCode.TRANSACTION_COORDINATOR_FENCED)
    expect(r.lastStableOffset).toBe(2)
    expect(r.logEndOffset).toBe(3)
    await r.close()
    r = await leader()
    expect((await r.writeTxnMarker({ producerId: P1, producerEpoch: 0, coordinatorEpoch: 4, commit: false })).errorCode).toBe(ErrorCode.TRANSACTION_COORDINATOR_FENCED)
    expect((await r.writeTxnMarker({ producerId: P1, producerEpoch: 0, coordinatorEpoch: 5, commit: true })).errorCode).toBe(ErrorCode.NONE)
    expect(r.lastStableOffset).toBe(r.highWatermark)
  })

  it('refuses a coordinator\'s write under a leader epoch other than the one it loaded at (FENCED_LEADER_EPOCH)', async () => {
    c = cluster()
    const r = await leader()
    expect((await r.produce(batch('state', 1), -1, 30_000, { fromCoordinator: true, leaderEpoch: 0 })).errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH)
    expect((await r.produce(batch('state', 1), -1, 30_000, { fromCoordinator: true, leaderEpoch: 1 })).errorCode).toBe(ErrorCode.NONE)
    expect(r.logEndOffset).toBe(1)
  })

  it('replicates markers so a follower holds the same aborted transactions and last stable offset', async () => {
    c = cluster()
    const l = await c.open(1)
    const f = await c.open(2)
    l.becomeLeader({ leaderEpoch: 1, replicas: [1, 2], isr: [1, 2] })
    f.becomeFollower({ leaderId: 1, leaderEpoch: 1 })
    await txnProduce(l, 'a', 2, P1, 0)
    const pending = l.writeTxnMarker({ producerId: P1, producerEpoch: 0, coordinatorEpoch: 0, commit: false })
    await pumpUntilCaughtUp(f, l)
    expect((await pending).errorCode).toBe(ErrorCode.NONE)
    expect(f.log.abortedTxns()).toEqual(l.log.abortedTxns())
    await txnProduce(l, 'b', 1, P2, 0)
    await pumpUntilCaughtUp(f, l)
    f.becomeLeader({ leaderEpoch: 2, replicas: [2], isr: [2] })
    expect(f.lastStableOffset).toBe(l.logEndOffset - 1)
  })

  it('rebuilds the aborted index and the open transactions after a clean restart', async () => {
    c = cluster()
    let r = await leader()
    await txnProduce(r, 'a', 2, P1, 0) // 0-1
    await r.writeTxnMarker({ producerId: P1, producerEpoch: 0, coordinatorEpoch: 0, commit: false }) // 2
    await txnProduce(r, 'b', 1, P2, 0) // 3
    await r.close()
    r = await leader()
    expect(r.lastStableOffset).toBe(3)
    expect(r.log.abortedTxns()).toEqual([{ producerId: P1, firstOffset: 0, lastOffset: 2, lastStableOffset: 3 }])
    await r.writeTxnMarker({ producerId: P2, producerEpoch: 0, coordinatorEpoch: 0, commit: true })
    expect(r.lastStableOffset).toBe(5)
  })

  it('rebuilds after an unclean stop whose last marker was torn mid-write: the transaction is open again and not indexed', async () => {
    c = cluster()
    let r = await leader()
    await txnProduce(r, 'a', 2, P1, 0) // 0-1
    await r.writeTxnMarker({ producerId: P1, producerEpoch: 0, coordinatorEpoch: 0, commit: false }) // 2
    await txnProduce(r, 'b', 1, P2, 0) // 3
    await r.writeTxnMarker({ producerId: P2, producerEpoch: 0, coordinatorEpoch: 0, commit: false }) // 4, to be torn
    expect(r.log.abortedTxns()).toHaveLength(2)
    const dir = r.log.dir
    await r.close()
    // The crash: the marker's last bytes never reached the disk (no clean-shutdown marker names the log).
    const logFile = path.join(dir, '00000000000000000000.log')
    fs.truncateSync(logFile, fs.statSync(logFile).size - 5)
    r = await leader()
    expect(r.logEndOffset).toBe(4)
    expect(r.lastStableOffset).toBe(3)
    expect(r.log.abortedTxns()).toEqual([{ producerId: P1, firstOffset: 0, lastOffset: 2, lastStableOffset: 3 }])
    expect(decodeAbortedTxns(fs.readFileSync(path.join(dir, '00000000000000000000.txnindex')))).toHaveLength(1)
    // The coordinator's retry writes the marker again, and the index holds the new one.
    await r.writeTxnMarker({ producerId: P2, producerEpoch: 0, coordinatorEpoch: 0, commit: false })
    expect(r.log.abortedTxns().map((t) => t.lastOffset)).toEqual([2, 4])
    expect(r.lastStableOffset).toBe(5)
  })

  it('rebuilds the aborted index from the log when the .txnindex files are lost', async () => {
    c = cluster()
    let r = await leader()
    await txnProduce(r, 'a', 2, P1, 0)
    await r.writeTxnMarker({ producerId: P1, producerEpoch: 0, coordinatorEpoch: 0, commit: false })
    const dir = r.log.dir
    await r.close()
    for (const name of fs.readdirSync(dir)) if (name.endsWith('.txnindex') || name.endsWith('.snapshot')) fs.rmSync(path.join(dir, name))
    r = await leader()
    expect(r.log.abortedTxns()).toEqual([{ producerId: P1, firstOffset: 0, lastOffset: 2, lastStableOffset: 3 }])
  })
})
