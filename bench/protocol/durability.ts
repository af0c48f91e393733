/**
 * The durability phase's baseline: what this disk gives one thread that appends the benchmark's
 * batches to a file with fs.writeSync and makes them durable with fdatasync, every batch and
 * every `recordsPerSync` records (a group commit of that size), measured in the same run as the
 * broker's acks=all figures with and without fsync.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import { compiledUrl } from '../../src/runtime/compiled-url.js'

export interface RawFsyncFigures {
  label: string
  /** Threads that wrote at once, each its own file (1 but for parallelRawFsync). */
  writers: number
  /** Records written, every writer's together. */
  records: number
  seconds: number
  fdatasyncs: number
  command: string
}

/** Appends `batch` (holding `recordsPerBatch` records) for `seconds`, fdatasyncing every `recordsPerSync` records. */
export function rawFsyncBaseline(batch: Buffer, recordsPerBatch: number, recordsPerSync: number, seconds: number, dir = os.tmpdir()): RawFsyncFigures {
  const file = path.join(fs.mkdtempSync(path.join(dir, 'partita-fsync-')), 'baseline.log')
  const fd = fs.openSync(file, 'w')
  let records = 0
  let fdatasyncs = 0
  let position = 0
  let unsynced = 0
  const startMs = performance.now()
  const endMs = startMs + seconds * 1000
  try {
    // Bounded by the clock: each pass writes one batch.
    while (performance.now() < endMs) {
      position += fs.writeSync(fd, batch, 0, batch.length, position)
      records += recordsPerBatch
      unsynced += recordsPerBatch
      if (unsynced >= recordsPerSync) {
        fs.fdatasyncSync(fd)
        fdatasyncs++
        unsynced = 0
      }
    }
  } finally {
    fs.closeSync(fd)
    fs.rmSync(path.dirname(file), { recursive: true, force: true })
  }
  return {
    label: `raw writeSync+fdatasync every ${recordsPerSync} records`,
    writers: 1,
    records,
    seconds: (performance.now() - startMs) / 1000,
    fdatasyncs,
    command: `one thread: fs.writeSync of ${batch.length} B batches (${recordsPerBatch} records) to a file in ${dir}, fs.fdatasyncSync every ${recordsPerSync} records`,
  }
}

/** What each writer of parallelRawFsync is given, on its own thread (raw-fsync-writer.ts). */
export interface RawFsyncWriterInput {
  batch: Uint8Array
  recordsPerBatch: number
  recordsPerSync: number
  seconds: number
  dir: string
}

/**
 * The disk's ceiling for acks=all at replication factor `writers` with fsync on: `writers` threads
 * at once, each doing rawFsyncBaseline on a file of its own, as each replica's shard appends and
 * fdatasyncs its own copy of every record on this one disk. `records` counts every writer's, so
 * records / writers is the rate of records produced that the disk could make durable `writers`
 * times over; one writer's figure says less, since concurrent fdatasyncs overlap.
 */
export async function parallelRawFsync(batch: Buffer, recordsPerBatch: number, recordsPerSync: number, seconds: number, writers: number, dir = os.tmpdir()): Promise<RawFsyncFigures> {
  const input: RawFsyncWriterInput = { batch, recordsPerBatch, recordsPerSync, seconds, dir }
  const url = compiledUrl(import.meta.url, './raw-fsync-writer.js')
  const each = await Promise.all(
    Array.from({ length: writers }, () => {
      const worker = new Worker(url, { workerData: input })
      return new Promise<RawFsyncFigures>((resolve, reject) => {
        worker.once('message', resolve)
        worker.once('error', reject)
        worker.once('exit', (code) => reject(new Error(`a raw fdatasync writer exited with ${code} before it answered`)))
      }).finally(() => void worker.terminate())
    }),
  )
  return {
    label: `raw, ${writers} writers at once, each every ${recordsPerSync} records`,
    writers,
    records: each.reduce((sum, figures) => sum + figures.records, 0),
    seconds: Math.max(...each.map((figures) => figures.seconds)),
    fdatasyncs: each.reduce((sum, figures) => sum + figures.fdatasyncs, 0),
    command: `${writers} threads at once, each ${each[0].command.replace(/^one thread: /, '')}`,
  }
}

/** parallelRawFsync just before and just after the phases it is the ceiling of. */
export interface DiskCeiling {
  before: RawFsyncFigures
  after: RawFsyncFigures
}

/**
 * The records per second a raw baseline made durable once each: with several writers at once,
 * every writer's share, which is the produce rate at that replication factor that the disk kept
 * up with.
 */
export function rawDurableRate(figures: RawFsyncFigures): number {
  return figures.records / figures.writers / figures.seconds
}

/** The higher of the two measurements: the disk's best in that minute bounds what a broker could do. */
export function diskCeilingRate(ceiling: DiskCeiling): number {
  return Math.max(rawDurableRate(ceiling.before), rawDurableRate(ceiling.after))
}

export interface FdatasyncLatency {
  syncs: number
  p50Ms: number
  p99Ms: number
  p999Ms: number
  maxMs: number
  command: string
}

/**
 * How long one fdatasync of a small append takes on this disk, alone, as a group-commit round of
 * one partition at a fixed rate would ask: the floor under end-to-end latency with
 * partita.fsync.mode=acks-all, where consumers see a record only once it is on disk.
 */
export function fdatasyncLatency(appendBytes: number, syncsMax: number, seconds: number, dir = os.tmpdir()): FdatasyncLatency {
  const file = path.join(fs.mkdtempSync(path.join(dir, 'partita-fsync-')), 'latency.log')
  const fd = fs.openSync(file, 'w')
  const append = Buffer.alloc(appendBytes, 1)
  const latenciesMs: number[] = []
  const endMs = performance.now() + seconds * 1000
  let position = 0
  try {
    // Bounded by syncsMax and by the clock.
    while (latenciesMs.length < syncsMax && performance.now() < endMs) {
      position += fs.writeSync(fd, append, 0, append.length, position)
      const startMs = performance.now()
      fs.fdatasyncSync(fd)
      latenciesMs.push(performance.now() - startMs)
    }
  } finally {
    fs.closeSync(fd)
    fs.rmSync(path.dirname(file), { recursive: true, force: true })
  }
  latenciesMs.sort((a, b) => a - b)
  const at = (p: number): number => latenciesMs[Math.min(latenciesMs.length - 1, Math.floor(latenciesMs.length * p))] ?? NaN
  return {
    syncs: latenciesMs.length,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    p999Ms: at(0.999),
    maxMs: latenciesMs.at(-1) ?? NaN,
    command: `one thread: fs.writeSync of ${appendBytes} B then fs.fdatasyncSync, ${latenciesMs.length} times, in ${dir}`,
  }
}
