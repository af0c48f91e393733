/**
 * A run's result as OpenMessaging Benchmark writes it (its TestResult field names: per-period
 * series such as `publishRate` and `endToEndLatency99pct`, and `aggregated...` figures over the
 * whole run, latencies in ms), plus what makes figures comparable across machines: the machine,
 * the Node version, acks and each system's flush mode.
 */
import { cpus, hostname, platform, release, totalmem } from 'node:os'
import { latencyFigures, type LatencyFigures, type RunResult } from './run.js'

export interface Machine {
  hostname: string
  os: string
  cpuModel: string
  cpus: number
  memoryBytes: number
}

export function machine(): Machine {
  const list = cpus()
  return { hostname: hostname(), os: `${platform()} ${release()}`, cpuModel: list[0]?.model ?? 'unknown', cpus: list.length, memoryBytes: totalmem() }
}

const QUANTILES = [50, 75, 90, 95, 99, 99.9, 99.99, 99.999, 100]

/** OpenMessaging Benchmark's field names map to numbers, series of numbers, and quantile maps. */
export type BenchResultJson = Record<string, unknown>

export function resultJson(run: RunResult): BenchResultJson {
  const s = run.settings
  const publishing = s.mode !== 'consume'
  const consuming = s.mode !== 'produce'
  const series = (name: string, pick: (p: RunResult['periods'][number]) => number): Record<string, number[]> => ({ [name]: run.periods.map(pick) })
  const perPeriodLatency = (prefix: string, pick: (p: RunResult['periods'][number]) => LatencyFigures): Record<string, number[]> =>
    Object.assign({}, ...(Object.keys(latencyFigures(run.publishLatency)) as Array<keyof LatencyFigures>).map((k) => series(`${prefix}${k}`, (p) => pick(p)[k])))
  const aggregated = (prefix: string, figures: LatencyFigures): Record<string, number> =>
    Object.fromEntries((Object.keys(figures) as Array<keyof LatencyFigures>).map((k) => [`aggregated${prefix}${k}`, figures[k]]))
  let backlog = 0
  return {
    workload: `${s.mode} ${s.records} records of ${s.recordSize} B over ${s.partitions} partitions${s.throughput > 0 ? ` at ${s.throughput} records/s` : ''}`,
    driver: run.system,
    messageSize: s.recordSize,
    topics: 1,
    partitions: s.partitions,
    producersPerTopic: publishing ? s.producers : 0,
    consumersPerTopic: consuming ? Math.min(s.consumers, s.partitions) : 0,
    ...series('publishRate', (p) => p.publishRate),
    ...series('publishErrorRate', () => 0),
    ...series('consumeRate', (p) => p.consumeRate),
    backlog: run.periods.map((p) => (backlog += p.published - p.consumed)),
    ...perPeriodLatency('publishLatency', (p) => p.publishLatency),
    ...perPeriodLatency('endToEndLatency', (p) => p.endToEndLatency),
    ...aggregated('PublishLatency', latencyFigures(run.publishLatency)),
    aggregatedPublishLatencyQuantiles: quantiles(run, 'publish'),
    ...aggregated('EndToEndLatency', latencyFigures(run.endToEndLatency)),
    aggregatedEndToEndLatencyQuantiles: quantiles(run, 'endToEnd'),
    // Beyond OpenMessaging Benchmark's fields: each period's length, what the run was, and where.
    ...series('periodElapsedMs', (p) => p.elapsedMs),
    system: run.system,
    mode: s.mode,
    records: s.records,
    published: run.published,
    consumed: run.consumed,
    aggregatedPublishRate: run.publishElapsedMs > 0 ? (run.published * 1000) / run.publishElapsedMs : 0,
    aggregatedConsumeRate: run.consumeElapsedMs > 0 ? (run.consumed * 1000) / run.consumeElapsedMs : 0,
    targetPublishRate: s.throughput,
    acks: s.acks,
    flushMode: run.flushMode,
    driven: run.driven,
    ...cpuFields(run),
    batchBytes: s.batchBytes,
    inFlightPerProducer: s.inFlight,
    reportIntervalMs: s.reportIntervalMs,
    warmupRecords: s.mode === 'consume' ? 0 : s.warmupRecords,
    startedAt: new Date(run.startedAtMs).toISOString(),
    nodeVersion: process.version,
    machine: machine(),
  }
}

/**
 * CPU over the measured phase per record (published, or consumed in a consume run): the harness's
 * process (the clients) and the server's, with the server's main thread, shards and busiest other
 * threads, and the load average the figures were taken under.
 */
function cpuFields(run: RunResult): Record<string, unknown> {
  const cpu = run.cpu
  if (cpu === null) return {}
  const records = run.settings.mode === 'consume' ? run.consumed : run.published
  const per = (us: number): number | null => (records > 0 ? us / records : null)
  const server = cpu.server
  return {
    clientCpuUsPerRecord: per(cpu.client.totalUs),
    serverCpuUsPerRecord: server === null ? null : per(server.totalUs),
    serverCpuUsPerRecordByThread:
      server === null
        ? null
        : {
            main: per(server.mainUs),
            shards: server.shardsUs.map(per),
            other: per(server.otherUs),
            busiestOther: server.otherThreads.slice(0, 4).map((t) => ({ tid: t.tid, name: t.name, usPerRecord: per(t.us) })),
          },
    boxBusyCpuUsPerRecord: per(cpu.client.boxBusyUs),
    loadAverage1m: cpu.loadAverage1m,
  }
}

function quantiles(run: RunResult, which: 'publish' | 'endToEnd'): Record<string, number> {
  const h = which === 'publish' ? run.publishLatency : run.endToEndLatency
  if (h.count === 0) return {}
  return Object.fromEntries(QUANTILES.map((q) => [q.toFixed(3), h.percentileMs(q)]))
}

/** Partita's figure over each peer's: >1 means Partita did better (rates higher, latencies lower). */
export function ratios(partita: BenchResultJson, peer: BenchResultJson): Record<string, number | null> {
  const over = (a: unknown, b: unknown): number | null => (typeof a === 'number' && typeof b === 'number' && b > 0 && a > 0 ? a / b : null)
  return {
    publishRate: over(partita.aggregatedPublishRate, peer.aggregatedPublishRate),
    consumeRate: over(partita.aggregatedConsumeRate, peer.aggregatedConsumeRate),
    publishLatency99pct: over(peer.aggregatedPublishLatency99pct, partita.aggregatedPublishLatency99pct),
    endToEndLatency99pct: over(peer.aggregatedEndToEndLatency99pct, partita.aggregatedEndToEndLatency99pct),
  }
}
