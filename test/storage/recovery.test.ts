import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/common/clock.js'
import { PartitionLog } from '../../src/storage/log.js'
import { readBatchHeader } from '../../src/records/record-batch.js'
import { batch, removeDir, smallConfig, tempDir } from './helpers.js'

/*
 * Crash recovery, exhaustively: one log image is built once, then each case copies it, damages
 * the last segment (a torn tail at every byte boundary of its final batches, or a flipped byte),
 * removes the clean-shutdown marker and reopens. The log must end at the last valid batch, serve
 * every earlier batch byte for byte, and hold the indexes a full scan would build.
 */
const config = smallConfig({ segmentBytes: 1200, indexIntervalBytes: 150 })

interface StoredBatch {
  baseOffset: number
  lastOffset: number
  maxTimestampMs: number
  bytes: Buffer
  segmentBase: number
  position: number
}

let image: string
let work: string
const batches: StoredBatch[] = []
let lastSegmentBase = 0
let lastSegmentName = ''

/** A tiny deterministic generator, so the flipped bytes are the same on every run. */
function seeded(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 4294967296
  }
}

beforeAll(async () => {
  image = tempDir()
  work = tempDir()
  const clock = new ManualClock()
  const log = await PartitionLog.open(image, config, { clock, fsync: false })
  const random = seeded(7)
  for (let i = 0; i < 40; i++) {
    clock.advance(Math.floor(random() * 50))
    const b = batch(1 + Math.floor(random() * 4), clock.nowMs() - Math.floor(random() * 100), {
      valueBytes: 5 + Math.floor(random() * 60),
      tag: i,
    })
    log.append(b, { leaderEpoch: i < 20 ? 1 : 2, assignOffsets: true })
  }
  for (const s of log.segments()) {
    const file = fs.readFileSync(s.path)
    for (let pos = 0; pos < file.length; ) {
      const h = readBatchHeader(file, pos)
      const size = 12 + h.batchLength
      batches.push({
        baseOffset: h.baseOffset,
        lastOffset: h.baseOffset + h.lastOffsetDelta,
        maxTimestampMs: h.maxTimestamp,
        bytes: file.subarray(pos, pos + size),
        segmentBase: s.baseOffset,
        position: pos,
      })
      pos += size
    }
  }
  lastSegmentBase = log.activeSegmentBaseOffset
  lastSegmentName = String(lastSegmentBase).padStart(20, '0') + '.log'
  // A flush writes the recovery point (close alone leaves it to the clean-shutdown marker).
  await log.flush()
  await log.close()
})

afterAll(() => {
  removeDir(image)
  removeDir(work)
})

/** The offset and time index entries a full scan of `kept` builds, by the documented rule. */
function expectedIndexes(kept: StoredBatch[]) {
  const bases = [...new Set(batches.map((b) => b.segmentBase))].filter((b) => b <= lastSegmentBase)
  return bases.map((base, i) => {
    const inSegment = kept.filter((b) => b.segmentBase === base)
    const offsets: Array<{ offset: number; position: number }> = []
    const times: Array<{ timestampMs: number; offset: number }> = []
    let counter = 0
    let maxSoFar = -1
    const addTime = (ts: number, offset: number): void => {
      if (times.length === 0 || ts > times[times.length - 1].timestampMs) times.push({ timestampMs: ts, offset })
    }
    for (const b of inSegment) {
      maxSoFar = Math.max(maxSoFar, b.maxTimestampMs)
      if (counter > config.indexIntervalBytes) {
        offsets.push({ offset: b.lastOffset, position: b.position })
        addTime(maxSoFar, b.lastOffset)
        counter = 0
      }
      counter += b.bytes.length
    }
    const isLast = i === bases.length - 1
    if (!isLast && inSegment.length > 0) addTime(maxSoFar, inSegment[inSegment.length - 1].lastOffset)
    return { baseOffset: base, offsets, times }
  })
}

let caseNumber = 0
async function runCase(damage: (file: Buffer) => Buffer, keptCount: number, variant: number): Promise<void> {
  const dir = work
  restoreImage(caseNumber++ === 0)
  fs.rmSync(path.join(dir, 'clean-shutdown'), { force: true })
  // Vary what survived the crash: the recovery point checkpoint and the last segment's indexes.
  if (variant % 3 === 1) fs.rmSync(path.join(dir, 'recovery-point'))
  if (variant % 3 === 2) fs.rmSync(path.join(dir, lastSegmentName.replace('.log', '.index')))
  const file = path.join(dir, lastSegmentName)
  fs.writeFileSync(file, damage(fs.readFileSync(file)))

  const log = await PartitionLog.open(dir, config, { clock: new ManualClock(), fsync: false })
  const kept = batches.slice(0, keptCount)
  const expectedEnd = kept.length > 0 && kept[kept.length - 1].segmentBase === lastSegmentBase ? kept[kept.length - 1].lastOffset + 1 : lastSegmentBase
  expect(log.logEndOffset).toBe(expectedEnd)
  for (const b of kept) {
    const read = log.read(b.baseOffset, 1)
    if (!read.records.equals(b.bytes)) throw new Error(`batch ${b.baseOffset} reads differently after recovery`)
  }
  expect(log.indexEntries()).toEqual(expectedIndexes(kept))
  const keptInLast = kept.filter((b) => b.segmentBase === lastSegmentBase)
  const keptBytes = keptInLast.reduce((n, b) => n + b.bytes.length, 0)
  expect(fs.statSync(file).size).toBe(keptBytes)
  await log.close()
}

/**
 * Resets the work directory to the image. Recovery rewrites only the last segment, checkpoints
 * and (when it rebuilds them, with identical bytes) index files, so only those are copied back;
 * this keeps a case to a few file writes.
 */
function restoreImage(everything: boolean): void {
  const names = new Set(fs.readdirSync(image))
  for (const name of fs.readdirSync(work)) if (!names.has(name)) fs.rmSync(path.join(work, name))
  for (const name of names) {
    const base = Number(name.slice(0, 20))
    const olderSegmentData = /^\d{20}\.log$/.test(name) && base < lastSegmentBase
    if (everything || !olderSegmentData) fs.copyFileSync(path.join(image, name), path.join(work, name))
  }
}

describe('crash recovery', () => {
  it('truncates a torn tail at every byte boundary of the final batches', async () => {
    const inLast = batches.filter((b) => b.segmentBase === lastSegmentBase)
    const finals = inLast.slice(-4)
    const from = finals[0].position
    const end = inLast[inLast.length - 1].position + inLast[inLast.length - 1].bytes.length
    let cases = 0
    for (let cut = from; cut < end; cut++) {
      const keptCount = batches.findIndex((b) => b.segmentBase === lastSegmentBase && b.position + b.bytes.length > cut)
      await runCase((file) => file.subarray(0, cut), keptCount, cut)
      cases++
    }
    expect(cases).toBeGreaterThan(400)
  })

  it('cuts the log at the first batch with a flipped byte (seeded)', async () => {
    const random = seeded(42)
    const inLast = batches.filter((b) => b.segmentBase === lastSegmentBase)
    const end = inLast[inLast.length - 1].position + inLast[inLast.length - 1].bytes.length
    let cases = 0
    while (cases < 600) {
      const pos = Math.floor(random() * end)
      const hit = inLast.find((b) => b.position <= pos && pos < b.position + b.bytes.length)!
      const within = pos - hit.position
      // Base offset and leader epoch lie outside the CRC by Kafka's design (the broker stamps
      // them), so a flip there is not detectable as corruption; flip every other byte.
      if (within < 8 || (within >= 12 && within < 16)) continue
      const mask = 1 + Math.floor(random() * 255)
      const keptCount = batches.indexOf(hit)
      await runCase((file) => {
        const copy = Buffer.from(file)
        copy[pos] ^= mask
        return copy
      }, keptCount, cases)
      cases++
    }
  })

  it('recovers an undamaged log after an unclean stop to exactly what was written', async () => {
    await runCase((file) => file, batches.length, 1)
  })
})
