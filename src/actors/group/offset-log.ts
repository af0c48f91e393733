/**
 * The group coordinator's durable state: an append-only file of CRC-checked records, replayed on
 * open. Each frame is `u32 bodyLength | u32 crc32c(body) | body`, the body a msgpackr-encoded
 * record. A torn or corrupt tail (a crash mid-write) is cut off on open, so the file always ends on
 * a whole record. When the file holds far more records than the live state needs, it is rewritten
 * from a snapshot into a fresh file that atomically replaces the old one.
 */
import { crc32c } from '@node-rs/crc32'
import { Packr } from 'msgpackr'
import fs from 'node:fs'
import path from 'node:path'
import { assert } from '../../common/assert.js'
import { PartitaError } from '../../common/errors.js'

/** One committed offset: topic, partition, offset, leader epoch (-1 unknown), metadata, commit time. */
export type OffsetEntry = [topic: string, partition: number, offset: number, leaderEpoch: number, metadata: string | null, commitTimestampMs: number]

/** What the file holds: offset commits, group metadata (enough to list groups), group deletions. */
export type StoreRecord =
  | { t: 'c'; g: string; o: OffsetEntry[] }
  | { t: 'g'; g: string; pt: string; gen: number }
  | { t: 'd'; g: string }

export interface ReplaySummary {
  records: number
  /** Bytes cut off the end of the file because they did not form a whole, valid record. */
  truncatedBytes: number
}

export interface OffsetLogOptions {
  fsync: boolean
  /** Compact once the file holds more than max(this, 2 x live) records. */
  compactMinRecords: number
  /** How many live records a snapshot would hold now. */
  liveRecords: () => number
  /** The records that reproduce the live state, for compaction. */
  snapshot: () => Iterable<StoreRecord>
}

const headerBytes = 8
// A record is one commit request or one group's metadata; nothing near this size is legitimate,
// so a larger length can only be a torn or corrupt header.
const recordBytesMax = 64 * 1024 * 1024
// Appends waiting for the writer; beyond this the coordinator is overloaded and says so.
const pendingBytesMax = 64 * 1024 * 1024

const packr = new Packr({ useRecords: false, mapsAsObjects: true })

export function encodeFrame(record: StoreRecord): Buffer {
  const body = packr.pack(record)
  assert(body.length <= recordBytesMax, `offsets record of ${body.length} bytes exceeds ${recordBytesMax}`)
  const frame = Buffer.allocUnsafe(headerBytes + body.length)
  frame.writeUInt32BE(body.length, 0)
  frame.writeUInt32BE(crc32c(body) >>> 0, 4)
  body.copy(frame, headerBytes)
  return frame
}

function isStoreRecord(value: unknown): value is StoreRecord {
  if (typeof value !== 'object' || value === null) return false
  const record = value as { t?: unknown; g?: unknown; o?: unknown; pt?: unknown; gen?: unknown }
  if (typeof record.g !== 'string') return false
  if (record.t === 'c') return Array.isArray(record.o)
  if (record.t === 'g') return typeof record.pt === 'string' && typeof record.gen === 'number'
  return record.t === 'd'
}

/**
 * Parses whole, valid frames from the start of `data`, calling `onRecord` for each; returns how
 * many bytes they span (where the valid prefix ends) and how many records there were.
 */
export function parseFrames(data: Buffer, onRecord: (record: StoreRecord) => void): { validBytes: number; records: number } {
  let position = 0
  let records = 0
  // Bounded by the file: each pass consumes at least one header's worth of bytes or stops.
  while (position + headerBytes <= data.length) {
    const bodyLength = data.readUInt32BE(position)
    const expectedCrc = data.readUInt32BE(position + 4)
    const bodyStart = position + headerBytes
    if (bodyLength > recordBytesMax || bodyStart + bodyLength > data.length) break
    const body = data.subarray(bodyStart, bodyStart + bodyLength)
    if ((crc32c(body) >>> 0) !== expectedCrc) break
    let record: unknown
    try {
      record = packr.unpack(body)
    } catch {
      break
    }
    if (!isStoreRecord(record)) break
    onRecord(record)
    records++
    position = bodyStart + bodyLength
  }
  return { validBytes: position, records }
}

interface PendingAppend {
  frame: Buffer
  resolve: () => void
  reject: (error: Error) => void
}

export class OffsetLog {
  readonly filePath: string
  readonly #options: OffsetLogOptions
  #handle: fs.promises.FileHandle | null = null
  #records = 0
  #pending: PendingAppend[] = []
  #pendingBytes = 0
  #flushing: Promise<void> | null = null
  #compactions = 0

  constructor(filePath: string, options: OffsetLogOptions) {
    this.filePath = filePath
    this.#options = options
  }

  /** Records in the file now (appended or replayed), the figure compaction is judged on. */
  get recordCount(): number {
    return this.#records
  }

  get compactionCount(): number {
    return this.#compactions
  }

  /** Replays the file through `onRecord`, cuts off a bad tail, and opens it for appending. */
  async open(onRecord: (record: StoreRecord) => void): Promise<ReplaySummary> {
    assert(this.#handle === null, 'offsets log opened twice')
    await fs.promises.mkdir(path.dirname(this.filePath), { recursive: true })
    // A leftover from a compaction that crashed before its rename: the original file is intact.
    await fs.promises.rm(`${this.filePath}.compacting`, { force: true })
    let data: Buffer
    try {
      data = await fs.promises.readFile(this.filePath)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
      data = Buffer.alloc(0)
    }
    const { validBytes, records } = parseFrames(data, onRecord)
    if (validBytes < data.length) await fs.promises.truncate(this.filePath, validBytes)
    this.#records = records
    this.#handle = await fs.promises.open(this.filePath, 'a')
    return { records, truncatedBytes: data.length - validBytes }
  }

  /** Appends one record; resolves once it is written (and synced when configured). */
  append(record: StoreRecord): Promise<void> {
    if (this.#handle === null) return Promise.reject(new PartitaError('PARTITA_CLOSED', 'offsets log is not open'))
    const frame = encodeFrame(record)
    if (this.#pendingBytes + frame.length > pendingBytesMax) {
      return Promise.reject(new PartitaError('PARTITA_OVERLOADED', 'offsets log writer is behind'))
    }
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ frame, resolve, reject })
      this.#pendingBytes += frame.length
      this.#flushing ??= this.#flushLoop().finally(() => {
        this.#flushing = null
      })
    })
  }

  /** Waits for queued appends, then closes the file. */
  async close(): Promise<void> {
    // Bounded: the loop exits once the queue is empty, and nothing appends after close starts.
    while (this.#flushing !== null) await this.#flushing
    const handle = this.#handle
    this.#handle = null
    if (handle !== null) await handle.close()
  }

  // Writes everything queued in one write per pass (group commit), then compacts if due.
  async #flushLoop(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, this.#pending.length)
      const bytes = Buffer.concat(batch.map((item) => item.frame))
      this.#pendingBytes -= bytes.length
      try {
        const handle = this.#handle
        assert(handle !== null, 'offsets log closed with appends queued')
        await handle.write(bytes)
        if (this.#options.fsync) await handle.datasync()
        this.#records += batch.length
        for (const item of batch) item.resolve()
      } catch (error) {
        for (const item of batch) item.reject(error as Error)
        continue
      }
      if (this.#records > Math.max(this.#options.compactMinRecords, 2 * this.#options.liveRecords())) {
        try {
          await this.#compact()
        } catch {
          // The old file is still whole and in use; compaction is retried after the next batch.
          await fs.promises.rm(`${this.filePath}.compacting`, { force: true }).catch(() => undefined)
        }
      }
    }
  }

  // The snapshot reflects every record queued so far (the coordinator applies state before it
  // appends), so appends still queued are merely repeated after it, in order: replay ends the same.
  async #compact(): Promise<void> {
    const tempPath = `${this.filePath}.compacting`
    const frames: Buffer[] = []
    for (const record of this.#options.snapshot()) frames.push(encodeFrame(record))
    const temp = await fs.promises.open(tempPath, 'w')
    try {
      await temp.write(Buffer.concat(frames))
      await temp.datasync()
    } finally {
      await temp.close()
    }
    const old = this.#handle
    assert(old !== null, 'offsets log closed during compaction')
    await old.datasync()
    await fs.promises.rename(tempPath, this.filePath)
    await syncDirectory(path.dirname(this.filePath))
    this.#handle = await fs.promises.open(this.filePath, 'a')
    await old.close()
    this.#records = frames.length
    this.#compactions++
  }
}

async function syncDirectory(dirPath: string): Promise<void> {
  const dir = await fs.promises.open(dirPath, 'r')
  try {
    await dir.sync()
  } finally {
    await dir.close()
  }
}
