/**
 * `npm run fuzz -- --frames N --seed S [--bootstrap host:port] [--report FILE]`: the protocol
 * fuzzer whose oracle is availability (see run.ts and oracle.ts). Prints the seed first and a
 * summary last; any failure names the seed and, where one frame is to blame, its index, which
 * `--first <index> --frames 1` sends again. Exits 1 when the oracle fails.
 */
import { writeFileSync } from 'node:fs'
import { censusLine } from './census.js'
import { runFuzz, type FuzzOptions, type FuzzReport } from './run.js'

const USAGE =
  'usage: npm run fuzz -- --frames N --seed S [--first I] [--bootstrap host:port] [--report FILE] [--lanes L] [--in-flight K] [--brokers B] [--data-dir DIR] [--broker-node-args "--flag ..."] ' +
  '[--base-time-ms T] [--partition-replicas-max N|unlimited] [--keep-created-state yes]'

function parseArgs(argv: string[]): FuzzOptions & { report?: string } {
  const values = new Map<string, string>()
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]
    const value = argv[i + 1]
    if (!name.startsWith('--') || value === undefined) throw new Error(USAGE)
    values.set(name.slice(2), value)
  }
  const int = (name: string, fallback?: number): number | undefined => {
    const raw = values.get(name)
    if (raw === undefined) return fallback
    const parsed = Number(raw)
    if (!Number.isSafeInteger(parsed) || parsed < 0) throw new Error(`--${name} must be a non-negative integer, got '${raw}'\n${USAGE}`)
    return parsed
  }
  const known = new Set(['frames', 'seed', 'first', 'bootstrap', 'report', 'lanes', 'in-flight', 'brokers', 'base-time-ms', 'partition-replicas-max', 'data-dir', 'broker-node-args', 'keep-created-state'])
  for (const name of values.keys()) if (!known.has(name)) throw new Error(`unknown option --${name}\n${USAGE}`)
  return {
    frames: int('frames', 100_000)!,
    seed: int('seed', Math.floor(Math.random() * 2 ** 31))!,
    first: int('first'),
    bootstrap: values.get('bootstrap'),
    report: values.get('report'),
    lanes: int('lanes'),
    inFlight: int('in-flight'),
    brokers: int('brokers'),
    dataDir: values.get('data-dir'),
    brokerNodeArgs: values.get('broker-node-args')?.split(' ').filter((arg) => arg !== ''),
    baseTimestampMs: int('base-time-ms'),
    partitionReplicasMax: values.get('partition-replicas-max') === 'unlimited' ? Infinity : int('partition-replicas-max'),
    keepCreatedState: values.get('keep-created-state') === 'yes',
  }
}

function summary(report: FuzzReport): string {
  const lines = [
    `fuzz: ${report.ok ? 'PASS' : 'FAIL'} seed ${report.seed} (frames ${report.firstFrame}-${report.firstFrame + report.frames - 1}, --base-time-ms ${report.baseTimestampMs})`,
    `  sent ${report.framesSent} frames in ${(report.durationMs / 1000).toFixed(1)} s: ${report.framesPerSecond} frames/s ` +
      `(drawn again: ${JSON.stringify(report.framesRedrawn)}; partition replicas per frame at most ${report.partitionReplicasMax})`,
    `  CPU per frame: ${report.cpuMsPerFrame.fuzzer} ms in the fuzzer, ${report.cpuMsPerFrame.broker ?? '?'} ms in the broker (all its threads)`,
    `  connections: ${report.connections.opened} opened, ${report.connections.closedAsPredicted} closed by the broker as predicted, ` +
      `${report.connections.closedAfterSilentProduce} after a failed acks=0 produce, ${report.connections.closedUnexpectedly} unexpectedly`,
    `  broker RSS: ${report.rssKb.start ?? '?'} kB at start, ${report.rssKb.afterWarmUp ?? '?'} kB after the warm-up, ${report.rssKb.end ?? '?'} kB at end (peak ${report.rssKb.peak ?? '?'} kB); ` +
      `median ${report.rssKb.medianAfterWarmUp ?? '?'} kB over the tenth of the frames after the warm-up, ${report.rssKb.medianEnd ?? '?'} kB over the last tenth`,
    `  broker V8 heap retained after full collections: ${report.retainedHeapKb.afterWarmUp ?? '?'} kB after the warm-up, ${report.retainedHeapKb.end ?? '?'} kB at end (${report.retainedHeapKb.fullCollections} full collections)`,
    `  state left in the broker: ${report.censusAtEnd === null ? '?' : censusLine(report.censusAtEnd)}; deleted as the run went: ${report.swept.topics} topics, ${report.swept.groups} groups`,
    `  predictions: ${JSON.stringify(report.predictions)}`,
    `  answered: ${JSON.stringify(report.answeredByApi)}`,
    `  abandoned (long waits): ${JSON.stringify(report.abandonedByApi)}`,
    `  findings: ${JSON.stringify(report.findingCounts)}`,
    `  oracle log: ${JSON.stringify(report.oracle.loggedByApi)} (${report.oracle.entries.length} naming pre-created topics)`,
    `  partitions: ${report.oracle.partitions.filter((p) => p.ok).length}/${report.oracle.partitions.length} pass`,
  ]
  for (const p of report.oracle.partitions) lines.push(`    ${p.topic}-${p.partition}: ${p.verdict} (log start ${p.logStartOffset}, hw ${p.highWatermark}, ${p.knownRecordsReadBack}/${p.knownRecords} known read back)`)
  if (report.broker !== null) {
    lines.push(`  broker warnings: ${report.broker.warnings.length === 0 ? 'none' : report.broker.warnings.join(' | ')}`)
    lines.push(`  broker bug lines: ${report.broker.bugLineCount}${report.broker.bugLines.length > 0 ? `: ${report.broker.bugLines.slice(0, 3).join(' | ')}` : ''}`)
  }
  lines.push('  error codes per API:')
  for (const [api, codes] of Object.entries(report.errorCodes)) lines.push(`    ${api}: ${Object.entries(codes).map(([code, n]) => `${code} ${n}`).join(', ')}`)
  for (const finding of report.findings.slice(0, 20)) lines.push(`  finding ${finding.kind} at frame ${finding.frame}: ${finding.detail}`)
  for (const failure of report.failures) lines.push(`  FAILURE (seed ${report.seed}): ${failure}`)
  return lines.join('\n')
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2))
  // The fuzzer throws and catches a parse error for most frames it predicts; stacks are not needed.
  Error.stackTraceLimit = 0
  console.log(`fuzz: seed ${options.seed}`)
  const report = await runFuzz({ ...options, log: (line) => console.log(line) })
  if (options.report !== undefined) writeFileSync(options.report, `${JSON.stringify(report, null, 2)}\n`)
  console.log(summary(report))
  process.exitCode = report.ok ? 0 : 1
}

main().catch((error: unknown) => {
  console.error(`fuzz: ${error instanceof Error ? error.message : String(error)}`)
  process.exit(2)
})
