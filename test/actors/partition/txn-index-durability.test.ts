/**
 * The aborted-transaction index (`.txnindex`) on the simulated disk: it goes through the log's
 * FileSystem seam, its entries are synced with the markers in the shard's group commit
 * (partita.fsync.mode=acks-all) and before each producer-state snapshot, and what a power cut
 * leaves of it (lost, torn, or with a hole) is cut at load and filled in by the replay.
 */
import { describe, expect, it } from 'vitest'
import { PartitionReplica } from '../../../src/actors/partition/partition-replica.js'
import { ManualClock } from '../../../src/common/clock.js'
import { ErrorCode } from '../../../src/common/error-codes.js'
import { FileHandleCache } from '../../../src/storage/file-handle-cache.js'
import type { FsyncMode } from '../../../src/storage/log-config.js'
import { SimFileSystem } from '../../../src/storage/sim-file-system.js'
import { type AbortedTxn, decodeAbortedTxns, encodeAbortedTxn } from '../../../src/storage/txn-index.js'
import { batch, config } from './replica-harness.js'

const DIR = '/data/t-0'
const TXN_INDEX = `${DIR}/00000000000000000000.txnindex`
const SEEDS = Array.from({ length: 32 }, (_, i) => i + 1)

async function openLeader(disk: SimFileSystem, fsyncMode: FsyncMode, segmentBytes = 1 << 20): Promise<PartitionReplica> {
  const replica = await PartitionReplica.open({
    topic: 't',
    partition: 0,
    dir: DIR,
    config: config({ fsyncMode, segmentBytes }),
    clock: new ManualClock(),
    brokerId: 0,
    logOptions: { files: new FileHandleCache({ fs: disk }) },
    storageRetryBackoffMs: 100,
  })
  replica.becomeLeader({ leaderEpoch: 0, replicas: [0], isr: [0] })
  return replica
}

/** Producer `producerId` writes `count` records in a transaction, which is then aborted. Returns its index entry. */
async function abortedTxn(replica: PartitionReplica, producerId: number, count: number): Promise<Pick<AbortedTxn, 'producerId' | 'firstOffset' | 'lastOffset'>> {
  const data = await replica.produce(batch(`p${producerId}`, count, { producerId, producerEpoch: 0, baseSequence: 0, transactional: true }), -1, 5000)
  expect(data.errorCode).toBe(ErrorCode.NONE)
  const marker = await replica.writeTxnMarker({ producerId, producerEpoch: 0, coordinatorEpoch: 0, commit: false })
  expect(marker.errorCode).toBe(ErrorCode.NONE)
  return { producerId, firstOffset: data.baseOffset, lastOffset: data.baseOffset + count }
}

function indexed(replica: PartitionReplica): Array<Pick<AbortedTxn, 'producerId' | 'firstOffset' | 'lastOffset'>> {
  return replica.log.abortedTxns().map(({ producerId, firstOffset, lastOffset }) => ({ producerId, firstOffset, lastOffset }))
}

describe('the .txnindex on the simulated disk', () => {
  it('is on disk once the abort marker is acknowledged under acks-all, whatever a power cut then keeps', async () => {
    for (const seed of SEEDS) {
      const disk = new SimFileSystem(seed)
      const replica = await openLeader(disk, 'acks-all')
      const entry = await abortedTxn(replica, 7, 3)
      disk.powerCut()
      const onDisk = decodeAbortedTxns(disk.readFile(TXN_INDEX) ?? Buffer.alloc(0))
      expect(onDisk.map(({ producerId, firstOffset, lastOffset }) => ({ producerId, firstOffset, lastOffset })), `seed ${seed}`).toEqual([entry])
    }
  })

  it('holds every entry below a producer snapshot after a power cut, so the replay from that snapshot misses none', async () => {
    let checked = 0
    // Many seeds: the entry must be lost while the marker and the snapshot survive.
    for (let seed = 1; seed <= 400; seed++) {
      const disk = new SimFileSystem(seed)
      // fsync mode off: nothing waits for the disk, so only the sync before the snapshot keeps the entry.
      const replica = await openLeader(disk, 'off', 200)
      const entry = await abortedTxn(replica, 7, 3)
      // Rolls past the marker (segments of 200 bytes), so housekeeping writes a snapshot covering it.
      expect((await replica.produce(batch('plain', 4), 1, 5000)).errorCode).toBe(ErrorCode.NONE)
      await replica.housekeeping()
      disk.powerCut()
      const reopened = await openLeader(disk, 'off', 200)
      // With nothing synced, the power cut may have lost the marker itself: then there is nothing to index.
      if (!reopened.log.segments().some((s) => s.baseOffset <= entry.lastOffset && entry.lastOffset < s.nextOffset)) continue
      checked++
      expect(indexed(reopened), `seed ${seed}`).toEqual([entry])
      const fetched = await reopened.fetch({ replicaId: -1, fetchOffset: 0, maxBytes: 1 << 20, maxWaitMs: 0, minBytes: 1, isolationLevel: 1 })
      expect(fetched.abortedTransactions, `seed ${seed}`).toEqual([{ producerId: 7, firstOffset: entry.firstOffset }])
    }
    expect(checked).toBeGreaterThan(100)
  })

  it('cuts a torn entry and a hole a lost append left, and the replay adds those transactions back', async () => {
    const disk = new SimFileSystem(5)
    const replica = await openLeader(disk, 'acks-all')
    const first = await abortedTxn(replica, 7, 2)
    const second = await abortedTxn(replica, 8, 2)
    disk.powerCut()
    // What a crash can leave of two unsynced appends: the first lost (zeros), the second torn.
    const encoded = encodeAbortedTxn({ ...second, lastStableOffset: second.lastOffset + 1 })
    const fd = disk.openSync(TXN_INDEX, 'w')
    const damaged = Buffer.concat([Buffer.alloc(encoded.length), encoded.subarray(0, 20)])
    disk.writeSync(fd, damaged, 0, damaged.length, 0)
    disk.closeSync(fd)
    const reopened = await openLeader(disk, 'acks-all')
    expect(indexed(reopened)).toEqual([first, second])
    expect(decodeAbortedTxns(disk.readFile(TXN_INDEX)!).map((e) => e.producerId)).toEqual([7, 8])
  })
})
