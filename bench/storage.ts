/**
 * Storage benchmark: appends PARTITA_BENCH_BYTES (default 1 GiB) of 100-byte and then 1 KiB
 * records in pre-built 16 KiB batches to a PartitionLog, beside a plain sequential fs.writeSync
 * of the same bytes in the same run; then reads the log back and times recovery of the whole log
 * after an unclean stop (no clean-shutdown marker, no recovery point).
 *
 *   npm run bench:storage                      # 1 GiB per record size
 *   PARTITA_BENCH_BYTES=268435456 npm run bench:storage
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { SystemClock } from '../src/common/clock.js'
import { DEFAULT_LOG_CONFIG } from '../src/storage/log-config.js'
import { PartitionLog } from '../src/storage/log.js'
import { encodeBatch } from '../src/records/record-batch.js'

const TOTAL_BYTES = Number(process.env.PARTITA_BENCH_BYTES ?? 1024 * 1024 * 1024)
const BATCH_BYTES = 16 * 1024
const DISTINCT_BATCHES = 64
const READ_MAX_BYTES = 1024 * 1024
const MiB = 1024 * 1024

/** Batches of about 16 KiB holding `valueBytes`-byte records with random values and no key. */
function buildBatches(valueBytes: number): { batches: Buffer[]; recordsPerBatch: number } {
  const perRecordBytes = valueBytes + 11 // length, attributes, deltas, key -1, value length, headers
  const recordsPerBatch = Math.max(1, Math.floor((BATCH_BYTES - 61) / perRecordBytes))
  const batches = []
  for (let b = 0; b < DISTINCT_BATCHES; b++) {
    const records = []
    for (let i = 0; i < recordsPerBatch; i++) {
      records.push({ key: null, value: crypto.randomBytes(valueBytes), timestampDelta: i })
    }
    batches.push(encodeBatch({ baseTimestamp: Date.now(), records }))
  }
  return { batches, recordsPerBatch }
}

function seconds(startNs: bigint): number {
  return Number(process.hrtime.bigint() - startNs) / 1e9
}

function rawWrite(file: string, batches: Buffer[], count: number): number {
  const fd = fs.openSync(file, 'w')
  const start = process.hrtime.bigint()
  let position = 0
  for (let i = 0; i < count; i++) {
    const b = batches[i % batches.length]
    fs.writeSync(fd, b, 0, b.length, position)
    position += b.length
  }
  const elapsed = seconds(start)
  fs.closeSync(fd)
  return elapsed
}

async function run(valueBytes: number): Promise<void> {
  const { batches, recordsPerBatch } = buildBatches(valueBytes)
  const count = Math.ceil(TOTAL_BYTES / batches[0].length)
  const bytes = count * batches[0].length
  const records = count * recordsPerBatch
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'partita-bench-'))
  try {
    const rawFile = path.join(dir, 'raw.bin')
    const rawSeconds = rawWrite(rawFile, batches, count)
    fs.rmSync(rawFile)

    const logDir = path.join(dir, 'log')
    const config = { ...DEFAULT_LOG_CONFIG, retentionMs: -1 }
    const clock = new SystemClock()
    const log = await PartitionLog.open(logDir, config, { clock })
    const start = process.hrtime.bigint()
    for (let i = 0; i < count; i++) log.append(batches[i % batches.length], { leaderEpoch: 0, assignOffsets: true })
    const logSeconds = seconds(start)

    const readStart = process.hrtime.bigint()
    let offset = log.logStartOffset
    let readBytes = 0
    // Bounded: each read returns at least one batch and advances the offset.
    while (offset < log.logEndOffset) {
      const result = log.read(offset, READ_MAX_BYTES)
      readBytes += result.records.length
      offset = result.nextOffset
    }
    const readSeconds = seconds(readStart)
    await log.close()

    // An unclean stop with nothing checkpointed: every batch is scanned and CRC-checked.
    // No marker names it (a log directory's marker is its broker's), and no recovery point.
    fs.rmSync(path.join(logDir, 'recovery-point'), { force: true })
    const recoverStart = process.hrtime.bigint()
    const recovered = await PartitionLog.open(logDir, config, { clock })
    const recoverSeconds = seconds(recoverStart)
    if (recovered.logEndOffset !== log.logEndOffset) throw new Error('recovery lost records')
    await recovered.close()

    const mb = bytes / MiB
    console.log(`\n${valueBytes}-byte records, ${recordsPerBatch} per ${batches[0].length}-byte batch, ${mb.toFixed(0)} MiB, ${records} records`)
    console.log(`  raw fs.writeSync : ${(mb / rawSeconds).toFixed(0).padStart(6)} MiB/s  ${(records / rawSeconds / 1e6).toFixed(2)} M records/s`)
    console.log(`  PartitionLog     : ${(mb / logSeconds).toFixed(0).padStart(6)} MiB/s  ${(records / logSeconds / 1e6).toFixed(2)} M records/s  (${((rawSeconds / logSeconds) * 100).toFixed(0)}% of raw)`)
    console.log(`  read back        : ${(readBytes / MiB / readSeconds).toFixed(0).padStart(6)} MiB/s (1 MiB reads, CRC checked)`)
    console.log(`  recovery         : ${recoverSeconds.toFixed(2)} s for ${mb.toFixed(0)} MiB (${(mb / recoverSeconds).toFixed(0)} MiB/s, full scan)`)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

console.log(`storage bench: ${(TOTAL_BYTES / MiB).toFixed(0)} MiB per run, node ${process.version}, ${os.cpus().length} cpus`)
await run(100)
await run(1024)
