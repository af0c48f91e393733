/**
 * The durability phase's baseline: what this disk gives one thread that appends the benchmark's
 * batches to a file with fs.writeSync and makes them durable with fdatasync, every batch and
 * every `recordsPerSync` records (a group commit of that size), measured in the same run as the
 * broker's acks=all figures with and without fsync.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export interface RawFsyncFigures {
  label: string
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
    records,
    seconds: (performance.now() - startMs) / 1000,
    fdatasyncs,
    command: `one thread: fs.writeSync of ${batch.length} B batches (${recordsPerBatch} records) to a file in ${dir}, fs.fdatasyncSync every ${recordsPerSync} records`,
  }
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
