/**
 * `npm run chaos -- --rounds 20 [--seed S] [--fault kill|freeze|broker-kill] [--freeze-ms 10000]
 * [--rate 500] [--partitions 3] [--report FILE]`: process-level faults of a `partita start`
 * process under a real idempotent acks=all producer and a group consumer (run.ts), or with
 * `--fault broker-kill` that many `faults.killBroker` of a random broker of three in an embedded
 * cluster under load (broker-kills.ts). Prints each round, then the checker's verdict; exits 1
 * when an acknowledged record was lost, stored twice or reordered.
 */
import { writeFileSync } from 'node:fs'
import { runBrokerKills } from './broker-kills.js'
import { runChaos, type ChaosFault } from './run.js'

const USAGE = 'usage: npm run chaos -- --rounds N [--seed S] [--fault kill|freeze|broker-kill] [--freeze-ms MS] [--rate R] [--partitions P] [--report FILE]'

function parseArgs(argv: string[]): Map<string, string> {
  const values = new Map<string, string>()
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]
    const value = argv[i + 1]
    if (!name.startsWith('--') || value === undefined) throw new Error(USAGE)
    values.set(name.slice(2), value)
  }
  const known = new Set(['rounds', 'seed', 'fault', 'freeze-ms', 'rate', 'partitions', 'report'])
  for (const name of values.keys()) if (!known.has(name)) throw new Error(`unknown option --${name}\n${USAGE}`)
  return values
}

function int(values: Map<string, string>, name: string, fallback: number): number {
  const raw = values.get(name)
  if (raw === undefined) return fallback
  const parsed = Number(raw)
  if (!Number.isSafeInteger(parsed) || parsed < 0) throw new Error(`--${name} must be a non-negative integer, got '${raw}'\n${USAGE}`)
  return parsed
}

async function main(): Promise<void> {
  const values = parseArgs(process.argv.slice(2))
  const fault = values.get('fault') ?? 'kill'
  if (fault !== 'kill' && fault !== 'freeze' && fault !== 'broker-kill') throw new Error(`--fault is kill, freeze or broker-kill, got '${fault}'\n${USAGE}`)
  const seed = int(values, 'seed', Math.floor(Math.random() * 2 ** 31))
  console.log(`chaos: seed ${seed}`)
  if (fault === 'broker-kill') return brokerKills(values, seed)
  const report = await runChaos({
    rounds: int(values, 'rounds', 20),
    seed,
    fault: fault as ChaosFault,
    freezeMs: int(values, 'freeze-ms', 10_000),
    perSecond: int(values, 'rate', 500),
    partitions: int(values, 'partitions', 3),
    log: (line) => console.log(line),
  })
  const reportFile = values.get('report')
  if (reportFile !== undefined) writeFileSync(reportFile, `${JSON.stringify(report, null, 2)}\n`)
  const v = report.verdict
  const downs = report.rounds.map((r) => r.downMs)
  const firstAcks = report.rounds.map((r) => r.firstAckAfterMs)
  const ok = v.ok && report.failures.length === 0
  console.log(`chaos: ${ok ? 'PASS' : 'FAIL'} seed ${report.seed}, ${report.rounds.length} ${report.fault} rounds in ${(report.durationMs / 1000).toFixed(0)} s`)
  console.log(`  acknowledged ${v.acked}, stored ${v.stored}: lost ${v.lost}, duplicates ${v.duplicates}, out of order ${v.outOfOrder}`)
  console.log(`  group consumer: ${v.notConsumed} acknowledged not received, ${v.redelivered} redelivered, ${report.assignments} assignments`)
  console.log(`  broker back after (ms): max ${Math.max(...downs)}, median ${median(downs)}; first ack after that (ms): max ${Math.max(...firstAcks)}, median ${median(firstAcks)}`)
  console.log(`  producer: ${JSON.stringify(report.producerSummary)}`)
  for (const problem of v.problems) console.log(`  problem: ${problem}`)
  for (const failure of report.failures) console.log(`  FAILURE (seed ${report.seed}): ${failure}`)
  process.exitCode = ok ? 0 : 1
}

async function brokerKills(values: Map<string, string>, seed: number): Promise<void> {
  const report = await runBrokerKills({ kills: int(values, 'rounds', 50), seed, partitions: int(values, 'partitions', 6), log: (line) => console.log(line) })
  const reportFile = values.get('report')
  if (reportFile !== undefined) writeFileSync(reportFile, `${JSON.stringify(report, null, 2)}\n`)
  const v = report.verdict
  // A victim that led nothing (leadership had moved away in an earlier kill) has no failover to time.
  const serving = report.kills.filter((k) => k.ledPartitions > 0).map((k) => k.newLeaderServingMs).filter((ms) => ms >= 0)
  const recovered = report.kills.map((k) => k.recoveredMs).filter((ms) => ms >= 0)
  const ok = v.ok && report.failures.length === 0
  console.log(`chaos: ${ok ? 'PASS' : 'FAIL'} seed ${report.seed}, ${report.kills.length} broker kills in ${(report.durationMs / 1000).toFixed(0)} s`)
  console.log(`  acknowledged ${v.acked}, stored ${v.stored}: lost ${v.lost}, duplicates ${v.duplicates}, out of order ${v.outOfOrder}`)
  console.log(`  group consumer: ${v.notConsumed} acknowledged not received, ${v.redelivered} redelivered`)
  console.log(`  new leader serving after kill (ms): median ${median(serving)}, p90 ${percentile(serving, 0.9)}, max ${Math.max(...serving)}; over 2 s: ${report.slowerThan2s}`)
  console.log(`  killed broker serving again (ms): median ${median(recovered)}, max ${Math.max(...recovered)}`)
  for (const problem of v.problems) console.log(`  problem: ${problem}`)
  for (const failure of report.failures) console.log(`  FAILURE (seed ${report.seed}): ${failure}`)
  process.exitCode = ok ? 0 : 1
}

function percentile(values: number[], q: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]
}

function median(values: number[]): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

main().catch((error: unknown) => {
  console.error(`chaos: ${error instanceof Error ? error.message : String(error)}`)
  process.exit(2)
})
