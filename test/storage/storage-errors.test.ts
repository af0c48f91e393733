import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/common/clock.js'
import { ErrorCode } from '../../src/common/error-codes.js'
import { KafkaError } from '../../src/common/errors.js'
import { FileHandleCache, type FileOpener } from '../../src/storage/file-handle-cache.js'
import { PartitionLog } from '../../src/storage/log.js'
import { batch, removeDir, smallConfig, tempDir } from './helpers.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d)
})

function logDir(): string {
  const root = tempDir()
  dirs.push(root)
  return path.join(root, 'topic-0')
}

/** Real opens, except what a test switches on: read-only segment fds, or a failing create. */
class FaultyOpener implements FileOpener {
  readOnlySegments = false
  failCreates: string | null = null

  openSync(filePath: string, flags: fs.OpenMode): number {
    if (this.failCreates !== null && flags === 'w+') {
      throw Object.assign(new Error(`${this.failCreates}: injected, open '${filePath}'`), { code: this.failCreates, syscall: 'open' })
    }
    const readOnly = this.readOnlySegments && filePath.endsWith('.log')
    return fs.openSync(filePath, readOnly ? 'r' : flags)
  }

  closeSync(fd: number): void {
    fs.closeSync(fd)
  }
}

function storageFailure(fn: () => unknown): string {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(KafkaError)
    expect((error as KafkaError).errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR)
    return (error as KafkaError).message
  }
  throw new Error('expected a KAFKA_STORAGE_ERROR')
}

async function storageFailureAsync(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn()
  } catch (error) {
    expect(error).toBeInstanceOf(KafkaError)
    expect((error as KafkaError).errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR)
    return (error as KafkaError).message
  }
  throw new Error('expected a KAFKA_STORAGE_ERROR')
}

async function setup(): Promise<{ dir: string; log: PartitionLog; files: FileHandleCache; opener: FaultyOpener; clock: ManualClock }> {
  const dir = logDir()
  const opener = new FaultyOpener()
  const files = new FileHandleCache({ openFilesMax: 4, opener })
  const clock = new ManualClock()
  const log = await PartitionLog.open(dir, smallConfig({ segmentBytes: 600 }), { clock, files, fsync: false })
  return { dir, log, files, opener, clock }
}

const leader = { leaderEpoch: 0, assignOffsets: true }

describe('storage failures become KAFKA_STORAGE_ERROR and leave the log as it was', () => {
  it('refuses an append whose write fails (a read-only fd: EBADF), stays offline while its tail cannot be cut, and appends again once recovered', async () => {
    const { log, files, opener, clock } = await setup()
    const first = batch(3, clock.nowMs())
    log.append(first, leader)
    opener.readOnlySegments = true
    files.closeAll()
    expect(storageFailure(() => log.append(batch(2, clock.nowMs()), leader))).toMatch(/EBADF/)
    expect(log.logEndOffset).toBe(3)
    expect(log.read(0, 1 << 20).records.equals(first)).toBe(true)
    // The failed write could not be undone either (ftruncate of a read-only fd): the file may
    // hold part of it, so the log refuses appends until it is recovered.
    expect(log.failure?.message).toMatch(/EBADF|EINVAL/)
    opener.readOnlySegments = false
    files.closeAll()
    expect(storageFailure(() => log.append(batch(2, clock.nowMs()), leader))).toMatch(/offline/)
    expect(await log.recoverFromFailure()).toBe(3)
    expect(log.append(batch(2, clock.nowMs()), leader).baseOffset).toBe(3)
    await log.close()
  })

  it('refuses reads and appends of a segment whose file vanished (ENOENT)', async () => {
    const { dir, log, files, clock } = await setup()
    log.append(batch(3, clock.nowMs()), leader)
    files.closeAll()
    fs.rmSync(path.join(dir, '00000000000000000000.log'))
    expect(storageFailure(() => log.read(0, 100))).toMatch(/ENOENT/)
    expect(storageFailure(() => log.append(batch(1, clock.nowMs()), leader))).toMatch(/ENOENT/)
    expect(log.logEndOffset).toBe(3)
  })

  for (const code of ['EMFILE', 'ENOSPC']) {
    it(`refuses a roll that cannot create its segment (${code}), leaving no half-made segment, and reopens intact`, async () => {
      const { dir, log, files, opener, clock } = await setup()
      const stored = [0, 1].map((tag) => batch(3, clock.nowMs(), { tag, valueBytes: 60 }))
      for (const b of stored) log.append(Buffer.from(b), leader)
      const third = batch(3, clock.nowMs(), { valueBytes: 60 })
      // The third batch would pass segment.bytes (600) and roll.
      expect(stored[0].length + stored[1].length).toBeLessThanOrEqual(600)
      expect(stored[0].length + stored[1].length + third.length).toBeGreaterThan(600)
      for (let i = 0; i < 2; i++) stored[i] = log.read(i * 3, 1).records
      const namesBefore = fs.readdirSync(dir).sort()
      opener.failCreates = code
      const message = storageFailure(() => log.append(third, leader))
      expect(message).toMatch(code === 'EMFILE' ? /EMFILE: the open files limit is reached/ : /ENOSPC/)
      // The old segment may have written its index files on the way; nothing of offset 6 exists.
      expect(fs.readdirSync(dir).filter((n) => n.startsWith('00000000000000000006'))).toEqual([])
      expect(fs.readdirSync(dir).filter((n) => n.endsWith('.log'))).toEqual(namesBefore.filter((n) => n.endsWith('.log')))
      expect(log.logEndOffset).toBe(6)
      expect(log.segments()).toHaveLength(1)
      opener.failCreates = null
      await log.close()
      const again = await PartitionLog.open(dir, smallConfig({ segmentBytes: 600 }), { clock, files, fsync: false })
      expect(again.read(0, 1 << 20).records.equals(Buffer.concat(stored))).toBe(true)
      expect(again.append(third, leader).baseOffset).toBe(6)
      expect(again.segments()).toHaveLength(2)
      await again.close()
    })
  }

  it('fails a flush whose leader epoch checkpoint cannot be written (EISDIR) before any data is made durable', async () => {
    const { dir, log, clock } = await setup()
    fs.mkdirSync(path.join(dir, 'leader-epoch-checkpoint.tmp'))
    expect(log.append(batch(2, clock.nowMs()), { leaderEpoch: 1, assignOffsets: true }).baseOffset).toBe(0)
    expect(await storageFailureAsync(() => log.flush())).toMatch(/EISDIR/)
    expect(log.recoveryPoint).toBe(0)
    fs.rmdirSync(path.join(dir, 'leader-epoch-checkpoint.tmp'))
    await log.flush()
    expect(log.recoveryPoint).toBe(2)
    expect(fs.readFileSync(path.join(dir, 'leader-epoch-checkpoint'), 'utf8')).toBe('0\n1\n1 0\n')
    await log.close()
  })

  it('refuses to open a log under a file (ENOTDIR)', async () => {
    const root = tempDir()
    dirs.push(root)
    fs.writeFileSync(path.join(root, 'not-a-dir'), '')
    const message = await storageFailureAsync(() => PartitionLog.open(path.join(root, 'not-a-dir', 'topic-0'), smallConfig(), { clock: new ManualClock() }))
    expect(message).toMatch(/ENOTDIR/)
  })

  it('gives back the fds of a failed open (an unreadable epoch checkpoint: EISDIR)', async () => {
    const { dir, log, files, clock } = await setup()
    log.append(batch(3, clock.nowMs()), leader)
    await log.close()
    fs.rmSync(path.join(dir, 'leader-epoch-checkpoint'))
    fs.mkdirSync(path.join(dir, 'leader-epoch-checkpoint'))
    const message = await storageFailureAsync(() => PartitionLog.open(dir, smallConfig({ segmentBytes: 600 }), { clock, files, fsync: false }))
    expect(message).toMatch(/EISDIR/)
    expect(files.stats.open).toBe(0)
  })
})
