/**
 * `npm run bench:compressed-produce`: the broker's resident memory while producers send
 * compressed batches, beside the same batches uncompressed in the same run (the baseline). The
 * broker validates a compressed batch by decompressing it (on the shard, or on the CPU pool when
 * it inflates past INLINE_DECOMPRESSED_BYTES_MAX), so a decompressed buffer that is never freed
 * shows here as RSS that grows with the records sent.
 *
 * Each codec runs on a fresh one-broker `partita start` process (as `partita bench` starts it) for `--seconds` (default 20):
 * 4 partitions, acks=1, batches of 200 records of 1,000 bytes, one produce per partition in flight.
 * Printed per codec: batches/s, RSS at 5 s and at the end, and CPU per record by thread.
 */
import { KafkaClient } from '../src/client/wire/kafka-client.js'
import { describePhaseCpu, endPhaseCpu, startPhaseCpu } from '../src/bench/run-cpu.js'
import { startPartitaProcess } from '../src/bench/start-partita.js'
import { compress } from '../src/records/compression.js'
import { CompressionType, encodeBatch } from '../src/records/record-batch.js'
import { residentMb } from './protocol/servers.js'

const RECORDS_PER_BATCH = 200
const RECORD_BYTES = 1_000
const PARTITIONS = 4
const SETTLE_MS = 5_000

async function measure(codec: number, name: string, seconds: number): Promise<string> {
  const partita = await startPartitaProcess(1)
  try {
    const { pid } = partita.server
    const rssMb = (): number => Math.round(residentMb(pid).currentMb)
    const client = await KafkaClient.connect({ bootstrapServers: partita.bootstrapServers, clientId: 'bench-compressed' })
    await client.createTopics([{ name: 'c', numPartitions: PARTITIONS, replicationFactor: 1 }])
    await client.topic('c')
    const value = Buffer.alloc(RECORD_BYTES)
    for (let i = 0; i < value.length; i++) value[i] = (i * 13) % 97
    const batch = encodeBatch({ records: Array.from({ length: RECORDS_PER_BATCH }, () => ({ key: null, value })), baseTimestamp: Date.now(), compression: codec, compress })
    const startMs = performance.now()
    const cpuStart = startPhaseCpu(partita.server)
    let batches = 0
    let rssSettled: number | null = null
    // Bounded by the clock: each pass sends one batch per partition.
    while (performance.now() - startMs < seconds * 1000) {
      await Promise.all(Array.from({ length: PARTITIONS }, (_, p) => client.produce([{ topic: 'c', partition: p, records: batch }], { acks: 1 })))
      batches += PARTITIONS
      if (rssSettled === null && performance.now() - startMs >= SETTLE_MS) rssSettled = rssMb()
    }
    const elapsedS = (performance.now() - startMs) / 1000
    const cpu = endPhaseCpu(cpuStart, partita.server)
    await client.close()
    const figures = `${name.padEnd(6)} ${String(batch.length).padStart(7)} B/batch  ${Math.round(batches / elapsedS).toString().padStart(6)} batches/s  RSS ${rssSettled ?? '?'} MiB at 5 s, ${rssMb()} MiB at ${Math.round(elapsedS)} s`
    return cpu === null ? figures : `${figures}\n       ${describePhaseCpu(cpu, batches * RECORDS_PER_BATCH)}`
  } finally {
    await partita.stop()
  }
}

const secondsArg = process.argv.indexOf('--seconds')
const seconds = secondsArg === -1 ? 20 : Number(process.argv[secondsArg + 1])
if (!Number.isFinite(seconds) || seconds <= 0) {
  console.error(`bench:compressed-produce: --seconds must be a positive number, got '${process.argv[secondsArg + 1]}'`)
  process.exit(2)
}
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
