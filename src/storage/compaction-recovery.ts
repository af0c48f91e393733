import fs from 'node:fs'
import path from 'node:path'

/*
 * The crash-safe swap protocol of log compaction, shared by the compaction task (which runs it)
 * and by the log's open (which finishes whatever a crash interrupted).
 *
 *   1. Write every cleaned segment as `<base>.log.cleaned` and fsync it. A crash here leaves only
 *      `.cleaned` files, possibly torn: recovery deletes them and the log is as before.
 *   2. Rename every `.cleaned` to `<base>.log.swap`, in ascending base order, then fsync the
 *      directory. This is the commit point: once one `.swap` exists, every `.cleaned` beside it
 *      was already complete and fsynced, so recovery promotes the rest and rolls forward.
 *   3. For each `.swap`, ascending: delete the segment's derived index files (the log rebuilds
 *      them; stale ones would point into the old bytes), then rename `.swap` over `<base>.log`
 *      (an atomic replace), or, when the cleaned segment is empty and is not the log's first,
 *      delete both, so fully overwritten segments do not pile up as empty files. The first
 *      segment is always kept, even empty, so the log's start offset never moves.
 *
 * Rolling forward from any point of step 2 or 3 gives exactly the post-compaction contents;
 * rolling back from step 1 gives exactly the pre-compaction contents.
 */

export const CLEANED_SUFFIX = '.log.cleaned'
export const SWAP_SUFFIX = '.log.swap'
const LOG_SUFFIX = '.log'
const DERIVED_SUFFIXES = ['.index', '.timeindex'] as const

/** Kafka's file naming: the base offset zero-padded to 20 digits. */
export function compactionFileName(baseOffset: number, suffix: string): string {
  return String(baseOffset).padStart(20, '0') + suffix
}

/** The base offset named by `<20 digits><suffix>`, or null for any other name. */
export function parseCompactionFileName(name: string, suffix: string): number | null {
  if (!name.endsWith(suffix)) return null
  const digits = name.slice(0, -suffix.length)
  if (!/^\d{20}$/.test(digits)) return null
  const n = Number(digits)
  return Number.isSafeInteger(n) ? n : null
}

/** Base offsets of the files in `dir` named `<base><suffix>`, ascending. */
export function listBaseOffsets(dir: string, suffix: string): number[] {
  const out: number[] = []
  for (const name of fs.readdirSync(dir)) {
    const base = parseCompactionFileName(name, suffix)
    if (base !== null) out.push(base)
  }
  return out.sort((a, b) => a - b)
}

/** Makes renames and deletions in `dir` durable. */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r')
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

/** Deletes every `.cleaned` file: the leftovers of a compaction that never reached its commit. */
export function deleteCleanedFiles(dir: string): void {
  const bases = listBaseOffsets(dir, CLEANED_SUFFIX)
  for (const base of bases) fs.rmSync(path.join(dir, compactionFileName(base, CLEANED_SUFFIX)), { force: true })
  if (bases.length > 0) fsyncDir(dir)
}

/** Step 2: renames the given `.cleaned` files to `.swap`, ascending, and fsyncs the directory. */
export function promoteCleanedToSwap(dir: string, baseOffsets: readonly number[]): void {
  const ascending = [...baseOffsets].sort((a, b) => a - b)
  for (const base of ascending) {
    fs.renameSync(path.join(dir, compactionFileName(base, CLEANED_SUFFIX)), path.join(dir, compactionFileName(base, SWAP_SUFFIX)))
  }
  fsyncDir(dir)
}

/**
 * Step 3: installs every `.swap` file in `dir` as its segment. Idempotent, so a crash at any
 * point of it is finished by running it again. Returns the base offsets of segments removed
 * because their cleaned contents were empty.
 */
export function completeSwaps(dir: string): number[] {
  const swaps = listBaseOffsets(dir, SWAP_SUFFIX)
  if (swaps.length === 0) return []
  const logs = listBaseOffsets(dir, LOG_SUFFIX)
  // The first segment is the lowest base among installed and pending segments; it never changes
  // while swaps complete, because the first segment is never removed.
  const firstBase = Math.min(swaps[0], logs.length > 0 ? logs[0] : Infinity)
  for (const base of swaps) {
    for (const suffix of DERIVED_SUFFIXES) fs.rmSync(path.join(dir, compactionFileName(base, suffix)), { force: true })
  }
  // The stale indexes must be gone for good before the new bytes appear under the segment's name.
  fsyncDir(dir)
  const removed: number[] = []
  for (const base of swaps) {
    const swapPath = path.join(dir, compactionFileName(base, SWAP_SUFFIX))
    const logPath = path.join(dir, compactionFileName(base, LOG_SUFFIX))
    if (fs.statSync(swapPath).size === 0 && base !== firstBase) {
      fs.rmSync(logPath, { force: true })
      fs.rmSync(swapPath)
      removed.push(base)
    } else {
      fs.renameSync(swapPath, logPath)
    }
  }
  fsyncDir(dir)
  return removed
}

/**
 * Finishes or rolls back an interrupted compaction, synchronously. With any `.swap` present the
 * commit point was passed, so the remaining `.cleaned` files (all complete) are promoted and
 * every swap is installed; without one, `.cleaned` files may be torn and are deleted.
 */
export function recoverCompactionLeftoversSync(dir: string): void {
  const swaps = listBaseOffsets(dir, SWAP_SUFFIX)
  if (swaps.length > 0) {
    const cleaned = listBaseOffsets(dir, CLEANED_SUFFIX)
    if (cleaned.length > 0) promoteCleanedToSwap(dir, cleaned)
    completeSwaps(dir)
  } else {
    deleteCleanedFiles(dir)
  }
}

/**
 * Finishes or rolls back a compaction interrupted by a crash (left-over `.cleaned` / `.swap`
 * files), before the log loads its segments. PartitionLog.open calls it first thing.
 */
export async function recoverCompactionLeftovers(dir: string): Promise<void> {
  recoverCompactionLeftoversSync(dir)
}
