import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  CLEANED_SUFFIX,
  SWAP_SUFFIX,
  compactionFileName,
  completeSwaps,
  promoteCleanedToSwap,
  recoverCompactionLeftovers,
} from '../../src/storage/compaction-recovery.js'
import {
  type CompactionSegmentRef,
  buildOffsetMap,
  compactSegments,
  writeCleanedSegments,
} from '../../src/storage/compaction-task.js'
import { compress, decompress } from '../../src/records/compression.js'
import { type ReadRecord, readRecords, segmentFiles, tempDir, writeSegment } from './compaction-helpers.js'

const T0 = 1_700_000_000_000
const NOW_MS = T0 + 1000
const DAY_MS = 86_400_000
const codec = { compress, decompress: (t: number, b: Buffer) => decompress(t, b) }
const dirs: string[] = []

afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

function rec(key: string, value: string | null) {
  return { key, value, timestampMs: T0 }
}

/**
 * Four segments: the first empties (kept, as the first), the second empties (removed), the
 * third keeps the latest values and a tombstone, the fourth is untouched.
 */
function buildLog(): { dir: string; segments: CompactionSegmentRef[] } {
  const dir = tempDir()
  dirs.push(dir)
  const segments = [
    writeSegment(dir, 0, [{ baseOffset: 0, records: [rec('a', '1'), rec('b', '1'), rec('c', '1')] }]),
    writeSegment(dir, 3, [{ baseOffset: 3, records: [rec('a', '2'), rec('b', '2')] }]),
    writeSegment(dir, 5, [{ baseOffset: 5, records: [rec('a', '3'), rec('b', '3'), rec('c', null)] }]),
    writeSegment(dir, 8, [{ baseOffset: 8, records: [rec('d', '1')] }]),
  ]
  return { dir, segments }
}

let expected: { pre: ReadRecord[]; post: ReadRecord[] } | null = null

/** The contents before and after an uninterrupted compaction of the same log. */
function expectedContents(): { pre: ReadRecord[]; post: ReadRecord[] } {
  if (expected !== null) return expected
  const { dir, segments } = buildLog()
  const pre = readRecords(dir)
  compactSegments({ dir, segments, nowMs: NOW_MS, deleteRetentionMs: DAY_MS, minCompactionLagMs: 0 })
  expected = { pre, post: readRecords(dir) }
  expect(expected.post.length).toBeLessThan(pre.length)
  return expected
}

/** Steps 1 (write `.cleaned`) of the compaction, returning the base offsets written. */
function writeCleaned(dir: string, segments: CompactionSegmentRef[]): number[] {
  const map = buildOffsetMap(segments, undefined, codec)
  return writeCleanedSegments(dir, segments, { map, nowMs: NOW_MS, deleteRetentionMs: DAY_MS, codec }).baseOffsets
}

function file(dir: string, base: number, suffix: string): string {
  return path.join(dir, compactionFileName(base, suffix))
}

function expectNoLeftovers(dir: string): void {
  expect(segmentFiles(dir).filter((n) => n.endsWith(CLEANED_SUFFIX) || n.endsWith(SWAP_SUFFIX))).toEqual([])
}

/** Post-compaction state: the swapped segments' stale index files are gone (the log rebuilds them). */
function expectPost(dir: string): void {
  expect(readRecords(dir)).toEqual(expectedContents().post)
  expectNoLeftovers(dir)
  expect(segmentFiles(dir)).toEqual([compactionFileName(0, '.log'), compactionFileName(5, '.log'), compactionFileName(8, '.log')])
}

function expectPre(dir: string, filesBefore: string[]): void {
  expect(readRecords(dir)).toEqual(expectedContents().pre)
  expect(segmentFiles(dir)).toEqual(filesBefore)
}

describe('compaction crash recovery', () => {
  it('rolls back when killed while writing .cleaned files (one torn)', async () => {
    const { dir, segments } = buildLog()
    const filesBefore = segmentFiles(dir)
    const bases = writeCleaned(dir, segments)
    const torn = file(dir, bases[2], CLEANED_SUFFIX)
    fs.truncateSync(torn, Math.floor(fs.statSync(torn).size / 2))
    fs.rmSync(file(dir, bases[3], CLEANED_SUFFIX))
    await recoverCompactionLeftovers(dir)
    expectPre(dir, filesBefore)
  })

  it('rolls back when killed after writing every .cleaned file but before the first rename', async () => {
    const { dir, segments } = buildLog()
    const filesBefore = segmentFiles(dir)
    writeCleaned(dir, segments)
    await recoverCompactionLeftovers(dir)
    expectPre(dir, filesBefore)
  })

  it('rolls forward when killed after renaming only some .cleaned files to .swap', async () => {
    const { dir, segments } = buildLog()
    const bases = writeCleaned(dir, segments)
    promoteCleanedToSwap(dir, bases.slice(0, 1))
    await recoverCompactionLeftovers(dir)
    expectPost(dir)
  })

  it('rolls forward when killed after every rename to .swap, before any original was replaced', async () => {
    const { dir, segments } = buildLog()
    const bases = writeCleaned(dir, segments)
    promoteCleanedToSwap(dir, bases)
    await recoverCompactionLeftovers(dir)
    expectPost(dir)
  })

  it('rolls forward when killed after some originals and indexes were replaced or deleted', async () => {
    const { dir, segments } = buildLog()
    const bases = writeCleaned(dir, segments)
    promoteCleanedToSwap(dir, bases)
    // Segment 0 fully swapped in; segment 3 (emptied) lost its original and indexes but still
    // has its empty .swap; segment 5 lost only its indexes; segment 8 untouched.
    for (const suffix of ['.index', '.timeindex']) fs.rmSync(file(dir, 0, suffix))
    fs.renameSync(file(dir, 0, SWAP_SUFFIX), file(dir, 0, '.log'))
    for (const suffix of ['.index', '.timeindex', '.log']) fs.rmSync(file(dir, 3, suffix))
    for (const suffix of ['.index', '.timeindex']) fs.rmSync(file(dir, 5, suffix))
    await recoverCompactionLeftovers(dir)
    expectPost(dir)
  })

  it('rolls forward when killed just after the last swap was installed (only stale files remain)', async () => {
    const { dir, segments } = buildLog()
    const bases = writeCleaned(dir, segments)
    promoteCleanedToSwap(dir, bases)
    completeSwaps(dir)
    await recoverCompactionLeftovers(dir)
    expectPost(dir)
  })

  it('is idempotent and a no-op on a directory without leftovers', async () => {
    const { dir, segments } = buildLog()
    const filesBefore = segmentFiles(dir)
    await recoverCompactionLeftovers(dir)
    expectPre(dir, filesBefore)
    compactSegments({ dir, segments, nowMs: NOW_MS, deleteRetentionMs: DAY_MS, minCompactionLagMs: 0 })
    await recoverCompactionLeftovers(dir)
    await recoverCompactionLeftovers(dir)
    expectPost(dir)
  })

  it('finishes an earlier run left at its commit point before writing new .cleaned files', () => {
    const { dir, segments } = buildLog()
    const bases = writeCleaned(dir, segments)
    promoteCleanedToSwap(dir, bases.slice(0, 2))
    // The same process compacts again (the earlier run threw after its commit point), still
    // listing segment 3, which finishing that run removes.
    compactSegments({ dir, segments, nowMs: NOW_MS, deleteRetentionMs: DAY_MS, minCompactionLagMs: 0 })
    expectPost(dir)
  })
})
