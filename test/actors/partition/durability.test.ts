/**
 * partita.fsync.mode=acks-all on partition replicas: acks=all waits for the shard's group commit,
 * a disk that fails (EIO, ENOSPC) gets KAFKA_STORAGE_ERROR and never an ack, what was acknowledged
 * stays readable, and the partition serves again once the disk works. Over the simulated disk,
 * and once over a real 8 MiB tmpfs.
 */
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { PartitionReplica } from '../../../src/actors/partition/partition-replica.js'
import type { ReplicaConfig } from '../../../src/actors/partition/replica-types.js'
import { ManualClock } from '../../../src/common/clock.js'
import { ErrorCode } from '../../../src/common/error-codes.js'
import { FileHandleCache } from '../../../src/storage/file-handle-cache.js'
import { groupCommitOf, LAZY_SYNC_DELAY_MS } from '../../../src/storage/group-commit.js'
import type { FsyncMode } from '../../../src/storage/log-config.js'
import { SimFileSystem } from '../../../src/storage/sim-file-system.js'
import { HandTimers } from '../../storage/group-commit-timers.js'
import { batch, config, pumpOnce } from './replica-harness.js'

async function openLeader(
  dir: string,
  files: FileHandleCache,
  clock: ManualClock,
  fsyncMode: FsyncMode = 'acks-all',
  partition = 0,
  overrides: Partial<ReplicaConfig> = {},
): Promise<PartitionReplica> {
  const replica = await PartitionReplica.open({
    topic: 't',
    partition,
    dir,
    config: config({ fsyncMode, ...overrides }),
    clock,
    brokerId: 0,
    logOptions: { files },
    storageRetryBackoffMs: 100,
  })
  replica.becomeLeader({ leaderEpoch: 0, replicas: [0], isr: [0] })
  return replica
}

async function consumed(replica: PartitionReplica): Promise<string[]> {
  const result = await replica.fetch({ replicaId: -1, fetchOffset: replica.logStartOffset, maxBytes: 1 << 20, maxWaitMs: 0, minBytes: 1 })
  const text = result.records?.toString('latin1') ?? ''
  return [...text.matchAll(/[a-z]+-\d+/g)].map((m) => m[0])
}

describe('acks=all with partita.fsync.mode=acks-all', () => {
  it('is answered only after the group commit fdatasynced the records, and consumers see them only then', async () => {
    const disk = new SimFileSystem(1)
    const clock = new ManualClock()
    const replica = await openLeader('/data/t-0', new FileHandleCache({ fs: disk }), clock)
    let answered = false
    const ack = replica.produce(batch('a', 3), -1, 5000).then((r) => ((answered = true), r))
    await Promise.resolve()
    expect(answered).toBe(false)
    expect(replica.highWatermark).toBe(0)
    expect((await ack).errorCode).toBe(ErrorCode.NONE)
    expect(replica.highWatermark).toBe(3)
    expect(await consumed(replica)).toEqual(['a-0', 'a-1', 'a-2'])
    disk.powerCut()
    const reopened = await openLeader('/data/t-0', new FileHandleCache({ fs: disk }), new ManualClock())
    expect(reopened.logEndOffset).toBe(3)
  })

  it('makes every partition the shard wrote meanwhile durable in one group commit round', async () => {
    const disk = new SimFileSystem(2)
    const files = new FileHandleCache({ fs: disk })
    const clock = new ManualClock()
    const replicas = await Promise.all([0, 1, 2, 3].map((p) => openLeader(`/data/t-${p}`, files, clock, 'acks-all', p)))
    const roundsBefore = groupCommitOf(files).stats.rounds
    const answers = await Promise.all(replicas.map((r, p) => r.produce(batch(`p${p}`, 2), -1, 5000)))
    expect(answers.map((a) => a.errorCode)).toEqual([0, 0, 0, 0])
    expect(groupCommitOf(files).stats.rounds - roundsBefore).toBe(1)
  })

  it('never acknowledges records whose fdatasync failed (KAFKA_STORAGE_ERROR), keeps serving what was acknowledged, and takes produces again once the disk works', async () => {
    const disk = new SimFileSystem(3)
    const clock = new ManualClock()
    const replica = await openLeader('/data/t-0', new FileHandleCache({ fs: disk }), clock)
    expect((await replica.produce(batch('a', 2), -1, 5000)).errorCode).toBe(ErrorCode.NONE)
    // The group commit's fdatasync fails, then the next produce's attempt to recover does too.
    disk.failNext('fsync', 'EIO')
    disk.failNext('fsync', 'EIO')
    const failed = await replica.produce(batch('b', 2), -1, 5000)
    expect(failed.errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR)
    expect((await replica.produce(batch('c', 1), -1, 5000)).errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR)
    // Offline: refused at once while the retry backoff runs; acknowledged records stay readable.
    expect((await replica.produce(batch('c', 1), -1, 5000)).errorMessage).toMatch(/offline/)
    expect(await consumed(replica)).toEqual(['a-0', 'a-1'])
    clock.advance(100)
    const again = await replica.produce(batch('d', 1), -1, 5000)
    expect(again).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 2 })
    expect(await consumed(replica)).toEqual(['a-0', 'a-1', 'd-0'])
  })

  it('never acknowledges a produce whose records a storage recovery cut off before they were on disk, even once later records cover its offsets', async () => {
    // The schedule of `npm run sim -- --seed 21`, reduced: b waits for the group commit; before
    // its round runs, c's flush (flush.messages) fails and takes the log offline; d's recovery
    // cuts the log back to what is on disk (b's records were not) and d lands on b's offsets.
    const disk = new SimFileSystem(6)
    const clock = new ManualClock()
    const replica = await openLeader('/data/t-0', new FileHandleCache({ fs: disk }), clock, 'acks-all', 0, { flushMessages: 4 })
    expect((await replica.produce(batch('a', 1), -1, 5000)).errorCode).toBe(ErrorCode.NONE)
    const b = replica.produce(batch('b', 2), -1, 5000)
    disk.failNext('fsync', 'EIO')
    expect((await replica.produce(batch('c', 1), 1, 5000)).errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR)
    const d = replica.produce(batch('d', 2), -1, 5000)
    const [bAnswer, dAnswer] = await Promise.all([b, d])
    expect(dAnswer).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 1 })
    expect(await consumed(replica)).toEqual(['a-0', 'd-0', 'd-1'])
    expect(bAnswer).toMatchObject({ errorCode: ErrorCode.KAFKA_STORAGE_ERROR, baseOffset: -1 })
  })

  it('answers a produce to a full disk KAFKA_STORAGE_ERROR and serves again once space is back', async () => {
    const disk = new SimFileSystem(4)
    const clock = new ManualClock()
    const replica = await openLeader('/data/t-0', new FileHandleCache({ fs: disk }), clock)
    expect((await replica.produce(batch('a', 2), -1, 5000)).errorCode).toBe(ErrorCode.NONE)
    disk.capacityBytes = replica.log.sizeBytes + 10
    expect((await replica.produce(batch('b', 5), -1, 5000)).errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR)
    expect(await consumed(replica)).toEqual(['a-0', 'a-1'])
    disk.capacityBytes = Infinity
    clock.advance(100)
    expect((await replica.produce(batch('c', 1), -1, 5000)).errorCode).toBe(ErrorCode.NONE)
    expect(await consumed(replica)).toEqual(['a-0', 'a-1', 'c-0'])
  })

  it('with partita.fsync.mode=off answers from the page cache, before any fsync (so a power cut may take it back)', async () => {
    const disk = new SimFileSystem(5)
    const replica = await openLeader('/data/t-0', new FileHandleCache({ fs: disk }), new ManualClock(), 'off')
    expect((await replica.produce(batch('a', 2), -1, 5000)).errorCode).toBe(ErrorCode.NONE)
    expect(disk.stats.fsyncs).toBe(0)
  })
})

describe('acks=1 with partita.fsync.mode=acks-all', () => {
  async function leaderWithHandTimers(seed: number): Promise<{ replica: PartitionReplica; files: FileHandleCache; timers: HandTimers; disk: SimFileSystem }> {
    const disk = new SimFileSystem(seed)
    const files = new FileHandleCache({ fs: disk })
    const timers = new HandTimers()
    groupCommitOf(files, timers)
    return { replica: await openLeader('/data/t-0', files, new ManualClock()), files, timers, disk }
  }

  async function turns(n = 10): Promise<void> {
    for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve))
  }

  it('is synced in a lazy group commit round, within the lazy delay, not one round per produce', async () => {
    const { replica, files, timers } = await leaderWithHandTimers(11)
    for (let i = 0; i < 5; i++) expect((await replica.produce(batch(`a${i}x`, 2), 1, 5000)).errorCode).toBe(ErrorCode.NONE)
    await turns()
    // Answered from the page cache; consumers wait for the disk, which waits for the delay.
    expect(groupCommitOf(files).stats.rounds).toBe(0)
    expect(replica.highWatermark).toBe(0)
    expect(timers.armed().map((d) => d.delayMs)).toEqual([LAZY_SYNC_DELAY_MS])
    timers.fireAll()
    await turns()
    expect(groupCommitOf(files).stats.rounds).toBe(1)
    expect(replica.highWatermark).toBe(10)
  })

  it('is synced at once when a consumer is parked on the partition', async () => {
    const { replica, files } = await leaderWithHandTimers(12)
    const parked = replica.fetch({ replicaId: -1, fetchOffset: 0, maxBytes: 1 << 20, maxWaitMs: 60_000, minBytes: 1 })
    expect((await replica.produce(batch('b', 3), 1, 5000)).errorCode).toBe(ErrorCode.NONE)
    const result = await parked
    expect(result.records?.toString('latin1')).toContain('b-2')
    expect(groupCommitOf(files).stats.rounds).toBe(1)
  })

  it('is synced at once when a consumer parks behind records waiting for a lazy round', async () => {
    const { replica, files } = await leaderWithHandTimers(13)
    expect((await replica.produce(batch('c', 3), 1, 5000)).errorCode).toBe(ErrorCode.NONE)
    await turns()
    expect(groupCommitOf(files).stats.rounds).toBe(0)
    const result = await replica.fetch({ replicaId: -1, fetchOffset: 0, maxBytes: 1 << 20, maxWaitMs: 60_000, minBytes: 1 })
    expect(result.records?.toString('latin1')).toContain('c-2')
    expect(groupCommitOf(files).stats.rounds).toBe(1)
  })

  it('does not delay an acks=all produce behind it: the acks=all one syncs both at once', async () => {
    const { replica, files, disk } = await leaderWithHandTimers(14)
    expect((await replica.produce(batch('d', 2), 1, 5000)).errorCode).toBe(ErrorCode.NONE)
    expect((await replica.produce(batch('e', 2), -1, 5000)).errorCode).toBe(ErrorCode.NONE)
    expect(groupCommitOf(files).stats.rounds).toBe(1)
    expect(replica.highWatermark).toBe(4)
    disk.powerCut()
    const reopened = await openLeader('/data/t-0', new FileHandleCache({ fs: disk }), new ManualClock())
    expect(reopened.logEndOffset).toBe(4)
  })
})

describe('acks=all with partita.fsync.mode=acks-all and a follower', () => {
  it('is answered only once the follower says its copy is on its own disk, not when it merely fetched past the records', async () => {
    const clock = new ManualClock()
    const leaderDisk = new SimFileSystem(6)
    const followerDisk = new SimFileSystem(7)
    let leader: PartitionReplica | null = null
    const reports: number[] = []
    const open = (brokerId: number, disk: SimFileSystem) =>
      PartitionReplica.open({
        topic: 't',
        partition: 0,
        dir: `/data/b${brokerId}/t-0`,
        config: config({ fsyncMode: 'acks-all' }),
        clock,
        brokerId,
        logOptions: { files: new FileHandleCache({ fs: disk }) },
        followerFetch: { maxWaitMs: 0 },
        // The actor's cross-shard message, delivered straight to the leader here.
        onFollowerSynced: (report) => {
          reports.push(report.durableOffset)
          leader!.followerSynced(report)
        },
      })
    leader = await open(0, leaderDisk)
    const follower = await open(1, followerDisk)
    leader.becomeLeader({ leaderEpoch: 1, replicas: [0, 1], isr: [0, 1] })
    follower.becomeFollower({ leaderId: 0, leaderEpoch: 1 })

    let answered = false
    // What the follower holds on its disk at the moment acks=all is answered.
    const ack = leader.produce(batch('a', 3), -1, 30_000).then((r) => ((answered = true), { ...r, followerDurable: follower.log.durableOffset }))
    // The follower copies the records, then fetches again at their end before its group commit
    // (scheduled for the next macrotask) has synced them: it is not on its disk yet.
    await pumpOnce(follower, leader)
    expect(follower.logEndOffset).toBe(3)
    await pumpOnce(follower, leader)
    expect(answered).toBe(false)
    expect(leader.highWatermark).toBe(0)
    // The follower's sync ends, it reports, and only then is acks=all answered.
    expect(await ack).toMatchObject({ errorCode: ErrorCode.NONE, followerDurable: 3 })
    expect(reports).toEqual([3])
    expect(leader.highWatermark).toBe(3)
    // What was acknowledged survives a power cut of the follower's disk too.
    followerDisk.powerCut()
    const reopened = await PartitionReplica.open({
      topic: 't',
      partition: 0,
      dir: '/data/b1/t-0',
      config: config({ fsyncMode: 'acks-all' }),
      clock: new ManualClock(),
      brokerId: 1,
      logOptions: { files: new FileHandleCache({ fs: followerDisk }) },
    })
    expect(reopened.logEndOffset).toBe(3)
  })
})

describe('a full disk on the real path (an 8 MiB tmpfs)', () => {
  it('answers KAFKA_STORAGE_ERROR when the tmpfs is full, keeps what was acknowledged, and serves again once space is freed', async (ctx) => {
    const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'partita-tmpfs-'))
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mountPoint], { stdio: 'pipe' })
    } catch (error) {
      fs.rmdirSync(mountPoint)
      const reason = `mount -t tmpfs refused: ${(error as Error).message.split('\n')[0]}`
      console.warn(`skipping the tmpfs test: ${reason}`)
      ctx.skip(reason)
      return
    }
    const files = new FileHandleCache()
    try {
      const clock = new ManualClock()
      const replica = await openLeader(path.join(mountPoint, 't-0'), files, clock)
      expect((await replica.produce(batch('a', 2), -1, 5000)).errorCode).toBe(ErrorCode.NONE)
      // Fill what is left of the file system.
      const filler = path.join(mountPoint, 'filler')
      const fd = fs.openSync(filler, 'w')
      const chunk = Buffer.alloc(64 * 1024, 1)
      try {
        // Bounded: 8 MiB in 64 KiB chunks, then ENOSPC.
        for (let i = 0; i < 200; i++) fs.writeSync(fd, chunk)
        throw new Error('the 8 MiB tmpfs never filled')
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error
      } finally {
        fs.closeSync(fd)
      }
      // Larger than the partly used page the log file ends in.
      const big = batch('b', 2000)
      const refused = await replica.produce(big, -1, 5000)
      expect(refused.errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR)
      expect(refused.errorMessage).toMatch(/ENOSPC/)
      expect(await consumed(replica)).toEqual(['a-0', 'a-1'])
      fs.rmSync(filler)
      clock.advance(100)
      expect((await replica.produce(batch('c', 1), -1, 5000)).errorCode).toBe(ErrorCode.NONE)
      expect(await consumed(replica)).toEqual(['a-0', 'a-1', 'c-0'])
      await replica.close()
    } finally {
      files.closeAll()
      // Lazily: a failed assertion may leave an fd of a closed-over stream open until collected.
      execFileSync('umount', ['-l', mountPoint])
      fs.rmdirSync(mountPoint)
    }
  })
})
