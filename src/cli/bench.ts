/**
 * `partita bench produce|consume|e2e`: the benchmark harness (src/bench) from the command line.
 * Without -b it starts its own Partita in a temporary directory; with -b it measures any broker
 * that speaks the Kafka protocol. `--peer redis|nats` runs the same workload against Redis Streams
 * and NATS JetStream, started from the machine's own binaries.
 */
import type { Command } from 'commander'
import { PEER_NAMES, type PeerName } from '../bench/peers/start-peer.js'
import type { BenchMode, WorkloadSettings } from '../bench/run.js'
import { CliError, parseInteger } from './common.js'
import { parseAcks } from './produce.js'

interface BenchOptions {
  brokers?: string
  bootstrapServer?: string
  records: string
  recordSize: string
  partitions: string
  acks: string
  throughput: string
  producers: string
  consumers: string
  batchBytes: string
  inFlight: string
  reportingInterval: string
  warmupRecords?: string
  peer?: PeerName[]
  json?: string
  report?: string
  partitaBrokers?: string
  durability: string
}

const WARMUP_RECORDS_MAX = 500_000

/**
 * Records sent unmeasured before a produce or e2e run unless --warmup-records says otherwise: as
 * many as the measured run, at most 500,000, for every system alike. A JIT-compiled broker still
 * compiles its hot code seconds into a run on a busy box: after 20,000 records of warm-up (the old
 * default) Partita measured 0.26x Redis Streams' produce rate, after 200,000 1.22x, in runs minutes
 * apart. OpenMessaging Benchmark warms up for a minute.
 */
export function defaultWarmupRecords(records: number): number {
  return Math.min(records, WARMUP_RECORDS_MAX)
}

const MODES: Record<BenchMode, string> = {
  produce: "producers only; prints kafka-producer-perf-test's lines",
  consume: "records written first, then read back; prints kafka-consumer-perf-test's lines",
  e2e: "consumers read while producers write; prints the producer lines and Kafka's EndToEndLatency lines",
}

export function registerBench(program: Command): void {
  const bench = program.command('bench').description('benchmark produce, consume or end-to-end latency against Partita, any Kafka broker, and peers')
  for (const [mode, description] of Object.entries(MODES) as Array<[BenchMode, string]>) {
    bench
      .command(mode)
      .description(description)
      .option('-b, --brokers <host:port,...>', 'a Kafka-protocol broker to measure (default: start a Partita in a temporary directory)')
      .option('--bootstrap-server <host:port,...>', 'same as -b')
      .option('--records <n>', 'records to send', '100000')
      .option('--record-size <bytes>', 'bytes per record value', '100')
      .option('--partitions <n>', 'partitions of the fresh topic (streams for Redis, subjects for NATS)', '4')
      .option('--acks <acks>', 'all (-1), 1 or 0', 'all')
      .option('--throughput <records/s>', 'a fixed rate over all producers, for latency runs (-1: as fast as acknowledgements allow)', '-1')
      .option('--producers <n>', 'producers, each with its own connection', '1')
      .option('--consumers <n>', 'consumers, each with its own connection (partitions are split among them)', '1')
      .option('--batch-bytes <n>', "bytes of values per send (Kafka's batch.size)", '16384')
      .option('--in-flight <n>', 'batches outstanding per partition and producer, and Kafka requests per connection (max.in.flight.requests.per.connection)', '5')
      .option('--reporting-interval <ms>', 'how often the periodic line prints', '5000')
      .option('--warmup-records <n>', 'records sent unmeasured before a produce or e2e run (default: as many as --records, at most 500000)')
      .option('--peer <name>', `run the same workload against a peer too: ${peerList()} (repeatable; kafka-ceiling: a bare Node server answering the same Kafka client at once, the floor under Partita)`, collectPeers)
      .option('--json <file>', "write the results with OpenMessaging Benchmark's field names")
      .option('--report <file.html>', 'write a self-contained HTML page with charts')
      .option('--partita-brokers <n>', 'brokers of the Partita started for the run (default: one per core)')
      .option('--durability <mode>', 'as-configured (each system as it ships), page-cache (none fsyncs before answering) or fsync (each write fsynced first)', 'as-configured')
      .action(async (options: BenchOptions) => {
        const settings = settingsOf(mode, options)
        const { DURABILITIES, runHarness } = await import('../bench/harness.js')
        const durability = DURABILITIES.find((d) => d === options.durability)
        if (durability === undefined) throw new CliError(`--durability must be ${DURABILITIES.join(', ')}, got '${options.durability}'`)
        await runHarness({
          settings,
          bootstrapServers: options.brokers ?? options.bootstrapServer,
          partitaBrokers: options.partitaBrokers === undefined ? undefined : parseInteger('partita-brokers', options.partitaBrokers, 1, 256),
          peers: options.peer ?? [],
          durability,
          jsonFile: options.json,
          reportFile: options.report,
          print: (line) => console.log(line),
        })
      })
  }
}

function peerList(): string {
  return `${PEER_NAMES.slice(0, -1).join(', ')} or ${PEER_NAMES.at(-1)}`
}

function collectPeers(value: string, previous: PeerName[] | undefined): PeerName[] {
  const names = value.split(',').map((n) => n.trim())
  for (const name of names) if (!PEER_NAMES.includes(name as PeerName)) throw new CliError(`--peer must be ${peerList()}, got '${name}'`)
  return [...new Set([...(previous ?? []), ...(names as PeerName[])])]
}

function settingsOf(mode: BenchMode, options: BenchOptions): WorkloadSettings {
  const throughput = Number(options.throughput)
  if (!Number.isFinite(throughput) || (throughput <= 0 && throughput !== -1)) throw new CliError(`--throughput must be a positive rate or -1, got '${options.throughput}'`)
  const recordSize = parseInteger('record-size', options.recordSize, 0, 16 * 1024 * 1024)
  const records = parseInteger('records', options.records, 1)
  // End to end, each value carries its send time in its first 8 bytes.
  if (mode === 'e2e' && recordSize < 8) throw new CliError(`--record-size must be at least 8 for e2e (each record carries its send time), got ${recordSize}`)
  return {
    mode,
    records,
    recordSize,
    partitions: parseInteger('partitions', options.partitions, 1, 10_000),
    acks: parseAcks(options.acks),
    throughput,
    producers: parseInteger('producers', options.producers, 1, 1024),
    consumers: parseInteger('consumers', options.consumers, 1, 1024),
    batchBytes: parseInteger('batch-bytes', options.batchBytes, 1, 64 * 1024 * 1024),
    inFlight: parseInteger('in-flight', options.inFlight, 1, 1024),
    reportIntervalMs: parseInteger('reporting-interval', options.reportingInterval, 10),
    idleTimeoutMs: 10_000,
    warmupRecords: options.warmupRecords === undefined ? defaultWarmupRecords(records) : parseInteger('warmup-records', options.warmupRecords, 0),
  }
}
