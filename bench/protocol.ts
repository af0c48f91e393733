/**
 * `npm run bench:protocol`: the broker over TCP, driven by a load generator that pre-encodes its
 * record batches, so the broker is measured and not a client library.
 *
 * The broker runs as its own process (`partita start`), so its peak RSS (VmHWM) is its own. For
 * each record size (100 B, 1 KiB) and acks (1, all) the generator keeps several pipelined
 * Produce requests in flight over a few connections to 64 partitions for a fixed time, then
 * fetches everything back. Printed: records/s, MB/s, produce latency p50/p99/p99.9, fetch
 * records/s, and the broker's peak RSS.
 *
 * Environment: BENCH_SECONDS (default 5) per figure; BENCH_CONNECTIONS (4); BENCH_IN_FLIGHT (8).
 * acks=all runs against three logical brokers with replication factor 3.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Connection } from '../src/client/wire/connection.js'
import { KafkaClient } from '../src/client/wire/kafka-client.js'
import { ApiKey } from '../src/protocol/index.js'
import { encodeBatch, iterateBatches, RECORD_COUNT_OFFSET } from '../src/storage/record-batch.js'

const PARTITIONS = 64
const BATCH_BYTES = 16 * 1024
const seconds = Number(process.env.BENCH_SECONDS ?? '5')
const connectionCount = Number(process.env.BENCH_CONNECTIONS ?? '4')
const inFlight = Number(process.env.BENCH_IN_FLIGHT ?? '8')

interface BrokerProcess {
  child: ChildProcess
  bootstrap: string
  dataDir: string
}

async function startBrokerProcess(brokers: number): Promise<BrokerProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'partita-bench-'))
  const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url))
  const child = spawn(process.execPath, [cli, 'start', '--port', '0', '--data-dir', dataDir, '--brokers', String(brokers), '--shards', String(Math.max(2, brokers))], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const bootstrap = await new Promise<string>((resolve, reject) => {
    let output = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const match = /listening on (\S+)/.exec(output)
      if (match !== null) resolve(match[1])
    })
    child.once('exit', (code) => reject(new Error(`broker exited with ${code} before listening`)))
  })
  return { child, bootstrap, dataDir }
}

async function stopBrokerProcess(broker: BrokerProcess): Promise<void> {
  const exited = new Promise((resolve) => broker.child.once('exit', resolve))
  broker.child.kill('SIGTERM')
  await exited
  rmSync(broker.dataDir, { recursive: true, force: true })
}

/** Peak resident set of a process in MB, from /proc (Linux). */
function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /VmHWM:\s+(\d+) kB/.exec(status)
  return match === null ? NaN : Number(match[1]) / 1024
}

/** One batch per partition, built once and sent again and again (the broker stamps its copy). */
function prebuiltBatch(recordBytes: number): { bytes: Buffer; records: number } {
  const value = Buffer.alloc(recordBytes, 0x61)
  const perBatch = Math.max(1, Math.floor(BATCH_BYTES / (recordBytes + 8)))
  const records = Array.from({ length: perBatch }, (_, i) => ({ key: null, value, offsetDelta: i, timestampDelta: 0 }))
  return { bytes: encodeBatch({ baseTimestamp: Date.now(), records }), records: perBatch }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
}

interface ProduceFigures {
  records: number
  bytes: number
  seconds: number
  latenciesMs: number[]
}

async function produceLoad(bootstrap: string, topic: string, recordBytes: number, acks: -1 | 1): Promise<ProduceFigures> {
  const [host, port] = bootstrap.split(':')
  const batch = prebuiltBatch(recordBytes)
  const connections = await Promise.all(
    Array.from({ length: connectionCount }, () => Connection.connect({ host, port: Number(port), maxInFlight: inFlight, requestTimeoutMs: 60_000 })),
  )
  const figures: ProduceFigures = { records: 0, bytes: 0, seconds: 0, latenciesMs: [] }
  const deadline = performance.now() + seconds * 1000
  const started = performance.now()
  const lanes = connections.flatMap((connection, c) => {
    const partitions = Array.from({ length: PARTITIONS }, (_, p) => p).filter((p) => p % connectionCount === c)
    const body = { acks, timeoutMs: 30_000, topicData: [{ name: topic, partitionData: partitions.map((index) => ({ index, records: batch.bytes })) }] }
    return Array.from({ length: inFlight }, async () => {
      // Bounded by the deadline: each turn is one produce request.
      while (performance.now() < deadline) {
        const t0 = performance.now()
        const response = await connection.send(ApiKey.Produce, body, { version: 7 })
        figures.latenciesMs.push(performance.now() - t0)
        for (const t of response.responses) {
          for (const p of t.partitionResponses) if (p.errorCode !== 0) throw new Error(`produce error ${p.errorCode}`)
        }
        figures.records += batch.records * partitions.length
        figures.bytes += batch.records * recordBytes * partitions.length
      }
    })
  })
  await Promise.all(lanes)
  figures.seconds = (performance.now() - started) / 1000
  for (const connection of connections) connection.close()
  return figures
}

/**
 * Reads every partition from offset 0 to its end with pipelined fetches over as many connections
 * and requests in flight as the produce load used; counts records from batch headers.
 */
async function fetchAll(bootstrap: string, topic: string): Promise<{ records: number; bytes: number; seconds: number }> {
  const [host, port] = bootstrap.split(':')
  const connections = await Promise.all(
    Array.from({ length: connectionCount }, () => Connection.connect({ host, port: Number(port), maxInFlight: inFlight, requestTimeoutMs: 60_000 })),
  )
  const laneCount = connectionCount * inFlight
  const offsets = new Array<number>(PARTITIONS).fill(0)
  const done = new Array<boolean>(PARTITIONS).fill(false)
  let records = 0
  let bytes = 0
  const started = performance.now()
  const lanes = Array.from({ length: laneCount }, async (_, lane) => {
    const connection = connections[lane % connectionCount]
    const mine = Array.from({ length: PARTITIONS }, (_, p) => p).filter((p) => p % laneCount === lane)
    // Bounded: every round advances at least one partition or marks it done.
    for (let round = 0; round < 1_000_000 && mine.some((p) => !done[p]); round++) {
      const open = mine.filter((p) => !done[p])
      const response = await connection.send(
        ApiKey.Fetch,
        {
          replicaId: -1,
          maxWaitMs: 0,
          minBytes: 0,
          maxBytes: 4 * 1024 * 1024,
          isolationLevel: 0,
          topics: [{ topic, partitions: open.map((partition) => ({ partition, fetchOffset: offsets[partition], partitionMaxBytes: 1024 * 1024 })) }],
        },
        { version: 11 },
      )
      for (const t of response.responses) {
        for (const p of t.partitions) {
          const data = p.records
          if (data === null || data.length === 0 || offsets[p.partitionIndex] >= p.highWatermark) {
            done[p.partitionIndex] = true
            continue
          }
          bytes += data.length
          for (const span of iterateBatches(data)) {
            records += data.readInt32BE(span.pos + RECORD_COUNT_OFFSET)
            offsets[p.partitionIndex] = Number(data.readBigInt64BE(span.pos)) + data.readInt32BE(span.pos + 23) + 1
          }
          if (offsets[p.partitionIndex] >= p.highWatermark) done[p.partitionIndex] = true
        }
      }
    }
  })
  await Promise.all(lanes)
  const elapsed = (performance.now() - started) / 1000
  for (const connection of connections) connection.close()
  return { records, bytes, seconds: elapsed }
}

async function run(recordBytes: number, acks: -1 | 1): Promise<void> {
  const brokers = acks === -1 ? 3 : 1
  const broker = await startBrokerProcess(brokers)
  try {
    const admin = await KafkaClient.connect({ bootstrapServers: broker.bootstrap })
    const topic = `bench-${recordBytes}`
    await admin.createTopics([{ name: topic, numPartitions: PARTITIONS, replicationFactor: brokers }])
    await admin.close()
    const produced = await produceLoad(broker.bootstrap, topic, recordBytes, acks)
    const producePeakRssMb = peakRssMb(broker.child.pid!)
    const fetched = await fetchAll(broker.bootstrap, topic)
    const sorted = produced.latenciesMs.sort((a, b) => a - b)
    const label = `${recordBytes === 1024 ? '1 KiB' : `${recordBytes} B`} records, acks=${acks === -1 ? 'all (RF 3)' : '1'}`
    console.log(
      `${label.padEnd(30)} produce ${(produced.records / produced.seconds / 1e6).toFixed(2)} M rec/s ${(produced.bytes / produced.seconds / 1e6).toFixed(0)} MB/s` +
        `  latency p50 ${percentile(sorted, 0.5).toFixed(1)} ms p99 ${percentile(sorted, 0.99).toFixed(1)} ms p99.9 ${percentile(sorted, 0.999).toFixed(1)} ms` +
        `  fetch ${(fetched.records / fetched.seconds / 1e6).toFixed(2)} M rec/s ${(fetched.bytes / fetched.seconds / 1e6).toFixed(0)} MB/s` +
        `  broker peak RSS ${producePeakRssMb.toFixed(0)} MB producing, ${peakRssMb(broker.child.pid!).toFixed(0)} MB after fetching`,
    )
  } finally {
    await stopBrokerProcess(broker)
  }
}

console.log(`protocol benchmark: ${PARTITIONS} partitions, ${BATCH_BYTES / 1024} KiB batches, ${connectionCount} connections x ${inFlight} in flight, ${seconds} s per figure`)
for (const recordBytes of [100, 1024]) {
  for (const acks of [1, -1] as const) await run(recordBytes, acks)
}
