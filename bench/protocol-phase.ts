/**
 * `npm run bench:protocol:phase -- NAME`: one phase of bench:protocol alone, to measure one change
 * without the whole run: produce, fetch, small, paced or scaling beside the ceiling under the same
 * load measured in the same run (paced: small batches one at a time, BENCH_PACED_PAUSE_MS (2) ms
 * apart); e2e beside its client-side floor; acks-all beside acks=1 on the main layout; txn the
 * transactions of BENCH_TXN_RECORDS beside idempotent produce, both librdkafka on one fresh
 * server. Same environment variables as bench/protocol.ts, plus BENCH_BROKER_NODE_OPTIONS: Node
 * options for the broker process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile its shard
 * workers under that load.
 */
import { formatSinglePhase } from './protocol/report.js'
import { FOCUSED_PHASES, runFocused, runSinglePhase, settingsFromEnv, SINGLE_PHASES, type FocusedPhase, type SinglePhase } from './protocol/run.js'

const phase = process.argv[2]
const names: readonly string[] = [...SINGLE_PHASES, ...FOCUSED_PHASES]
if (!names.includes(phase)) {
  console.error(`usage: npm run bench:protocol:phase -- ${names.join('|')}`)
  process.exit(2)
}
const settings = settingsFromEnv(process.env)
console.log(`protocol benchmark, phase ${phase}: ${settings.seconds} s; settings ${JSON.stringify(settings)}`)
const log = (line: string): void => console.log(`... ${line}`)
if ((FOCUSED_PHASES as readonly string[]).includes(phase)) console.log((await runFocused(phase as FocusedPhase, settings, log)).join('\n'))
else console.log(formatSinglePhase(await runSinglePhase(settings, phase as SinglePhase, log)))
