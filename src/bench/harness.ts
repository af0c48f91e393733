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
import { startPeer, type PeerName } from './peers/start-peer.js'
import { ratios, resultJson, type BenchResultJson } from './result.js'
import { runWorkload, type WorkloadSettings } from './run.js'
import { startPartitaProcess } from './start-partita.js'

export interface HarnessOptions {
  settings: WorkloadSettings
  /** A Kafka-protocol broker to measure; absent: a Partita started for the run. */
  bootstrapServers?: string
  /** Brokers of the Partita started for the run (default: its own default, one per core). */
  partitaBrokers?: number
  peers: PeerName[]
  jsonFile?: string
  reportFile?: string
  print: (line: string) => void
}

/** How Partita writes in a default run (partita.fsync.mode's default, stronger than Kafka's page cache). */
const PARTITA_FLUSH_MODE = 'partita.fsync.mode=acks-all: acks=all answered once the group commit fdatasynced it; acks=1 and 0 from the page cache'

export async function runHarness(options: HarnessOptions): Promise<BenchResultJson> {
  const main = await mainDriver(options)
  const mainResult = resultJson(await runWorkload(main, options.settings, options.print))
  const peerResults: BenchResultJson[] = []
  for (const peer of options.peers) {
    options.print(`# ${peer}: the same workload`)
    const driver = await startPeer(peer)
    peerResults.push(resultJson(await runWorkload(driver, options.settings, options.print)))
  }
  const output: BenchResultJson = { ...mainResult }
  if (peerResults.length > 0) {
    output.peers = peerResults
    output.ratios = Object.fromEntries(peerResults.map((p) => [String(p.system), ratios(mainResult, p)]))
    for (const line of comparison(mainResult, peerResults)) options.print(line)
  }
  if (options.jsonFile !== undefined) writeFileSync(options.jsonFile, JSON.stringify(output, null, 2) + '\n')
  if (options.reportFile !== undefined) writeFileSync(options.reportFile, htmlReport([mainResult, ...peerResults], `partita bench ${options.settings.mode}`))
  return output
}

async function mainDriver(options: HarnessOptions): Promise<BenchDriver> {
  if (options.bootstrapServers !== undefined) {
    return new KafkaDriver({ system: 'kafka-protocol', bootstrapServers: options.bootstrapServers, flushMode: "the broker's own", server: null })
  }
  const partita = await startPartitaProcess(options.partitaBrokers)
  return new KafkaDriver({ system: 'partita', bootstrapServers: partita.bootstrapServers, flushMode: PARTITA_FLUSH_MODE, server: partita.server, onTeardown: () => partita.stop() })
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
  const how = [main, ...peers].flatMap((r) => [`# ${String(r.system)} driven: ${String(r.driven)}`, `# ${String(r.system)} durability: acks ${String(r.acks)}; ${String(r.flushMode)}`])
  return ['# Partita beside its peers (Nx: how many times better Partita did)', format(header), ...rows.map(format), ...how]
}
