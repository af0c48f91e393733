/**
 * The aborted-transaction index of one log (KIP-98): for each aborted transaction, its producer,
 * its first offset and its ABORT marker's offset, so a read_committed fetch can name the aborted
 * transactions in its range and the consumer drop their records. On disk it is Kafka's
 * `.txnindex`, one file per segment holding the entries whose marker lies in that segment:
 *
 *   34 bytes per entry, big-endian: version int16 (0) | producerId int64 | firstOffset int64 |
 *                                   lastOffset int64 | lastStableOffset int64
 *
 * Files are appended without fsync: a torn or lost tail only loses entries whose markers the
 * owner's producer-state replay adds back (see PartitionReplica.open), and an entry whose marker
 * recovery cut off is dropped at load. In memory the entries are kept sorted by lastOffset.
 */
import fs from 'node:fs'
import { assert } from '../common/assert.js'
import { readInt64, writeInt64 } from '../records/record-batch.js'
import { unlinkIfExistsSync } from './checkpoint-file.js'

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

/** Decodes whole entries; a torn last entry and anything after an unknown version are ignored. */
export function decodeAbortedTxns(buf: Buffer): AbortedTxn[] {
  const out: AbortedTxn[] = []
  for (let pos = 0; pos + TXN_INDEX_ENTRY_BYTES <= buf.length; pos += TXN_INDEX_ENTRY_BYTES) {
    if (buf.readInt16BE(pos) !== ENTRY_VERSION) break
    const entry = { producerId: readInt64(buf, pos + 2), firstOffset: readInt64(buf, pos + 10), lastOffset: readInt64(buf, pos + 18), lastStableOffset: readInt64(buf, pos + 26) }
    if (entry.firstOffset < 0 || entry.lastOffset < entry.firstOffset) break
    out.push(entry)
  }
  return out
}

/** Where each entry is stored: the txnindex path of the segment holding an offset. */
export type TxnIndexPathOf = (offset: number) => string

export class AbortedTxnIndex {
  #entries: AbortedTxn[] = []

  get size(): number {
    return this.#entries.length
  }

  entries(): readonly AbortedTxn[] {
    return this.#entries
  }

  /** Loads one segment's file (at open); entries at or past `logEndOffset` lost their marker. */
  load(filePath: string, logEndOffset: number): boolean {
    let bytes: Buffer
    try {
      bytes = fs.readFileSync(filePath)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
      throw error
    }
    const decoded = decodeAbortedTxns(bytes)
    const kept = decoded.filter((e) => e.lastOffset < logEndOffset)
    for (const entry of kept) this.#insert(entry)
    // A torn tail or an entry past the recovered log end: rewrite the file to what holds.
    const dirty = kept.length * TXN_INDEX_ENTRY_BYTES !== bytes.length
    if (dirty) writeEntries(filePath, kept)
    return dirty
  }

  /** Adds an aborted transaction (its marker just appended, or found again by replay). */
  add(entry: AbortedTxn, pathOf: TxnIndexPathOf): void {
    assert(entry.firstOffset <= entry.lastOffset, `aborted txn ${entry.firstOffset}..${entry.lastOffset}`)
    if (this.#entries.some((e) => e.lastOffset === entry.lastOffset)) return
    this.#insert(entry)
    fs.appendFileSync(pathOf(entry.lastOffset), encodeAbortedTxn(entry))
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
  truncateTo(offset: number, pathOf: TxnIndexPathOf): void {
    const dropped = this.#entries.filter((e) => e.lastOffset >= offset)
    if (dropped.length === 0) return
    this.#entries = this.#entries.filter((e) => e.lastOffset < offset)
    this.rewriteFiles(new Set(dropped.map((e) => pathOf(e.lastOffset))), pathOf)
  }

  /** Forgets entries whose marker lies below `offset` (their segments were deleted with their files). */
  dropBelow(offset: number): void {
    this.#entries = this.#entries.filter((e) => e.lastOffset >= offset)
  }

  clear(): void {
    this.#entries = []
  }

  /** Rewrites the given files from memory (after compaction merged segments, or a truncation). */
  rewriteFiles(paths: ReadonlySet<string>, pathOf: TxnIndexPathOf): void {
    for (const p of paths) {
      const entries = this.#entries.filter((e) => pathOf(e.lastOffset) === p)
      if (entries.length === 0) unlinkIfExistsSync(p)
      else writeEntries(p, entries)
    }
  }

  #insert(entry: AbortedTxn): void {
    let i = this.#entries.length
    while (i > 0 && this.#entries[i - 1].lastOffset > entry.lastOffset) i--
    if (this.#entries[i - 1]?.lastOffset === entry.lastOffset) return
    this.#entries.splice(i, 0, entry)
  }
}

function writeEntries(filePath: string, entries: readonly AbortedTxn[]): void {
  fs.writeFileSync(filePath, Buffer.concat(entries.map(encodeAbortedTxn)))
}
