/**
 * The protocol benchmark's phases, in order: the ceiling first (a bare Node server: frames to a
 * file, acked; then the file read back), then Partita under the same loads, acks=all with
 * replication, librdkafka's end-to-end latency beside its client-side floor, and scaling from one
 * pinned core to two. Each phase samples the measured process's CPU by thread.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { type DiskCeiling, diskCeilingRate, fdatasyncLatency, parallelRawFsync, type RawFsyncFigures, rawFsyncBaseline } from './durability.js'
import { brokerLatency, floorLatency, type LatencyFigures } from './e2e.js'
import {
  fetchAllFromBroker,
  fetchAnswerBytesMax,
  readAllFromCeiling,
  recordBatch,
  recordsPerBatch,
  runProduceLoad,
  type Batch,
  type LoadFigures,
} from './load.js'
import { phaseReportLines } from './phase-report.js'
import { E2E_CEILING_LABEL, fdatasyncLatencyLines, latencyLines, phaseLines, rawLines, recordsPerSecond, transactionLines } from './report.js'
import { awaitVisible, brokerRoutes, createTopic, parseEndpoint, singlePartitionRequests, singleRoute, wideRequests, type Route } from './plan.js'
import { residentMb, startBrokerProcess, startCeilingProcess, type ServerProcess } from './servers.js'
import { cpuBetween, snapshotCpu, type CpuUsage } from './thread-cpu.js'
import { txnCostPhase } from './txn-cost.js'

export interface BenchSettings {
  /** Length of each timed phase. */
  seconds: number
  /** Each produce load first runs this long unmeasured on its server (each fetch first reads everything once). */
  warmupSeconds: number
  partitions: number
  recordBytes: number
  /** The wide load: one batch of about this many bytes per partition per request. */
  batchBytes: number
  connections: number
  inFlight: number
  /** The small-batch load: this many records per request, one partition each, over many connections. */
  smallRecords: number
  smallConnections: number
  smallInFlight: number
  /**
   * The paced load: one connection sends a small-batch request, waits for its answer, then pauses
   * this long, so the server goes idle between requests as it does at a modest rate.
   */
  pacedPauseMs: number
  /** Brokers of the main Partita process (`--brokers`). */
  brokers: number
  /** Brokers, and replication factor, of the acks=all phase. */
  replicatedBrokers: number
  e2eRate: number
  e2ePartitions: number
  /**
   * The librdkafka producer's linger.ms in the e2e run. Default 1: its own default of 5 would take
   * the whole p99 budget, and 0 sends a request per record or two, which measures request rate
   * (the small-batch figure's business) more than latency.
   */
  e2eLingerMs: number
  /** Runs the taskset scaling phases (needs two CPUs and taskset). */
  scaling: boolean
  /**
   * One broker on one CPU, then two on two, this many times, alternating which goes first: on this
   * shared box three back-to-back pairs gave ratios of 1.16 to 1.75, one broker alone doubling its
   * CPU per record from one run to the next, so the target is judged on the pairs' median.
   */
  scalingPairs: number
  /** Extra Node options for the measured broker process (BENCH_BROKER_NODE_OPTIONS, e.g. `--cpu-prof --cpu-prof-dir=DIR`). */
  brokerNodeOptions: string[]
  /** Records per transaction in the transactions phase (librdkafka, beside idempotent produce). */
  txnRecords: number
  /** Partitions of the transactions phase's topic. */
  txnPartitions: number
}

export function settingsFromEnv(env: NodeJS.ProcessEnv): BenchSettings {
  const number = (name: string, fallback: number, min = Number.MIN_VALUE): number => {
    const value = Number(env[name] ?? fallback)
    if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number >= ${min}, got '${env[name]}'`)
    return value
  }
  return {
    seconds: number('BENCH_SECONDS', 5),
    warmupSeconds: number('BENCH_WARMUP_SECONDS', 8, 0),
    partitions: number('BENCH_PARTITIONS', 64),
    recordBytes: number('BENCH_RECORD_BYTES', 100),
    batchBytes: number('BENCH_BATCH_BYTES', 16 * 1024),
    connections: number('BENCH_CONNECTIONS', 4),
    inFlight: number('BENCH_IN_FLIGHT', 8),
    smallRecords: number('BENCH_SMALL_RECORDS', 20),
    smallConnections: number('BENCH_SMALL_CONNECTIONS', 64),
    smallInFlight: number('BENCH_SMALL_IN_FLIGHT', 4),
    pacedPauseMs: number('BENCH_PACED_PAUSE_MS', 2, 0),
    brokers: number('BENCH_BROKERS', availableParallelism()),
    replicatedBrokers: 3,
    e2eRate: number('BENCH_E2E_RATE', 20_000),
    e2ePartitions: number('BENCH_E2E_PARTITIONS', 4),
    e2eLingerMs: number('BENCH_E2E_LINGER_MS', 1, 0),
    scaling: env.BENCH_SCALING !== '0',
    scalingPairs: number('BENCH_SCALING_PAIRS', 3, 1),
    brokerNodeOptions: (env.BENCH_BROKER_NODE_OPTIONS ?? '').split(' ').filter((option) => option !== ''),
    txnRecords: number('BENCH_TXN_RECORDS', 1000, 1),
    txnPartitions: number('BENCH_TXN_PARTITIONS', 8, 1),
  }
}

export interface PhaseFigures extends LoadFigures {
  label: string
  /** What produced the figure: the server's command line and the load's shape. */
  command: string
  recordBytes: number
  /** The measured process's CPU over the phase, by role. */
  cpu: CpuUsage
  /** The load generator's own CPU (this process) over the phase. */
  generatorCpuUs: number
  /** The same load run unmeasured just before, if it was. */
  warmup: LoadFigures | null
}

export interface ProtocolReport {
  settings: BenchSettings
  ceiling: { produce: PhaseFigures; fetch: PhaseFigures; small: PhaseFigures }
  partita: {
    produce: PhaseFigures
    fetch: PhaseFigures
    /** After the wide produce and the fetch of it, before anything else runs. */
    rssMb: { peakMb: number; currentMb: number }
    small: PhaseFigures
    /** acks=all at RF replicatedBrokers, on a topic of the default partita.fsync.mode (acks-all: answered once every ISR member fdatasynced). */
    acksAll: PhaseFigures
    /** The same on a topic with partita.fsync.mode=off: replication alone, as Kafka acknowledges acks=all. */
    acksAllPageCache: PhaseFigures
    e2e: LatencyFigures
  }
  /**
   * acks=all, replication factor 1, on topics with partita.fsync.mode=acks-all (answered once
   * fdatasynced) and off (page cache), beside one thread's raw writeSync+fdatasync of the same
   * batches in this process: every batch, and every 1,000 records; and rawReplicated,
   * replicatedBrokers raw writers at once just before and just after acks=all at RF
   * replicatedBrokers (parallelRawFsync), the disk's own ceiling for that phase.
   */
  durability: { fsync: PhaseFigures; pageCache: PhaseFigures; rawEachBatch: RawFsyncFigures; rawGroup: RawFsyncFigures; rawReplicated: DiskCeiling }
  e2eFloor: LatencyFigures
  /** The same librdkafka e2e run against the Kafka-speaking ceiling: this client's latency with a broker that costs nothing. */
  e2eCeiling: LatencyFigures
  /**
   * librdkafka producing in transactions of txnRecords records, beside idempotent produce, against
   * one fresh server; first the same pair against the Kafka-speaking ceiling, which answers at once
   * and stores nothing: its ratio is the most this client and box allow.
   */
  transactions: { idempotent: PhaseFigures; transactional: PhaseFigures; ceiling: { idempotent: PhaseFigures; transactional: PhaseFigures } }
  scaling: { pairs: ScalingPair[] } | { skipped: string }
  /** What went wrong on the way without stopping the run (a shard failed over, a topic was slow to settle). */
  warnings: string[]
}

/** One broker pinned to one CPU and two brokers to two, under the same load, run back to back. */
export interface ScalingPair {
  one: PhaseFigures
  two: PhaseFigures
}

type Warn = (line: string) => void

/** Runs `body` against a fresh server, stops it, and passes on what it wrote to stderr as warnings. */
async function withServer<T>(start: () => Promise<ServerProcess>, warn: Warn, body: (server: ServerProcess) => Promise<T>): Promise<T> {
  const server = await start()
  try {
    return await body(server)
  } finally {
    await server.stop()
    for (const line of server.stderrLines) warn(`${server.command} said: ${line}`)
  }
}

/**
 * Measures `load` on `server`: its CPU by thread, and this process's (the load generator's). When
 * `warmupSeconds` is set the load first runs that long unmeasured: a fresh process spends its
 * first seconds compiling hot code and growing its heap, which no steady figure should include.
 * Each shard is an isolate of its own that compiles the same code again: `perf record` of the
 * three-broker acks=all phase showed V8's compiler threads (TurboFan) taking 32% of the broker's
 * CPU in the seconds after a 2 s warm-up, and 6% after 20 s (load average 12-17 on 2 cores).
 */
async function measure(
  server: ServerProcess,
  label: string,
  command: string,
  recordBytes: number,
  warmupSeconds: number,
  load: (seconds: number) => Promise<LoadFigures>,
  seconds: number,
): Promise<PhaseFigures> {
  const warmup = warmupSeconds > 0 ? await load(warmupSeconds) : null
  const before = snapshotCpu(server.pid)
  const generatorBefore = process.cpuUsage()
  const figures = await load(seconds)
  const generator = process.cpuUsage(generatorBefore)
  const after = snapshotCpu(server.pid)
  return {
    ...figures,
    label,
    command: `${server.command}; ${command}${warmup === null ? '' : `; after ${warmupSeconds} s of the same unmeasured`}`,
    recordBytes,
    warmup,
    cpu: cpuBetween(before, after, server.threads),
    generatorCpuUs: generator.user + generator.system,
  }
}

/** The group commit the raw baselines model: one fdatasync per this many records. */
const RECORDS_PER_GROUP_SYNC = 1000

function wideBatch(settings: BenchSettings): Batch {
  return recordBatch(recordsPerBatch(settings.batchBytes, settings.recordBytes), settings.recordBytes)
}

function wideShape(settings: BenchSettings, batch: Batch, acks: 1 | -1): string {
  return `${settings.partitions} partitions, ${batch.bytes.length} B batches of ${batch.records} x ${settings.recordBytes} B, one per partition per request, ${settings.connections} connections x ${settings.inFlight} in flight, acks=${acks === 1 ? '1' : 'all'}`
}

function smallShape(settings: BenchSettings): string {
  return `${settings.smallRecords} records of ${settings.recordBytes} B per request (one partition), ${settings.smallConnections} connections x ${settings.smallInFlight} in flight, acks=1`
}

/** The wide produce load (16 KiB batches, one per partition per request) against `routes`. */
function widePhase(server: ServerProcess, label: string, settings: BenchSettings, routes: Route[], topic: string, acks: 1 | -1, target: 'broker' | 'ceiling' = 'broker'): Promise<PhaseFigures> {
  const batch = wideBatch(settings)
  const load = (seconds: number): Promise<LoadFigures> =>
    runProduceLoad({ topic, plans: wideRequests(routes, settings.connections), inFlight: settings.inFlight, batch, acks, seconds, target })
  return measure(server, label, wideShape(settings, batch, acks), settings.recordBytes, settings.warmupSeconds, load, settings.seconds)
}

/** The small-batch load: a few records to one partition per request, over many connections. */
function smallPhase(server: ServerProcess, label: string, settings: BenchSettings, routes: Route[], topic: string, target: 'broker' | 'ceiling'): Promise<PhaseFigures> {
  const batch = recordBatch(settings.smallRecords, settings.recordBytes)
  const load = (seconds: number): Promise<LoadFigures> =>
    runProduceLoad({ topic, plans: singlePartitionRequests(routes, settings.smallConnections), inFlight: settings.smallInFlight, batch, acks: 1, seconds, target })
  return measure(server, label, smallShape(settings), settings.recordBytes, settings.warmupSeconds, load, settings.seconds)
}

/**
 * The small batch one request at a time with a pause after each answer: what a request costs a
 * server that sleeps between requests (its thread woken for each, its caches gone cold), beside the
 * saturated small-batch figure. Redis and a lightly loaded Kafka see this rate, not saturation.
 */
function pacedPhase(server: ServerProcess, label: string, settings: BenchSettings, routes: Route[], topic: string, target: 'broker' | 'ceiling'): Promise<PhaseFigures> {
  const batch = recordBatch(settings.smallRecords, settings.recordBytes)
  const load = (seconds: number): Promise<LoadFigures> =>
    runProduceLoad({ topic, plans: singlePartitionRequests(routes, 1), inFlight: 1, pauseMs: settings.pacedPauseMs, batch, acks: 1, seconds, target })
  const shape = `${settings.smallRecords} records of ${settings.recordBytes} B per request (one partition), 1 connection, each request after the last one's answer and a ${settings.pacedPauseMs} ms pause, acks=1`
  return measure(server, label, shape, settings.recordBytes, settings.warmupSeconds, load, settings.seconds)
}

/** Everything a produce phase sent, its warm-up included: what a read-back returns. */
function producedTotal(phase: PhaseFigures): { records: number; requests: number; wireBytes: number } {
  const warmup = phase.warmup ?? { records: 0, requests: 0, wireBytes: 0 }
  return { records: phase.records + warmup.records, requests: phase.requests + warmup.requests, wireBytes: phase.wireBytes + warmup.wireBytes }
}

async function runCeiling(settings: BenchSettings, warn: Warn): Promise<ProtocolReport['ceiling']> {
  return withServer(startCeilingProcess, warn, async (ceiling) => {
    const routes = singleRoute(ceiling.bootstrap, settings.partitions)
    const produce = await widePhase(ceiling, 'ceiling produce', settings, routes, 'ceiling', 1, 'ceiling')
    const written = producedTotal(produce)
    // The file holds each produce frame without its size prefix.
    const fileBytes = written.wireBytes - 4 * written.requests
    const readBytes = fetchAnswerBytesMax(routes, settings.connections, settings.inFlight)
    const readAll = (): Promise<LoadFigures> =>
      readAllFromCeiling({ endpoint: parseEndpoint(ceiling.bootstrap), fileBytes, fileRecords: written.records, connections: settings.connections, inFlight: settings.inFlight, readBytes })
    const fetchCommand = `the whole file read back in ${readBytes} B ranges, ${settings.connections} connections x ${settings.inFlight} in flight, after one unmeasured read of it all`
    await readAll()
    const fetch = await measure(ceiling, 'ceiling fetch', fetchCommand, settings.recordBytes, 0, readAll, settings.seconds)
    const small = await smallPhase(ceiling, 'ceiling small batches', settings, routes, 'ceiling', 'ceiling')
    return { produce, fetch, small }
  })
}

async function runMainBroker(settings: BenchSettings, warn: Warn): Promise<Omit<ProtocolReport['partita'], 'acksAll' | 'acksAllPageCache'>> {
  return withServer(() => startBrokerProcess({ brokers: settings.brokers, nodeOptions: settings.brokerNodeOptions }), warn, async (broker) => {
    await createTopic(broker.bootstrap, 'bench-wide', settings.partitions, 1, warn)
    const routes = await brokerRoutes(broker.bootstrap, 'bench-wide')
    const produce = await widePhase(broker, 'Partita produce', settings, routes, 'bench-wide', 1)
    const readAll = (): Promise<LoadFigures> => fetchAllFromBroker({ topic: 'bench-wide', routes, connections: settings.connections, inFlight: settings.inFlight })
    const fetchCommand = `Fetch v11 of every partition from offset 0 to its end, ${settings.connections} connections x ${settings.inFlight} in flight, after one unmeasured read of it all`
    await awaitVisible(broker.bootstrap, 'bench-wide', settings.partitions, producedTotal(produce).records)
    await readAll()
    const fetch = await measure(broker, 'Partita fetch', fetchCommand, settings.recordBytes, 0, readAll, settings.seconds)
    const rssMb = residentMb(broker.pid)
    await createTopic(broker.bootstrap, 'bench-small', settings.partitions, 1, warn)
    const small = await smallPhase(broker, 'Partita small batches', settings, await brokerRoutes(broker.bootstrap, 'bench-small'), 'bench-small', 'broker')
    await createTopic(broker.bootstrap, 'bench-e2e', settings.e2ePartitions, 1, warn)
    const e2e = await serverLatency(broker, settings)
    return { produce, fetch, rssMb, small, e2e }
  })
}

/**
 * acks=all at RF replicatedBrokers on one broker process: first on a topic of the default fsync
 * mode (the figure the target judges, since it is what a user gets), then on one with
 * partita.fsync.mode=off, which separates replication's cost from the disk's. Before them, the
 * disk's own ceiling for that many durable copies of each record (parallelRawFsync).
 */
async function runReplicated(settings: BenchSettings, warn: Warn): Promise<{ fsync: PhaseFigures; pageCache: PhaseFigures; diskCeiling: DiskCeiling }> {
  const batch = wideBatch(settings)
  // Measured on both sides of the phases: on this shared box the disk's fdatasync rate moved
  // several-fold from one minute to the next (the host flushing its own cache).
  const raw = async (when: string): Promise<RawFsyncFigures> => {
    const figures = await parallelRawFsync(batch.bytes, batch.records, RECORDS_PER_GROUP_SYNC, settings.seconds, settings.replicatedBrokers)
    return { ...figures, label: `${figures.label}, ${when}` }
  }
  const before = await raw('before')
  const phases = await withServer(() => startBrokerProcess({ brokers: settings.replicatedBrokers, nodeOptions: settings.brokerNodeOptions }), warn, async (broker) => {
    const phase = async (topic: string, label: string, configs?: Record<string, string>): Promise<PhaseFigures> => {
      await createTopic(broker.bootstrap, topic, settings.partitions, settings.replicatedBrokers, warn, configs)
      return widePhase(broker, label, settings, await brokerRoutes(broker.bootstrap, topic), topic, -1)
    }
    const fsync = await phase('bench-replicated', `Partita acks=all, RF ${settings.replicatedBrokers}`)
    const pageCache = await phase('bench-replicated-off', `Partita acks=all, RF ${settings.replicatedBrokers}, partita.fsync.mode=off`, { 'partita.fsync.mode': 'off' })
    return { fsync, pageCache }
  })
  return { ...phases, diskCeiling: { before, after: await raw('after') } }
}

async function runDurability(settings: BenchSettings, warn: Warn): Promise<Omit<ProtocolReport['durability'], 'rawReplicated'>> {
  const batch = wideBatch(settings)
  const rawEachBatch = rawFsyncBaseline(batch.bytes, batch.records, batch.records, settings.seconds)
  const rawGroup = rawFsyncBaseline(batch.bytes, batch.records, RECORDS_PER_GROUP_SYNC, settings.seconds)
  const [fsync, pageCache] = await withServer(() => startBrokerProcess({ brokers: settings.brokers, nodeOptions: settings.brokerNodeOptions }), warn, async (broker) => {
    const phases: PhaseFigures[] = []
    for (const mode of ['acks-all', 'off']) {
      const topic = `bench-fsync-${mode}`
      await createTopic(broker.bootstrap, topic, settings.partitions, 1, warn, { 'partita.fsync.mode': mode })
      const routes = await brokerRoutes(broker.bootstrap, topic)
      phases.push(await widePhase(broker, `Partita acks=all, RF 1, partita.fsync.mode=${mode}`, settings, routes, topic, -1))
    }
    return phases
  })
  return { fsync, pageCache, rawEachBatch, rawGroup }
}

async function runPinned(settings: BenchSettings, brokers: number, cpus: string, warn: Warn): Promise<PhaseFigures> {
  return withServer(() => startBrokerProcess({ brokers, cpus, nodeOptions: settings.brokerNodeOptions }), warn, async (broker) => {
    await createTopic(broker.bootstrap, 'bench-scaling', settings.partitions, 1, warn)
    const routes = await brokerRoutes(broker.bootstrap, 'bench-scaling')
    return widePhase(broker, `Partita produce, ${brokers} broker(s) on CPUs ${cpus}`, settings, routes, 'bench-scaling', 1)
  })
}

/**
 * settings.scalingPairs pairs; every other pair runs two brokers first, so that a box growing
 * busier or quieter over the run does not favour one side of every pair.
 */
async function runScaling(settings: BenchSettings, warn: Warn): Promise<ScalingPair[]> {
  const pairs: ScalingPair[] = []
  // Bounded by settings.scalingPairs.
  for (let i = 0; i < settings.scalingPairs; i++) {
    if (i % 2 === 0) {
      const one = await runPinned(settings, 1, '0', warn)
      pairs.push({ one, two: await runPinned(settings, 2, '0,1', warn) })
    } else {
      const two = await runPinned(settings, 2, '0,1', warn)
      pairs.push({ one: await runPinned(settings, 1, '0', warn), two })
    }
  }
  return pairs
}

async function runTransactions(settings: BenchSettings, warn: Warn): Promise<ProtocolReport['transactions']> {
  const topic = 'bench-txn'
  const optionsFor = (server: ServerProcess) => ({ bootstrap: server.bootstrap, topic, partitions: settings.txnPartitions, seconds: settings.seconds, recordBytes: settings.recordBytes, txnRecords: settings.txnRecords })
  const ceiling = await withServer(() => startCeilingProcess('kafka', settings.txnPartitions), warn, async (server) => ({
    idempotent: await txnCostPhase(server, optionsFor(server), 'idempotent', 'ceiling'),
    transactional: await txnCostPhase(server, optionsFor(server), 'transactional', 'ceiling'),
  }))
  return withServer(() => startBrokerProcess({ brokers: settings.brokers, nodeOptions: settings.brokerNodeOptions }), warn, async (broker) => {
    await createTopic(broker.bootstrap, topic, settings.txnPartitions, 1, warn)
    const idempotent = await txnCostPhase(broker, optionsFor(broker), 'idempotent')
    const transactional = await txnCostPhase(broker, optionsFor(broker), 'transactional')
    return { idempotent, transactional, ceiling }
  })
}

/** librdkafka's e2e run against the Kafka-speaking ceiling, which answers at once and stores nothing. */
async function ceilingLatency(settings: BenchSettings, warn: Warn): Promise<LatencyFigures> {
  return withServer(() => startCeilingProcess('kafka', settings.e2ePartitions), warn, (server) => serverLatency(server, settings))
}

/** librdkafka's e2e run against `server` on its topic bench-e2e, the server's command first in the figures' command. */
async function serverLatency(server: ServerProcess, settings: BenchSettings): Promise<LatencyFigures> {
  const figures = await brokerLatency({ bootstrap: server.bootstrap, topic: 'bench-e2e', partitions: settings.e2ePartitions, rate: settings.e2eRate, seconds: settings.seconds, recordBytes: settings.recordBytes, lingerMs: settings.e2eLingerMs })
  return { ...figures, command: `${server.command}; ${figures.command}` }
}

function scalingSkipped(settings: BenchSettings): string | null {
  if (!settings.scaling) return 'BENCH_SCALING=0'
  if (availableParallelism() < 2) return 'fewer than two CPUs'
  if (!existsSync('/usr/bin/taskset')) return 'no /usr/bin/taskset'
  return null
}

export async function runProtocolBench(settings: BenchSettings, log: (line: string) => void = () => {}): Promise<ProtocolReport> {
  const warnings: string[] = []
  const warn: Warn = (line) => {
    warnings.push(line)
    log(`warning: ${line}`)
  }
  log('ceiling: bare Node TCP server, frames appended to a file and acked, then read back')
  const ceiling = await runCeiling(settings, warn)
  log(`Partita: ${settings.brokers} broker(s)`)
  const main = await runMainBroker(settings, warn)
  log(`Partita: acks=all on ${settings.replicatedBrokers} brokers`)
  const replicated = await runReplicated(settings, warn)
  log('durability: acks=all with and without fsync, beside raw writeSync+fdatasync')
  const durability = await runDurability(settings, warn)
  log('e2e floor: the same Python pacing through a pipe, no Kafka')
  const e2eFloor = await floorLatency(settings.e2eRate, settings.seconds, settings.recordBytes)
  log('e2e ceiling: the same librdkafka clients against the Kafka-speaking ceiling')
  const e2eCeiling = await ceilingLatency(settings, warn)
  log(`transactions: librdkafka in transactions of ${settings.txnRecords} records beside idempotent produce`)
  const transactions = await runTransactions(settings, warn)
  const skipped = scalingSkipped(settings)
  let scaling: ProtocolReport['scaling'] = { skipped: skipped ?? '' }
  if (skipped === null) {
    log(`scaling: one broker on one CPU beside two brokers on two, ${settings.scalingPairs} alternated pair(s)`)
    scaling = { pairs: await runScaling(settings, warn) }
  }
  return {
    settings,
    ceiling,
    partita: { ...main, acksAll: replicated.fsync, acksAllPageCache: replicated.pageCache },
    durability: { ...durability, rawReplicated: replicated.diskCeiling },
    e2eFloor,
    e2eCeiling,
    transactions,
    scaling,
    warnings,
  }
}

/** The phases `npm run bench:protocol:phase -- NAME` runs alone, each beside its own same-run ceiling. */
export const SINGLE_PHASES = ['produce', 'fetch', 'small', 'paced', 'scaling'] as const
export type SinglePhase = (typeof SINGLE_PHASES)[number]

export interface SinglePhaseReport {
  /** The ceiling's figure for the same load (none for scaling, which compares Partita with itself). */
  ceiling: PhaseFigures | null
  /** Partita's figures: the phase (none for scaling). */
  partita: PhaseFigures[]
  /** The scaling phase's pairs: one broker on one CPU and two on two. */
  scaling?: ScalingPair[]
  warnings: string[]
}

/** The wide produce then its read-back, on the ceiling or on a fresh broker. */
async function fetchPhase(server: ServerProcess, settings: BenchSettings, routes: Route[], topic: string, target: 'broker' | 'ceiling'): Promise<PhaseFigures> {
  const produce = await widePhase(server, `${target} produce before the fetch`, settings, routes, topic, 1, target)
  const written = producedTotal(produce)
  const readAll =
    target === 'broker'
      ? (): Promise<LoadFigures> => fetchAllFromBroker({ topic, routes, connections: settings.connections, inFlight: settings.inFlight })
      : (): Promise<LoadFigures> =>
          readAllFromCeiling({
            endpoint: parseEndpoint(server.bootstrap),
            fileBytes: written.wireBytes - 4 * written.requests,
            fileRecords: written.records,
            connections: settings.connections,
            inFlight: settings.inFlight,
            readBytes: fetchAnswerBytesMax(routes, settings.connections, settings.inFlight),
          })
  if (target === 'broker') await awaitVisible(server.bootstrap, topic, settings.partitions, written.records)
  await readAll()
  return measure(server, target === 'broker' ? 'Partita fetch' : 'ceiling fetch', 'the whole produce read back, after one unmeasured read of it all', settings.recordBytes, 0, readAll, settings.seconds)
}

async function ceilingPhase(settings: BenchSettings, phase: Exclude<SinglePhase, 'scaling'>, warn: Warn): Promise<PhaseFigures> {
  return withServer(startCeilingProcess, warn, async (ceiling) => {
    const routes = singleRoute(ceiling.bootstrap, settings.partitions)
    if (phase === 'produce') return widePhase(ceiling, 'ceiling produce', settings, routes, 'ceiling', 1, 'ceiling')
    if (phase === 'small') return smallPhase(ceiling, 'ceiling small batches', settings, routes, 'ceiling', 'ceiling')
    if (phase === 'paced') return pacedPhase(ceiling, 'ceiling paced small batches', settings, routes, 'ceiling', 'ceiling')
    return fetchPhase(ceiling, settings, routes, 'ceiling', 'ceiling')
  })
}

async function partitaPhase(settings: BenchSettings, phase: Exclude<SinglePhase, 'scaling'>, warn: Warn): Promise<PhaseFigures> {
  return withServer(() => startBrokerProcess({ brokers: settings.brokers, nodeOptions: settings.brokerNodeOptions }), warn, async (broker) => {
    const topic = `bench-${phase}`
    await createTopic(broker.bootstrap, topic, settings.partitions, 1, warn)
    const routes = await brokerRoutes(broker.bootstrap, topic)
    if (phase === 'produce') return widePhase(broker, 'Partita produce', settings, routes, topic, 1)
    if (phase === 'small') return smallPhase(broker, 'Partita small batches', settings, routes, topic, 'broker')
    if (phase === 'paced') return pacedPhase(broker, 'Partita paced small batches', settings, routes, topic, 'broker')
    return fetchPhase(broker, settings, routes, topic, 'broker')
  })
}

/** One phase alone, for measuring a change: the ceiling under the same load first, then Partita. */
export async function runSinglePhase(settings: BenchSettings, phase: SinglePhase, log: (line: string) => void = () => {}): Promise<SinglePhaseReport> {
  const warnings: string[] = []
  const warn: Warn = (line) => {
    warnings.push(line)
    log(`warning: ${line}`)
  }
  if (phase === 'scaling') {
    const skipped = scalingSkipped(settings)
    if (skipped !== null) throw new Error(`scaling cannot run: ${skipped}`)
    return { ceiling: null, partita: [], scaling: await runScaling(settings, warn), warnings }
  }
  const ceiling = await ceilingPhase(settings, phase, warn)
  return { ceiling, partita: [await partitaPhase(settings, phase, warn)], warnings }
}

/** The phases `npm run bench:protocol:phase -- NAME` runs alone beside a reference of their own (runFocused). */
export const FOCUSED_PHASES = ['e2e', 'acks-all', 'txn'] as const
export type FocusedPhase = (typeof FOCUSED_PHASES)[number]

const loadLine = (): string => `load average ${loadavg().map((value) => value.toFixed(1)).join(' ')}`

/** One group-commit round's worth of a 4-partition e2e run at 20,000 records/s, about. */
const E2E_SYNC_APPEND_BYTES = 2048
const E2E_SYNCS_MAX = 5000

/** librdkafka's e2e latency on a fresh broker in the given fsync mode, with where its time went. */
async function tracedE2e(settings: BenchSettings, fsyncMode: 'acks-all' | 'off', warn: Warn): Promise<string[]> {
  const traceDir = mkdtempSync(join(tmpdir(), 'partita-phases-'))
  try {
    const e2e = await withServer(() => startBrokerProcess({ brokers: settings.brokers, phaseTraceDir: traceDir, fsyncMode }), warn, async (broker) => {
      await createTopic(broker.bootstrap, 'bench-e2e', settings.e2ePartitions, 1, warn)
      return serverLatency(broker, settings)
    })
    return [...latencyLines(`Partita, fsync.mode=${fsyncMode}`, e2e), ...phaseReportLines(traceDir, E2E_TRACE_WARMUP_MS)]
  } finally {
    rmSync(traceDir, { recursive: true, force: true })
  }
}

/** The e2e script leaves out its first second (at 20,000/s) of records; the broker's phases likewise. */
const E2E_TRACE_WARMUP_MS = 1000

/**
 * One phase alone, for iterating on it: `e2e` is librdkafka's end-to-end latency beside its
 * client-side floor; `acks-all` is acks=all with replication factor 3 beside acks=1 on the main
 * broker layout, both run here one after the other; `txn` is librdkafka in transactions of
 * txnRecords records beside its idempotent produce on one fresh server, as in the whole run.
 * Returns the printed lines.
 */
export async function runFocused(phase: FocusedPhase, settings: BenchSettings, log: (line: string) => void = () => {}): Promise<string[]> {
  const warn: Warn = (line) => log(`warning: ${line}`)
  if (phase === 'txn') {
    log(`transactions of ${settings.txnRecords} records beside idempotent produce (${loadLine()})`)
    const transactions = await runTransactions(settings, warn)
    return [...transactionLines(transactions, settings.txnRecords), `    ${loadLine()}`]
  }
  if (phase === 'e2e') {
    log(`e2e floor (${loadLine()})`)
    const floor = await floorLatency(settings.e2eRate, settings.seconds, settings.recordBytes)
    const floorLoad = loadLine()
    log('fdatasync alone on this disk')
    const fsync = fdatasyncLatency(E2E_SYNC_APPEND_BYTES, E2E_SYNCS_MAX, settings.seconds)
    const fsyncLoad = loadLine()
    const lines: string[] = []
    for (const fsyncMode of ['acks-all', 'off'] as const) {
      log(`Partita e2e on ${settings.brokers} broker(s), partita.fsync.mode=${fsyncMode}`)
      lines.push(...(await tracedE2e(settings, fsyncMode, warn)), `    ${loadLine()}`)
    }
    log('the same clients against the Kafka-speaking ceiling')
    const ceiling = await ceilingLatency(settings, warn)
    return [
      ...lines,
      ...latencyLines('floor (Python pipe, no Kafka)', floor),
      `    ${floorLoad}`,
      ...latencyLines(E2E_CEILING_LABEL, ceiling),
      `    ${loadLine()}`,
      ...fdatasyncLatencyLines(fsync),
      `    ${fsyncLoad}`,
    ]
  }
  log(`acks=1 on ${settings.brokers} broker(s), RF 1`)
  const acksOne = await withServer(() => startBrokerProcess({ brokers: settings.brokers }), warn, async (broker) => {
    await createTopic(broker.bootstrap, 'bench-wide', settings.partitions, 1, warn)
    return widePhase(broker, 'Partita produce acks=1', settings, await brokerRoutes(broker.bootstrap, 'bench-wide'), 'bench-wide', 1)
  })
  const acksOneLoad = loadLine()
  log(`acks=all on ${settings.replicatedBrokers} brokers, RF ${settings.replicatedBrokers}`)
  const { fsync, pageCache, diskCeiling } = await runReplicated(settings, warn)
  const share = (rate: number): string => `${((rate / recordsPerSecond(acksOne)) * 100).toFixed(0)}%`
  return [
    ...phaseLines(acksOne),
    `    ${acksOneLoad}`,
    ...rawLines(diskCeiling.before),
    ...phaseLines(fsync),
    ...phaseLines(pageCache),
    ...rawLines(diskCeiling.after),
    `    ${loadLine()}`,
    `acks=all is ${share(recordsPerSecond(fsync))} of the acks=1 rate (${share(recordsPerSecond(pageCache))} with partita.fsync.mode=off; ` +
      `this disk's ceiling for ${settings.replicatedBrokers} fdatasynced copies ${share(diskCeilingRate(diskCeiling))})`,
  ]
}
