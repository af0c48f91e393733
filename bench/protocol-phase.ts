/**
 * `npm run bench:protocol:phase -- NAME`: one phase of bench:protocol alone (produce, fetch, small
 * or scaling), beside the ceiling under the same load measured in the same run, to measure one
 * change without the whole run. Same environment variables as bench/protocol.ts, plus
 * BENCH_BROKER_NODE_OPTIONS: Node options for the broker process, e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile its shard workers under that load.
 */
import { formatSinglePhase } from './protocol/report.js'
import { runSinglePhase, settingsFromEnv, SINGLE_PHASES, type SinglePhase } from './protocol/run.js'

const phase = process.argv[2]
if (!SINGLE_PHASES.includes(phase as SinglePhase)) {
  console.error(`usage: npm run bench:protocol:phase -- ${SINGLE_PHASES.join('|')}`)
  process.exit(2)
}
const settings = settingsFromEnv(process.env)
console.log(`protocol benchmark, phase ${phase}: ${settings.seconds} s; settings ${JSON.stringify(settings)}`)
const report = await runSinglePhase(settings, phase as SinglePhase, (line) => console.log(`... ${line}`))
console.log(formatSinglePhase(report))
