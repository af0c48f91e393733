/**
 * `npm run bench:compressed-produce`: the broker's resident memory while producers send
 * compressed batches, beside the same batches uncompressed in the same run (the baseline). The
 * broker validates a compressed batch by decompressing it on the CPU pool, so a decompressed
 * buffer that is never freed shows here as RSS that grows with the records sent.
 *
 * Each codec runs on a fresh one-broker `partita start` process for `--seconds` (default 20):
 * 4 partitions, acks=1, batches of 200 records of 1,000 bytes, one produce per partition in flight.
 * Printed per codec: batches/s, RSS at 5 s and at the end, and the broker's CPU per record.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { KafkaClient } from '../src/client/wire/kafka-client.js'
import { compress } from '../src/records/compression.js'
import { CompressionType, encodeBatch } from '../src/records/record-batch.js'
import { compiledUrl } from '../src/runtime/compiled-url.js'

const RECORDS_PER_BATCH = 200
const RECORD_BYTES = 1_000
const PARTITIONS = 4
const SETTLE_MS = 5_000

function rssMiB(pid: number): number {
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024)
}

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
}

async function measure(codec: number, name: string, seconds: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'partita-bench-compressed-'))
  const cli = fileURLToPath(compiledUrl(import.meta.url, '../src/cli/main.js'))
  const child = spawn(process.execPath, [cli, 'start', '--port', '0', '--admin-port', 'off', '--data-dir', join(dir, 'data'), '--brokers', '1'], { stdio: ['ignore', 'pipe', 'ignore'] })
  try {
    let output = ''
    const bootstrapServers = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        const match = /partita: listening on (\S+)/.exec(output)
        if (match !== null) resolve(match[1])
      })
      child.once('exit', (code) => reject(new Error(`partita start exited with ${code}`)))
    })
    const pid = child.pid!
    const client = await KafkaClient.connect({ bootstrapServers, clientId: 'bench-compressed' })
    await client.createTopics([{ name: 'c', numPartitions: PARTITIONS, replicationFactor: 1 }])
    await client.topic('c')
    const value = Buffer.alloc(RECORD_BYTES)
    for (let i = 0; i < value.length; i++) value[i] = (i * 13) % 97
    const batch = encodeBatch({ records: Array.from({ length: RECORDS_PER_BATCH }, () => ({ key: null, value })), baseTimestamp: Date.now(), compression: codec, compress })
    const startMs = performance.now()
    const cpuStartMs = cpuMs(pid)
    let batches = 0
    let rssSettled: number | null = null
    // Bounded by the clock: each pass sends one batch per partition.
    while (performance.now() - startMs < seconds * 1000) {
      await Promise.all(Array.from({ length: PARTITIONS }, (_, p) => client.produce([{ topic: 'c', partition: p, records: batch }], { acks: 1 })))
      batches += PARTITIONS
      if (rssSettled === null && performance.now() - startMs >= SETTLE_MS) rssSettled = rssMiB(pid)
    }
    const elapsedS = (performance.now() - startMs) / 1000
    const cpuUsPerRecord = ((cpuMs(pid) - cpuStartMs) * 1000) / (batches * RECORDS_PER_BATCH)
    const line = `${name.padEnd(6)} ${String(batch.length).padStart(7)} B/batch  ${Math.round(batches / elapsedS).toString().padStart(6)} batches/s  RSS ${rssSettled ?? '?'} MiB at 5 s, ${rssMiB(pid)} MiB at ${Math.round(elapsedS)} s  broker CPU ${cpuUsPerRecord.toFixed(2)} µs/record`
    await client.close()
    return line
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)))
    rmSync(dir, { recursive: true, force: true })
  }
}

const secondsArg = process.argv.indexOf('--seconds')
const seconds = secondsArg === -1 ? 20 : Number(process.argv[secondsArg + 1])
console.log(`compressed produce: ${RECORDS_PER_BATCH} records of ${RECORD_BYTES} B per batch, ${PARTITIONS} partitions, acks=1, ${seconds} s per codec; baseline: the same batches uncompressed`)
for (const [codec, name] of [
  [CompressionType.NONE, 'none'],
  [CompressionType.GZIP, 'gzip'],
  [CompressionType.SNAPPY, 'snappy'],
  [CompressionType.LZ4, 'lz4'],
  [CompressionType.ZSTD, 'zstd'],
] as const) {
  console.log(await measure(codec, name, seconds))
}
