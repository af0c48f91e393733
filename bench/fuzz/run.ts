/**
 * A whole fuzz run: start (or reach) a broker, create the known topics and records, ask it which
 * APIs it serves, send `frames` mutated frames over `lanes` pipelined connections while a probe
 * checks the broker keeps answering, then run the oracle and report.
 */
import { ErrorCode } from '../../src/common/error-codes.js'
import { KafkaClient, parseHostPort } from '../../src/client/wire/kafka-client.js'
import { ApiKey } from '../../src/protocol/index.js'
import { BrokerProcess, type BrokerExit } from './broker-process.js'
import { censusLine, sweepCreatedState, takeCensus, type Census } from './census.js'
import { buildFrame, frameSource, type Frame } from './frames.js'
import { Lane } from './lane.js'
import type { ApiRange } from './mutate.js'
import { Oracle, type OracleEntry, type PartitionVerdict } from './oracle.js'
import { medianRssKb, rssWindows, type RssSample } from './rss-windows.js'
import { setUpTopics } from './setup.js'
import { FuzzStats, sortedRecord, type Finding } from './stats.js'
import { GROUPS, SPARE_TOPICS, makeWorld, topicPlans } from './world.js'

export interface FuzzOptions {
  frames: number
  seed: number
  /** The first frame index (to replay frames of an earlier run). Default 0. */
  first?: number
  /** A broker to fuzz instead of spawning one (its exit then cannot be watched). */
  bootstrap?: string
  lanes?: number
  inFlight?: number
  /** Brokers of the spawned process, each its own shard and listener. Default 3. */
  brokers?: number
  /** The spawned broker's data directory, kept after the run for a look at its segments; default a fresh one removed at the end. */
  dataDir?: string
  /** Node flags for the spawned broker process (profiling: `--cpu-prof --cpu-prof-dir=DIR`). */
  brokerNodeArgs?: string[]
  /** Records stored in each pre-created partition. Default 20. */
  knownRecords?: number
  /** Timestamps in generated batches sit around this; default now (pass it again to replay exactly). */
  baseTimestampMs?: number
  /** Frames asking for more partition replicas than this are drawn again (a known issue). Default 64. */
  partitionReplicasMax?: number
  idleMs?: number
  stuckMs?: number
  /**
   * The broker's RSS may grow at most this much from the end of the warm-up (the first tenth of
   * the frames: JIT, heap sizing, buffers) to the end of the run. Default 64 MiB.
   */
  rssGrowthMaxKb?: number
  /**
   * What the broker's V8 heaps retain (the sum over its isolates of the heap left by each one's
   * latest full collection) may grow at most this much from the end of the warm-up. RSS also
   * counts the room V8 keeps for a heap to grow into, which it sizes from how fast the broker
   * allocates: this figure is what a leak of JavaScript objects would show in. Default 64 MiB.
   */
  retainedHeapGrowthMaxKb?: number
  /**
   * Keep the topics and groups the frames create. By default each progress tick deletes them
   * (sweepCreatedState), so the broker's state stays bounded and the RSS bound judges leaks.
   */
  keepCreatedState?: boolean
  /** Progress lines. */
  log?: (line: string) => void
}

export interface FuzzReport {
  ok: boolean
  /** Why the run failed, one line each. */
  failures: string[]
  seed: number
  firstFrame: number
  frames: number
  baseTimestampMs: number
  framesSent: number
  /** Frames drawn again, by why: asking for more than partitionReplicasMax replicas, or touching a set-aside topic. */
  framesRedrawn: Record<string, number>
  partitionReplicasMax: number
  durationMs: number
  framesPerSecond: number
  brokerExitedDuringRun: BrokerExit | null
  brokerShutdown: (BrokerExit & { clean: boolean }) | null
  rssKb: {
    start: number | null
    afterWarmUp: number | null
    end: number | null
    peak: number | null
    /** Medians of the samples over the tenth of the frames after the warm-up and over the last tenth (null: too few samples). */
    medianAfterWarmUp: number | null
    medianEnd: number | null
  }
  /**
   * CPU per frame sent, in ms, over the sending phase: the fuzzer's own process and the broker's
   * (every thread). Wall-clock frames/s depends on what else the box runs; this does not.
   */
  cpuMsPerFrame: { fuzzer: number; broker: number | null }
  /** The broker's V8 heaps after their latest full collections, summed (null: none yet, or no broker of our own). */
  retainedHeapKb: { afterWarmUp: number | null; end: number | null; fullCollections: number }
  /** The state the run left in the broker (topics, partitions, groups), or null when it could not be read. */
  censusAtEnd: Census | null
  /** Topics and groups the frames created that the run deleted again as it went (see keepCreatedState). */
  swept: { topics: number; groups: number }
  connections: {
    opened: number
    closedAsPredicted: number
    closedAfterSilentProduce: number
    closedUnexpectedly: number
    unansweredAtClose: number
  }
  advertised: ApiRange[]
  sentByApi: Record<string, number>
  answeredByApi: Record<string, number>
  abandonedByApi: Record<string, number>
  predictions: Record<string, number>
  mutations: Record<string, number>
  errorCodes: Record<string, Record<string, number>>
  latencyMaxMs: number
  findings: Finding[]
  findingCounts: Record<string, number>
  probeFailures: string[]
  broker: { bugLines: string[]; bugLineCount: number; warnings: string[]; closeReasons: Record<string, number>; other: string[]; otherCount: number } | null
  oracle: { loggedByApi: Record<string, number>; entries: OracleEntry[]; partitions: PartitionVerdict[] }
}

/**
 * Connections sending at once. Most of a lane's time is waits, not work: 42% of frames end their
 * connection, and such a frame goes only after every answer before it is in, then waits for the
 * close and a new connection. 64 lanes kept a loaded 2-core box busier than 16 (354 against 290
 * frames/s over the same 8,000 frames), with every frame still sent, answered and judged.
 */
const LANES_DEFAULT = 64

/** Findings that make a run fail: crashes, stuck requests, wrong answers, broken predictions. */
const FAILING_FINDINGS: ReadonlySet<string> = new Set(['stuck', 'unexpected-close', 'undecodable-response', 'correlation', 'unexpected-response', 'no-close', 'connect-failed', 'unknown-server-error'])

async function advertisedApis(client: KafkaClient): Promise<ApiRange[]> {
  const response = await client.request(-1, ApiKey.ApiVersions, { clientSoftwareName: 'partita-fuzz', clientSoftwareVersion: '1' })
  if (response.errorCode !== ErrorCode.NONE) throw new Error(`ApiVersions failed with ${response.errorCode}`)
  return response.apiKeys.map((a) => ({ apiKey: a.apiKey, minVersion: a.minVersion, maxVersion: a.maxVersion }))
}

/**
 * Every `intervalMs`, on a connection of its own, asks for the metadata of a pre-created topic no
 * logged request deleted and fetches from its first partition; failures are recorded.
 */
function startProbe(bootstrap: string, standingTopic: () => string | null, intervalMs: number, progress: () => number, failures: string[]): () => Promise<void> {
  let stopped = false
  const loop = (async () => {
    // Bounded by the run: stop() ends it.
    while (!stopped) {
      await new Promise((resolve) => setTimeout(resolve, intervalMs))
      if (stopped) break
      try {
        const client = await KafkaClient.connect({ bootstrapServers: bootstrap, clientId: 'partita-fuzz-probe', requestTimeoutMs: 15_000, connectTimeoutMs: 15_000 })
        try {
          const topic = standingTopic()
          if (topic === null) continue
          const metadata = await client.metadata([topic])
          const info = metadata.topics[0]
          const leader = info?.partitions[0]?.leader ?? -1
          if (leader < 0) failures.push(`frame ~${progress()}: ${topic}-0 has no leader (${JSON.stringify(info)})`)
          const [fetched] = await client.fetch([{ topic, partition: 0, fetchOffset: 0 }], { maxWaitMs: 0 })
          if (fetched.errorCode !== ErrorCode.NONE) failures.push(`frame ~${progress()}: fetching ${topic}-0 failed with ${fetched.errorCode}`)
        } finally {
          await client.close()
        }
      } catch (error) {
        failures.push(`frame ~${progress()}: the broker did not answer a probe: ${(error as Error).message}`)
      }
    }
  })()
  return async () => {
    stopped = true
    await loop
  }
}

/** How often the broker's RSS is read for the growth check's medians, and how many readings are kept at most (a day's worth). */
const RSS_SAMPLE_INTERVAL_MS = 2_000
const RSS_SAMPLES_MAX = 43_200

/**
 * Kafka's bounds on the state the frames ask the spawned broker to hold, set small so that it
 * levels off within the warm-up and RSS growth after it means a leak (see runFuzz).
 */
export const FUZZ_BROKER_BOUNDS = {
  /** An idle transactional id is forgotten after this (Kafka: 7 days). */
  'transactional.id.expiration.ms': 60_000,
  /** An abandoned transaction is aborted within this (Kafka: 15 minutes), and so becomes idle. */
  'transaction.max.timeout.ms': 60_000,
  /** Incremental fetch sessions each broker keeps (Kafka: 1000); the frames open a few a second. */
  'max.incremental.fetch.session.cache.slots': 100,
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const log = options.log ?? (() => undefined)
  const first = options.first ?? 0
  const brokers = options.brokers ?? 3
  const baseTimestampMs = options.baseTimestampMs ?? Date.now()
  // Topics and groups the frames create are swept as the run goes, but no API deletes a
  // transactional id or a fetch session: Kafka's own bounds keep those few (FUZZ_BROKER_BOUNDS).
  const args = Object.entries(FUZZ_BROKER_BOUNDS).flatMap(([key, value]) => ['--set', `${key}=${value}`])
  const broker = options.bootstrap === undefined ? await BrokerProcess.start({ brokers, dataDir: options.dataDir, nodeArgs: options.brokerNodeArgs, traceGc: true, args }) : null
  const bootstrap = options.bootstrap ?? broker!.bootstrap
  if (broker !== null) broker.log.echo = (line) => log(`broker: ${line}`)
  const failures: string[] = []
  try {
    const client = await KafkaClient.connect({ bootstrapServers: bootstrap, clientId: 'partita-fuzz-setup', requestTimeoutMs: 30_000 })
    const plans = topicPlans(brokers)
    const knownRecords = options.knownRecords ?? 20
    let known
    let advertised
    try {
      known = await setUpTopics(client, plans, knownRecords)
      advertised = await advertisedApis(client)
    } finally {
      await client.close()
    }
    const world = makeWorld(plans, knownRecords, baseTimestampMs, brokers)
    const source = frameSource(options.seed, world, advertised, options.partitionReplicasMax ?? 64)
    const oracle = new Oracle(known)
    const stats = new FuzzStats()
    const rssStart = broker?.memoryKb() ?? null
    log(`fuzz: seed ${options.seed}, frames ${first}-${first + options.frames - 1}, base time ${baseTimestampMs}, broker ${bootstrap}${broker ? ` (pid ${broker.pid})` : ''}`)

    let next = first
    const end = first + options.frames
    const warmUpEnd = first + Math.max(1, Math.floor(options.frames / 10))
    let rssAfterWarmUp: number | null = null
    let retainedAfterWarmUp: number | null = null
    const take = (): Frame | null => {
      if (next >= end || broker?.exit != null) return null
      if (next === warmUpEnd) {
        rssAfterWarmUp = broker?.memoryKb()?.rssKb ?? null
        retainedAfterWarmUp = broker?.retainedHeap.totalKb() ?? null
      }
      const frame = buildFrame(source, next++)
      oracle.record(frame)
      return frame
    }
    // Lanes take the brokers' listeners in turn, so every broker's edge reads hostile frames.
    const endpoints = bootstrap.split(',').map((address) => parseHostPort(address))
    let connections = 0
    // 127.1.0.1 onwards, skipping .0 and .255 in each place: 16 million connections apart.
    const loopbackSource = (): string => {
      const n = connections++
      return `127.${1 + (Math.floor(n / 64_009) % 254)}.${1 + (Math.floor(n / 253) % 253)}.${1 + (n % 253)}`
    }
    const laneOptions = (index: number) => ({
      ...endpoints[index % endpoints.length],
      inFlight: options.inFlight ?? 8,
      idleMs: options.idleMs ?? 1_000,
      stuckMs: options.stuckMs ?? 15_000,
      ...(endpoints[index % endpoints.length].host === '127.0.0.1' ? { sourceAddress: loopbackSource } : {}),
    })
    // RSS read every few seconds, for the medians the growth check compares (see rss-windows.ts).
    const rssSamples: RssSample[] = []
    const rssSampler = setInterval(() => {
      const memory = broker?.memoryKb()
      if (memory != null && rssSamples.length < RSS_SAMPLES_MAX) rssSamples.push({ frame: next, rssKb: memory.rssKb })
    }, RSS_SAMPLE_INTERVAL_MS)
    const probeFailures: string[] = []
    const stopProbe = startProbe(bootstrap, () => oracle.standingTopic(), 2_000, () => next, probeFailures)
    const startedMs = Date.now()
    const fuzzerCpuStart = process.cpuUsage()
    const brokerCpuStart = broker?.cpuSeconds() ?? null
    // The latest census of the state the run created, taken beside each progress line (one at a time).
    let census = 'census pending'
    let censusRunning = false
    const swept = { topics: 0, groups: 0 }
    const keepTopics = new Set([...world.allNames, ...SPARE_TOPICS])
    const keepGroups = new Set(GROUPS)
    // Partition -> the frame near which a check during the run first found it wrong, so a loss
    // the final check reports can be replayed from near where it happened (--first).
    const firstWrongNearFrame = new Map<string, number>()
    const checkKnown = async (clientId: string): Promise<PartitionVerdict[]> => {
      const checker = await KafkaClient.connect({ bootstrapServers: bootstrap, clientId, requestTimeoutMs: 30_000 })
      try {
        return await oracle.check(checker, known)
      } finally {
        await checker.close()
      }
    }
    const watchKnown = async (): Promise<void> => {
      for (const verdict of await checkKnown('partita-fuzz-watch')) {
        const key = `${verdict.topic}-${verdict.partition}`
        if (verdict.ok || firstWrongNearFrame.has(key)) continue
        firstWrongNearFrame.set(key, next)
        log(`fuzz: near frame ${next}: ${key}: ${verdict.verdict}`)
      }
    }
    const censusAndSweep = async (): Promise<void> => {
      await watchKnown()
      census = censusLine(await takeCensus(bootstrap))
      if (options.keepCreatedState === true) return
      const sweep = await sweepCreatedState(bootstrap, keepTopics, keepGroups)
      swept.topics += sweep.topics
      swept.groups += sweep.groups
      census += ` (deleted so far: ${swept.topics} topics, ${swept.groups} groups)`
    }
    const progress = setInterval(() => {
      if (!censusRunning) {
        censusRunning = true
        censusAndSweep()
          .catch((error: Error) => (census = `census failed: ${error.message}`))
          .finally(() => (censusRunning = false))
      }
      const seconds = (Date.now() - startedMs) / 1000
      const memory = broker?.memoryKb()
      // Retained heap beside RSS: growth in the first is a leak of JavaScript objects, growth in RSS alone is native memory or heap room.
      const retained = broker === null ? [] : broker.retainedHeap.perIsolateMb()
      const brokerState =
        memory == null
          ? ''
          : `, broker RSS ${Math.round(memory.rssKb / 1024)} MiB (anon ${Math.round(memory.anonKb / 1024)}) in ${memory.threads} threads, ` +
            `retained heap ${Math.round(retained.reduce((sum, r) => sum + r.liveMb, 0))} MiB [live/held per isolate: ${retained.map((r) => `${r.liveMb.toFixed(0)}/${r.committedMb.toFixed(0)}`).join(' ')}]`
      log(`fuzz: ${stats.framesSent} frames in ${seconds.toFixed(0)} s (${(stats.framesSent / seconds).toFixed(0)}/s), ${stats.connectionsOpened} connections, ${stats.findings.length} findings${brokerState}; ${census}`)
    }, 10_000)
    const lanes = Array.from({ length: options.lanes ?? LANES_DEFAULT }, (_, index) => new Lane(laneOptions(index), stats))
    try {
      await Promise.all(lanes.map((lane) => lane.run(take)))
    } finally {
      clearInterval(progress)
      clearInterval(rssSampler)
      await stopProbe()
    }
    const durationMs = Date.now() - startedMs
    const fuzzerCpu = process.cpuUsage(fuzzerCpuStart)
    const brokerCpuEnd = broker?.cpuSeconds() ?? null
    const perFrame = (ms: number): number => Math.round((ms / Math.max(1, stats.framesSent)) * 1000) / 1000
    const cpuMsPerFrame = {
      fuzzer: perFrame((fuzzerCpu.user + fuzzerCpu.system) / 1000),
      broker: brokerCpuStart === null || brokerCpuEnd === null ? null : perFrame((brokerCpuEnd - brokerCpuStart) * 1000),
    }
    const exitedDuringRun = broker?.exit ?? null
    if (exitedDuringRun !== null) failures.push(`the broker exited during the run (code ${exitedDuringRun.code}, signal ${exitedDuringRun.signal}) near frame ${next}`)

    const partitions = exitedDuringRun === null ? await checkKnown('partita-fuzz-check') : []
    for (const p of partitions) {
      const near = firstWrongNearFrame.get(`${p.topic}-${p.partition}`)
      if (!p.ok) failures.push(`${p.topic}-${p.partition}: ${p.verdict}${near === undefined ? '' : ` (first seen near frame ${near})`}`)
    }
    const rssEnd = broker?.memoryKb() ?? null
    const rssGrowthMaxKb = options.rssGrowthMaxKb ?? 64 * 1024
    const windows = rssWindows(first, options.frames)
    const medianAfterWarmUp = medianRssKb(rssSamples, windows.afterWarmUp)
    const medianEnd = medianRssKb(rssSamples, windows.end)
    if (medianAfterWarmUp !== null && medianEnd !== null) {
      if (medianEnd - medianAfterWarmUp > rssGrowthMaxKb) {
        failures.push(
          `the broker's RSS grew ${Math.round((medianEnd - medianAfterWarmUp) / 1024)} MiB after the warm-up (median ${medianAfterWarmUp} kB over the tenth of the frames after it, ` +
            `${medianEnd} kB over the last tenth), more than ${Math.round(rssGrowthMaxKb / 1024)} MiB`,
        )
      }
    } else if (rssEnd !== null && rssAfterWarmUp !== null && rssEnd.rssKb - rssAfterWarmUp > rssGrowthMaxKb) {
      // A run too short for the medians (a few seconds) is judged on the two readings.
      failures.push(`the broker's RSS grew ${Math.round((rssEnd.rssKb - rssAfterWarmUp) / 1024)} MiB after the warm-up (${rssAfterWarmUp} kB to ${rssEnd.rssKb} kB), more than ${Math.round(rssGrowthMaxKb / 1024)} MiB`)
    }
    const retainedEnd = broker?.retainedHeap.totalKb() ?? null
    const retainedGrowthMaxKb = options.retainedHeapGrowthMaxKb ?? 64 * 1024
    if (retainedEnd !== null && retainedAfterWarmUp !== null && retainedEnd - retainedAfterWarmUp > retainedGrowthMaxKb) {
      failures.push(
        `the broker's retained V8 heap grew ${Math.round((retainedEnd - retainedAfterWarmUp) / 1024)} MiB after the warm-up (${retainedAfterWarmUp} kB to ${retainedEnd} kB), more than ${Math.round(retainedGrowthMaxKb / 1024)} MiB`,
      )
    }
    for (const [kind, count] of stats.findingCounts) if (FAILING_FINDINGS.has(kind)) failures.push(`${count} finding(s) of kind ${kind}`)
    failures.push(...probeFailures.slice(0, 10))
    const brokerLog = broker?.log ?? null
    for (const finding of stats.findings) {
      const reason = finding.peer === undefined ? undefined : brokerLog?.reasonFor(finding.peer)
      if (reason !== undefined) finding.detail += ` (the broker said: ${reason})`
    }
    if (brokerLog !== null && brokerLog.bugLineCount > 0) failures.push(`the broker printed ${brokerLog.bugLineCount} line(s) that mean a bug, e.g. ${brokerLog.bugLines[0]}`)
    const censusAtEnd = exitedDuringRun === null ? await takeCensus(bootstrap).catch(() => null) : null
    const shutdown = broker === null ? null : await broker.stop()
    if (shutdown !== null && exitedDuringRun === null && !shutdown.clean) failures.push(`the broker did not shut down cleanly (code ${shutdown.code}, signal ${shutdown.signal})`)
    return {
      ok: failures.length === 0,
      failures,
      seed: options.seed,
      firstFrame: first,
      frames: options.frames,
      baseTimestampMs,
      framesSent: stats.framesSent,
      framesRedrawn: sortedRecord(stats.redrawn),
      partitionReplicasMax: source.partitionReplicasMax,
      durationMs,
      framesPerSecond: Math.round((stats.framesSent / durationMs) * 1000),
      cpuMsPerFrame,
      brokerExitedDuringRun: exitedDuringRun,
      brokerShutdown: shutdown,
      rssKb: { start: rssStart?.rssKb ?? null, afterWarmUp: rssAfterWarmUp, end: rssEnd?.rssKb ?? null, peak: rssEnd?.peakKb ?? null, medianAfterWarmUp, medianEnd },
      retainedHeapKb: { afterWarmUp: retainedAfterWarmUp, end: retainedEnd, fullCollections: broker?.retainedHeap.fullCollections ?? 0 },
      censusAtEnd,
      swept,
      connections: {
        opened: stats.connectionsOpened,
        closedAsPredicted: stats.connectionsClosedAsPredicted,
        closedAfterSilentProduce: stats.connectionsClosedAfterSilentProduce,
        closedUnexpectedly: stats.connectionsClosedUnexpectedly,
        unansweredAtClose: stats.unansweredAtClose,
      },
      advertised,
      sentByApi: sortedRecord(stats.sentByApi),
      answeredByApi: sortedRecord(stats.answeredByApi),
      abandonedByApi: sortedRecord(stats.abandonedByApi),
      predictions: sortedRecord(stats.predictions),
      mutations: sortedRecord(stats.mutations),
      errorCodes: stats.errorCodeReport(),
      latencyMaxMs: stats.latencyMaxMs,
      findings: stats.findings,
      findingCounts: sortedRecord(stats.findingCounts),
      probeFailures,
      broker:
        brokerLog === null
          ? null
          : {
              bugLines: brokerLog.bugLines,
              bugLineCount: brokerLog.bugLineCount,
              warnings: brokerLog.warnings,
              closeReasons: sortedRecord(brokerLog.closeReasons),
              other: brokerLog.other,
              otherCount: brokerLog.otherCount,
            },
      oracle: { loggedByApi: sortedRecord(oracle.countsByApi), entries: oracle.entries, partitions },
    }
  } catch (error) {
    await broker?.stop()
    throw error
  }
}
