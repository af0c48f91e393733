/**
 * The aborted-transaction index of one log (KIP-98): for each aborted transaction, its producer,
 * its first offset and its ABORT marker's offset, so a read_committed fetch can name the aborted
 * transactions in its range and the consumer drop their records. On disk it is Kafka's
 * `.txnindex`, one file per segment holding the entries whose marker lies in that segment:
 *
 *   34 bytes per entry, big-endian: version int16 (0) | producerId int64 | firstOffset int64 |
 *                                   lastOffset int64 | lastStableOffset int64
 *
 * All I/O goes through the log's FileSystem seam. Appends are not fsynced at once: the files an
 * append touched are remembered and synced with the segment data that holds their markers (the
 * shard's group commit under partita.fsync.mode=acks-all, each flush, the close before the
 * clean-shutdown marker), and before every producer-state snapshot. So an entry can be lost by a
 * crash only while it is past the last snapshot, and recovery replays the log from that snapshot,
 * which adds such entries back (see ProducerStateStore); an entry whose marker recovery cut off
 * is dropped at load. Rewrites (truncation, compaction, a repair at load) are atomic and synced:
 * entries below the snapshot have no other source. In memory the entries are sorted by lastOffset.
 */
import { assert } from '../common/assert.js'
import { readInt64, writeInt64 } from '../records/record-batch.js'
import { fileSystemOf, readBytesIfExistsSync, unlinkIfExistsSync, writeFileAtomicSync } from './checkpoint-file.js'
import type { FileHandleCache } from './file-handle-cache.js'

export const TXN_INDEX_SUFFIX = '.txnindex'
export const TXN_INDEX_ENTRY_BYTES = 34
const ENTRY_VERSION = 0

export interface AbortedTxn {
  producerId: number
  firstOffset: number
  lastOffset: number
  /** The partition's last stable offset when the marker was written (Kafka keeps it; informative). */
  lastStableOffset: number
}

export function encodeAbortedTxn(entry: AbortedTxn): Buffer {
  const buf = Buffer.alloc(TXN_INDEX_ENTRY_BYTES)
  buf.writeInt16BE(ENTRY_VERSION, 0)
  writeInt64(buf, 2, entry.producerId)
  writeInt64(buf, 10, entry.firstOffset)
  writeInt64(buf, 18, entry.lastOffset)
  writeInt64(buf, 26, entry.lastStableOffset)
  return buf
}

/**
 * Decodes whole entries, stopping at the first that cannot be one: a torn last entry, an unknown
 * version, or a hole a crash left (an unsynced append lost while a later one survived reads as
 * zeros). A real entry's marker follows its transaction's first record (lastOffset > firstOffset),
 * lies in the file's segment (>= `baseOffset`), and comes after the entry before it.
 */
export function decodeAbortedTxns(buf: Buffer, baseOffset = 0): AbortedTxn[] {
  const out: AbortedTxn[] = []
  let previousLast = baseOffset - 1
  for (let pos = 0; pos + TXN_INDEX_ENTRY_BYTES <= buf.length; pos += TXN_INDEX_ENTRY_BYTES) {
    if (buf.readInt16BE(pos) !== ENTRY_VERSION) break
    const entry = { producerId: readInt64(buf, pos + 2), firstOffset: readInt64(buf, pos + 10), lastOffset: readInt64(buf, pos + 18), lastStableOffset: readInt64(buf, pos + 26) }
    if (entry.producerId < 0 || entry.firstOffset < 0 || entry.lastOffset <= entry.firstOffset || entry.lastOffset <= previousLast) break
    previousLast = entry.lastOffset
    out.push(entry)
  }
  return out
}

/** Where each entry is stored: the txnindex path of the segment holding an offset. */
export type TxnIndexPathOf = (offset: number) => string

export class AbortedTxnIndex {
  #entries: AbortedTxn[] = []
  readonly #files: FileHandleCache
  readonly #fsync: boolean
  readonly #pathOf: TxnIndexPathOf
  /** Files appended to since their last sync. */
  #unsynced = new Set<string>()
  /**
   * Files whose fsync failed: Linux may have dropped their unsynced pages while reads still show
   * them, and a later fsync would succeed without writing them, so they are rewritten whole.
   */
  #rewriteOwed = new Set<string>()

  constructor(files: FileHandleCache, fsync: boolean, pathOf: TxnIndexPathOf) {
    this.#files = files
    this.#fsync = fsync
    this.#pathOf = pathOf
  }

  get size(): number {
    return this.#entries.length
  }

  entries(): readonly AbortedTxn[] {
    return this.#entries
  }

  /**
   * Loads one segment's file (at open); entries at or past `logEndOffset` lost their marker.
   * Returns whether the file had to be rewritten to what holds.
   */
  load(filePath: string, baseOffset: number, logEndOffset: number): boolean {
    const bytes = readBytesIfExistsSync(filePath, this.#files)
    if (bytes === null) return false
    const kept = decodeAbortedTxns(bytes, baseOffset).filter((e) => e.lastOffset < logEndOffset)
    for (const entry of kept) this.#insert(entry)
    // A torn tail, a hole or an entry past the recovered log end: rewrite the file to what holds.
    const dirty = kept.length * TXN_INDEX_ENTRY_BYTES !== bytes.length
    if (dirty) this.#writeEntries(filePath, kept)
    return dirty
  }

  /**
   * Adds an aborted transaction (its marker just appended, or found again by replay). Returns
   * whether a file was created, whose name the owner's next directory sync must cover.
   */
  add(entry: AbortedTxn): boolean {
    assert(entry.firstOffset < entry.lastOffset, `aborted txn ${entry.firstOffset}..${entry.lastOffset}`)
    if (this.#entries.some((e) => e.lastOffset === entry.lastOffset)) return false
    const filePath = this.#pathOf(entry.lastOffset)
    const fsys = fileSystemOf(this.#files)
    const fd = this.#files.openTransient(filePath, 'a')
    let created: boolean
    try {
      const position = fsys.fileSizeSync(fd)
      created = position === 0
      const bytes = encodeAbortedTxn(entry)
      // Bounded: each pass writes at least one byte or throws.
      for (let done = 0; done < bytes.length; ) done += fsys.writeSync(fd, bytes, done, bytes.length - done, position + done)
    } finally {
      fsys.closeSync(fd)
    }
    // In memory only once written: a failed write leaves the index describing the file.
    this.#insert(entry)
    this.#unsynced.add(filePath)
    return created
  }

  /**
   * The files appended to since the last call, for the caller to fdatasync (it reports a failure
   * with `syncFailed`). Files owed a rewrite are rewritten (synced) first, on this thread.
   */
  takeUnsynced(): string[] {
    if (!this.#fsync) return []
    this.#rewriteOwedFiles()
    const paths = [...this.#unsynced]
    this.#unsynced = new Set()
    return paths
  }

  /** A sync of these files (some may be other files of the log) failed: the next sync rewrites them. */
  syncFailed(paths: readonly string[]): void {
    for (const p of paths) if (p.endsWith(TXN_INDEX_SUFFIX)) this.#rewriteOwed.add(p)
  }

  /** fsyncs every file appended to since its last sync, on this thread (rare: an entry per aborted transaction). */
  syncSync(): void {
    const fsys = fileSystemOf(this.#files)
    for (const p of this.takeUnsynced()) {
      try {
        const fd = this.#files.openTransient(p, 'r')
        try {
          fsys.fsyncSync(fd)
        } finally {
          fsys.closeSync(fd)
        }
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue // removed meanwhile: nothing to sync
        this.#rewriteOwed.add(p)
        throw error
      }
    }
  }

  #rewriteOwedFiles(): void {
    if (this.#rewriteOwed.size === 0) return
    const owed = new Set(this.#rewriteOwed)
    this.rewriteFiles(owed)
    for (const p of owed) this.#rewriteOwed.delete(p)
  }

  /** The aborted transactions that overlap [fromOffset, toOffset): what a read_committed fetch reports. */
  overlapping(fromOffset: number, toOffset: number): AbortedTxn[] {
    const out: AbortedTxn[] = []
    // Sorted by lastOffset: skip those ended before the range; bounded by the entries.
    for (const e of this.#entries) {
      if (e.lastOffset < fromOffset) continue
      if (e.firstOffset < toOffset) out.push(e)
    }
    return out
  }

  /** After a truncation to `offset`: entries whose marker is gone are dropped, their files rewritten. */
  truncateTo(offset: number): void {
    const dropped = this.#entries.filter((e) => e.lastOffset >= offset)
    if (dropped.length === 0) return
    this.#entries = this.#entries.filter((e) => e.lastOffset < offset)
    this.rewriteFiles(new Set(dropped.map((e) => this.#pathOf(e.lastOffset))))
  }

  /** Forgets entries whose marker lies below `offset` (their segments were deleted with their files). */
  dropBelow(offset: number): void {
    this.#entries = this.#entries.filter((e) => e.lastOffset >= offset)
  }

  /** Forgets the entries of markers compaction removed (the caller rewrites their files). */
  dropMarkers(lastOffsets: ReadonlySet<number>): void {
    if (lastOffsets.size > 0) this.#entries = this.#entries.filter((e) => !lastOffsets.has(e.lastOffset))
  }

  clear(): void {
    this.#entries = []
    this.#unsynced.clear()
    this.#rewriteOwed.clear()
  }

  /** Rewrites the given files from memory (after compaction merged segments, or a truncation). */
  rewriteFiles(paths: ReadonlySet<string>): void {
    for (const p of paths) {
      const entries = this.#entries.filter((e) => this.#pathOf(e.lastOffset) === p)
      if (entries.length === 0) unlinkIfExistsSync(p, this.#files)
      else this.#writeEntries(p, entries)
    }
  }

  /** Atomic and synced (temp file, rename): the entries below the snapshot have no other source. */
  #writeEntries(filePath: string, entries: readonly AbortedTxn[]): void {
    writeFileAtomicSync(filePath, Buffer.concat(entries.map(encodeAbortedTxn)), this.#fsync, this.#files)
    this.#unsynced.delete(filePath)
    this.#rewriteOwed.delete(filePath)
  }

  #insert(entry: AbortedTxn): void {
    let i = this.#entries.length
    while (i > 0 && this.#entries[i - 1].lastOffset > entry.lastOffset) i--
    if (this.#entries[i - 1]?.lastOffset === entry.lastOffset) return
    this.#entries.splice(i, 0, entry)
  }
}
