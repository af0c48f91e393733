/**
 * `npm run sim -- --seeds N [--first S]` or `--seed S`: runs the power-cut simulation
 * (power-cut.ts) over seeds first..first+N-1 and prints what it ran; a violated invariant stops
 * the run with its seed and exit status 1.
 */
import { runPowerCutSim } from './power-cut.js'

function option(name: string): number | undefined {
  const at = process.argv.indexOf(`--${name}`)
  if (at < 0) return undefined
  const value = Number(process.argv[at + 1])
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`--${name} needs a non-negative integer`)
  return value
}

async function main(): Promise<void> {
  const single = option('seed')
  const first = single ?? option('first') ?? 1
  const seeds = single === undefined ? (option('seeds') ?? 1000) : 1
  const totals = { cuts: 0, acked: 0, commits: 0, metadataChanges: 0, produceErrors: 0, faults: 0, fsyncs: 0 }
  const startMs = Date.now()
  for (let seed = first; seed < first + seeds; seed++) {
    const result = await runPowerCutSim({ seed })
    totals.cuts += result.cuts
    totals.acked += result.acked
    totals.commits += result.commits
    totals.metadataChanges += result.metadataChanges
    totals.produceErrors += result.produceErrors
    totals.faults += result.faults
    totals.fsyncs += result.fsyncs
    if ((seed - first + 1) % 1000 === 0) console.log(`${seed - first + 1} seeds...`)
  }
  const seconds = (Date.now() - startMs) / 1000
  console.log(
    `power-cut sim: seeds ${first}..${first + seeds - 1} (${seeds}) passed in ${seconds.toFixed(1)} s: ` +
      `${totals.cuts} power cuts, ${totals.acked} acks=all records acknowledged and checked, ` +
      `${totals.commits} OffsetCommits and ${totals.metadataChanges} metadata changes acknowledged and checked, ` +
      `${totals.produceErrors} produces and commits refused (storage errors, timeouts), ${totals.faults} injected EIO/ENOSPC, ${totals.fsyncs} fsyncs`,
  )
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exitCode = 1
})
