import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/common/clock.js'
import { FileHandleCache } from '../../src/storage/file-handle-cache.js'
import { PartitionLog } from '../../src/storage/log.js'
import { batch, removeDir, smallConfig, tempDir } from './helpers.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d)
})

function openFdCount(): number {
  return fs.readdirSync('/proc/self/fd').length
}

const LOGS = 2_000
const OPEN_FILES_MAX = 16
const BATCHES = 6
// Transient fds (a checkpoint's temp file, then its directory; the readdir of /proc/self/fd
// itself) and whatever the test runner opens meanwhile.
const SLACK_FDS = 8

describe('many partition logs through one small file cache', () => {
  it('appends to, reads, rolls, truncates, closes and reopens 2,000 logs holding at most 16 files open', async () => {
    const root = tempDir()
    dirs.push(root)
    const files = new FileHandleCache({ openFilesMax: OPEN_FILES_MAX })
    const clock = new ManualClock()
    // About 150 bytes a batch: each log rolls to a second segment at its fifth batch.
    const config = smallConfig({ segmentBytes: 600, indexIntervalBytes: 100 })
    const open = (i: number, cleanShutdown = false): Promise<PartitionLog> => PartitionLog.open(path.join(root, `p-${i}`), config, { clock, files, fsync: false, cleanShutdown })
    const baseline = openFdCount()
    let peak = baseline
    const sample = (): void => {
      peak = Math.max(peak, openFdCount())
    }

    const logs: PartitionLog[] = []
    for (let i = 0; i < LOGS; i++) {
      logs.push(await open(i))
      if (i % 100 === 0) sample()
    }
    // Round robin, so nearly every append finds its file evicted by the other logs.
    const stamped: Buffer[][] = logs.map(() => [])
    for (let b = 0; b < BATCHES; b++) {
      for (let i = 0; i < LOGS; i++) {
        const bytes = batch(3, clock.nowMs(), { tag: i + b })
        logs[i].append(bytes, { leaderEpoch: 0, assignOffsets: true })
        stamped[i].push(Buffer.from(bytes))
      }
      sample()
    }
    expect(logs.every((log) => log.segments().length === 2)).toBe(true)
    const expectBatches = (log: PartitionLog, expected: Buffer[]): void => {
      expect(log.logEndOffset).toBe(expected.length * 3)
      for (let b = 0; b < expected.length; b++) {
        if (!log.read(b * 3, 1).records.equals(expected[b])) throw new Error(`${log.dir}: batch ${b} reads differently`)
      }
    }
    for (let i = 0; i < LOGS; i++) expectBatches(logs[i], stamped[i])
    sample()

    // Every other log drops its last two batches, which cuts into its second segment.
    for (let i = 0; i < LOGS; i += 2) {
      logs[i].truncateTo((BATCHES - 2) * 3)
      stamped[i] = stamped[i].slice(0, BATCHES - 2)
    }
    sample()
    for (const log of logs) await log.close()
    expect(files.stats.open).toBe(0)
    // Every third log comes back as after a crash: not named by a marker, no recovery point, full recovery.
    for (let i = 0; i < LOGS; i += 3) fs.rmSync(path.join(root, `p-${i}`, 'recovery-point'), { force: true })

    const again: PartitionLog[] = []
    for (let i = 0; i < LOGS; i++) {
      again.push(await open(i, i % 3 !== 0))
      if (i % 100 === 0) sample()
    }
    for (let i = 0; i < LOGS; i++) expectBatches(again[i], stamped[i])
    sample()
    for (let i = 0; i < LOGS; i++) {
      expect(again[i].append(batch(1, clock.nowMs()), { leaderEpoch: 0, assignOffsets: true }).baseOffset).toBe(stamped[i].length * 3)
    }
    sample()
    for (const log of again) await log.close()

    expect(files.stats.open).toBe(0)
    expect(files.stats.evictions).toBeGreaterThan(LOGS * BATCHES)
    expect(peak - baseline).toBeLessThanOrEqual(OPEN_FILES_MAX + SLACK_FDS)
    // Some 60,000 opens: seconds on an idle disk, but the suite shares the box with other work.
  }, 240_000)
})
