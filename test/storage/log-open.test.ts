import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ManualClock } from '../../src/common/clock.js'
import { FileHandleCache } from '../../src/storage/file-handle-cache.js'
import { PartitionLog } from '../../src/storage/log.js'
import { batch, removeDir, smallConfig, tempDir } from './helpers.js'

const dirs: string[] = []
afterEach(() => {
  vi.restoreAllMocks()
  for (const d of dirs.splice(0)) removeDir(d)
})

function logDir(): string {
  const root = tempDir()
  dirs.push(root)
  return path.join(root, 'topic-0')
}

/** Every file of the directory with its inode and modification time: a rewrite changes one. */
function fileIdentities(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of fs.readdirSync(dir).sort()) {
    const st = fs.statSync(path.join(dir, name))
    out[name] = `${st.ino}:${st.mtimeMs}:${st.size}`
  }
  return out
}

function countFsyncs(): { count: () => number } {
  const spy = vi.spyOn(fs, 'fsyncSync')
  return { count: () => spy.mock.calls.length }
}

const config = smallConfig({ segmentBytes: 900 })
const open = (dir: string, clock = new ManualClock(), cleanShutdown = false): Promise<PartitionLog> =>
  PartitionLog.open(dir, config, { clock, files: new FileHandleCache({ openFilesMax: 4 }), cleanShutdown })

describe('opening and closing a partition log cheaply', () => {
  it('creates a new log as one empty segment file, with no fsync', async () => {
    const dir = logDir()
    const fsyncs = countFsyncs()
    const log = await open(dir)
    expect(fsyncs.count()).toBe(0)
    expect(fs.readdirSync(dir)).toEqual(['00000000000000000000.log'])
    expect(log.logEndOffset).toBe(0)
    // Nor does closing it: there is no data to make durable, and the marker is the log directory's.
    await log.close()
    expect(fsyncs.count()).toBe(0)
    expect(fs.readdirSync(dir).sort()).toEqual(['00000000000000000000.log'])
  })

  it('reopens and closes an unchanged log its directory marker names without writing or fsyncing anything', async () => {
    const dir = logDir()
    const clock = new ManualClock()
    const log = await open(dir, clock)
    for (let i = 0; i < 12; i++) log.append(batch(3, clock.nowMs(), { tag: i }), { leaderEpoch: 2, assignOffsets: true })
    await log.close()
    expect(fs.readFileSync(path.join(dir, 'recovery-point'), 'utf8').trim()).toBe('36')
    const before = fileIdentities(dir)
    const fsyncs = countFsyncs()
    for (let round = 0; round < 2; round++) {
      const again = await open(dir, clock, true)
      expect(again.logEndOffset).toBe(36)
      expect(again.read(0, 1).firstOffset).toBe(0)
      await again.close()
    }
    expect(fsyncs.count()).toBe(0)
    expect(fileIdentities(dir)).toEqual(before)
  })

  it("trusts an earlier version's per-partition marker and removes it durably before the first change, so a crash after it is recovered", async () => {
    const dir = logDir()
    const clock = new ManualClock()
    const log = await open(dir, clock)
    log.append(batch(3, clock.nowMs()), { leaderEpoch: 0, assignOffsets: true })
    await log.close()
    // What an earlier version's close left: its own marker, and no recovery point.
    fs.writeFileSync(path.join(dir, 'clean-shutdown'), '')
    fs.rmSync(path.join(dir, 'recovery-point'))
    const again = await open(dir, clock)
    expect(again.cleanMarkerPresent).toBe(true)
    const fsyncs = countFsyncs()
    again.append(batch(2, clock.nowMs(), { valueBytes: 50 }), { leaderEpoch: 0, assignOffsets: true })
    expect(fs.existsSync(path.join(dir, 'clean-shutdown'))).toBe(false)
    expect(fsyncs.count()).toBe(1)
    // The process dies (no close) with the second batch torn in its payload: its header still
    // looks whole, so only recovery's CRC check, which the marker would have skipped, finds it.
    const segment = path.join(dir, '00000000000000000000.log')
    const bytes = fs.readFileSync(segment)
    bytes[bytes.length - 10] ^= 0xff
    fs.writeFileSync(segment, bytes)
    const recovered = await open(dir, clock)
    expect(recovered.logEndOffset).toBe(3)
    expect(fs.statSync(segment).size).toBe(recovered.segments()[0].sizeBytes)
    await recovered.close()
  })

  it('reopens a new log that was never closed as the same empty log, without rebuilding anything', async () => {
    const dir = logDir()
    await open(dir)
    const fsyncs = countFsyncs()
    const again = await open(dir)
    expect(again.logEndOffset).toBe(0)
    expect(fs.readdirSync(dir)).toEqual(['00000000000000000000.log'])
    expect(fsyncs.count()).toBe(0)
    await again.close()
  })

  it('writes index files only once they have entries, and reopens a segment without them', async () => {
    const dir = logDir()
    const clock = new ManualClock()
    const log = await open(dir, clock)
    // Two small batches: below index.interval.bytes, so no index entry.
    log.append(batch(1, clock.nowMs()), { leaderEpoch: 0, assignOffsets: true })
    log.append(batch(1, clock.nowMs()), { leaderEpoch: 0, assignOffsets: true })
    await log.close()
    expect(fs.readdirSync(dir).filter((n) => n.includes('index'))).toEqual([])
    const again = await open(dir, clock)
    expect(again.logEndOffset).toBe(2)
    expect(again.read(1, 1).firstOffset).toBe(1)
    for (let i = 0; i < 8; i++) again.append(batch(3, clock.nowMs(), { tag: i }), { leaderEpoch: 0, assignOffsets: true })
    const indexes = again.indexEntries()
    await again.close()
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.index')).length).toBeGreaterThan(0)
    const third = await open(dir, clock)
    expect(third.indexEntries()).toEqual(indexes)
    await third.close()
  })
})
