/**
 * `partita bench produce|consume|e2e` without the command line: runs the workload against
 * Partita (`partita start` in its own process and a temporary directory, or any Kafka-protocol
 * broker given), then the same workload against each peer, and writes the printed lines, the JSON
 * and the HTML report.
 */
import { writeFileSync } from 'node:fs'
import { KafkaDriver } from './kafka-driver.js'
import type { BenchDriver } from './driver.js'
import { htmlReport } from './html-report.js'
import { startPeer, type PeerDurability, type PeerName } from './peers/start-peer.js'
import { ratios, resultJson, type BenchResultJson } from './result.js'
import { runWorkload, type WorkloadSettings } from './run.js'
import { startPartitaProcess, type PartitaFsyncMode } from './start-partita.js'

export interface HarnessOptions {
  settings: WorkloadSettings
  /** A Kafka-protocol broker to measure; absent: a Partita started for the run. */
  bootstrapServers?: string
  /** Brokers of the Partita started for the run (default: its own default, one per core). */
  partitaBrokers?: number
  peers: PeerName[]
  /** What every system is set to promise about the disk; default 'as-configured'. */
  durability?: Durability
  jsonFile?: string
  reportFile?: string
  print: (line: string) => void
}

/**
 * What the systems of a run promise about the disk. Their defaults differ (Partita fsyncs before
 * it answers acks=all and before consumers see a record; Redis fsyncs every second, NATS every 2
 * minutes), so a latency compared at the defaults is not like for like, and the harness says so:
 * - `as-configured`: each system as it ships.
 * - `page-cache`: no system fsyncs before it answers: Partita with partita.fsync.mode=off, the
 *   peers as configured.
 * - `fsync`: every write fsynced before it is answered: Partita's default, Redis with appendfsync
 *   always (NATS cannot be, before nats-server 2.10, and says so).
 */
export type Durability = 'as-configured' | 'page-cache' | 'fsync'
export const DURABILITIES: readonly Durability[] = ['as-configured', 'page-cache', 'fsync']

const PARTITA_FSYNC_MODE: Record<Durability, PartitaFsyncMode> = { 'as-configured': 'acks-all', 'page-cache': 'off', fsync: 'acks-all' }
const PEER_DURABILITY: Record<Durability, PeerDurability> = { 'as-configured': 'as-configured', 'page-cache': 'as-configured', fsync: 'fsync' }
/** How Partita writes in each fsync mode. */
const PARTITA_FLUSH_MODE: Record<PartitaFsyncMode, string> = {
  'acks-all': 'partita.fsync.mode=acks-all: acks=all answered once the group commit fdatasynced it, acks=1 and 0 from the page cache; consumers see records once fdatasynced',
  off: 'partita.fsync.mode=off: answered and visible from the page cache (fsynced only as flush.ms / flush.messages say)',
}

export async function runHarness(options: HarnessOptions): Promise<BenchResultJson> {
  const durability = options.durability ?? 'as-configured'
  const main = await mainDriver(options, durability)
  const mainResult = resultJson(await runWorkload(main, options.settings, options.print))
  const peerResults: BenchResultJson[] = []
  for (const peer of options.peers) {
    options.print(`# ${peer}: the same workload`)
    const driver = await startPeer(peer, PEER_DURABILITY[durability])
    peerResults.push(resultJson(await runWorkload(driver, options.settings, options.print)))
  }
  const output: BenchResultJson = { ...mainResult }
  if (peerResults.length > 0) {
    output.peers = peerResults
    output.ratios = Object.fromEntries(peerResults.map((p) => [String(p.system), ratios(mainResult, p)]))
    for (const line of comparison(mainResult, peerResults)) options.print(line)
    for (const line of durabilityLines(durability, [mainResult, ...peerResults], options.settings.acks)) options.print(line)
  }
  if (options.jsonFile !== undefined) writeFileSync(options.jsonFile, JSON.stringify(output, null, 2) + '\n')
  if (options.reportFile !== undefined) writeFileSync(options.reportFile, htmlReport([mainResult, ...peerResults], `partita bench ${options.settings.mode}`))
  return output
}

async function mainDriver(options: HarnessOptions, durability: Durability): Promise<BenchDriver> {
  if (options.bootstrapServers !== undefined) {
    return new KafkaDriver({ system: 'kafka-protocol', bootstrapServers: options.bootstrapServers, flushMode: "the broker's own", server: null })
  }
  const fsyncMode = PARTITA_FSYNC_MODE[durability]
  const partita = await startPartitaProcess(options.partitaBrokers, fsyncMode)
  return new KafkaDriver({ system: 'partita', bootstrapServers: partita.bootstrapServers, flushMode: PARTITA_FLUSH_MODE[fsyncMode], server: partita.server, onTeardown: () => partita.stop() })
}

/** Which durability each system ran with, and whether the comparison above is like for like. */
function durabilityLines(durability: Durability, results: BenchResultJson[], acks: number): string[] {
  const lines = [`# durability (--durability ${durability}):`, ...results.map((r) => `#   ${String(r.system)}: ${String(r.flushMode)}`)]
  if (durability === 'as-configured') {
    lines.push('# not like for like: Partita fsyncs before consumers see a record, the peers do not; compare alike with --durability page-cache or --durability fsync')
  } else if (durability === 'fsync' && acks !== -1) {
    lines.push(`# not like for like: with acks=${acks} Partita answers before its fsync (consumers still see records only once on disk); use --acks all`)
  }
  return lines
}

/** Partita's figures beside each peer's, with Partita's ratio to it (above 1: Partita did better). */
function comparison(main: BenchResultJson, peers: BenchResultJson[]): string[] {
  const rows = [main, ...peers].map((r) => {
    const ratio = r === main ? null : ratios(main, r)
    const cell = (value: unknown, digits: number, ratioOf: number | null | undefined): string => {
      const v = typeof value === 'number' && value > 0 ? value.toFixed(digits) : '-'
      return ratioOf === undefined || ratioOf === null ? v : `${v} (${ratioOf.toFixed(2)}x)`
    }
    return [
      String(r.system),
      cell(r.aggregatedPublishRate, 0, ratio?.publishRate),
      cell(r.aggregatedConsumeRate, 0, ratio?.consumeRate),
      cell(r.aggregatedPublishLatency99pct, 3, ratio?.publishLatency99pct),
      cell(r.aggregatedEndToEndLatency99pct, 3, ratio?.endToEndLatency99pct),
      cell(r.clientCpuUsPerRecord, 2, undefined),
      cell(r.serverCpuUsPerRecord, 2, undefined),
      cell(r.loadAverage1m, 1, undefined),
    ]
  })
  const header = ['SYSTEM', 'PUBLISH-REC/S', 'CONSUME-REC/S', 'PUBLISH-P99-MS', 'E2E-P99-MS', 'CLIENT-CPU-US/REC', 'SERVER-CPU-US/REC', 'LOAD-AVG']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const format = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()
  // Each system's durability follows, in durabilityLines.
  const how = [main, ...peers].map((r) => `# ${String(r.system)} driven: ${String(r.driven)}`)
  return ['# Partita beside its peers (Nx: how many times better Partita did)', format(header), ...rows.map(format), ...how]
}
