/**
 * `npm run eos`: exactly-once under kill -9 (bench/eos/run.ts). librdkafka copies EOS_RECORDS
 * (100,000) records from an input topic of EOS_PARTITIONS (8) partitions to an output topic, in
 * transactions of EOS_TXN_RECORDS (500) with the consumed offsets in each, while the broker is
 * killed EOS_KILLS (3) times: `partita start --brokers 1` with SIGKILL, then three brokers at
 * replication factor 3 with one broker's worker killed (EOS_TOPOLOGIES picks: process,broker).
 * Printed per run: the figures, the command, and whether output == input (no loss, no duplicate,
 * order per partition) and the committed offsets == the input's end. Exits 1 if any run failed.
 */
import { runEos } from './eos/run.js'

const env = process.env
const records = Number(env.EOS_RECORDS ?? 100_000)
const partitions = Number(env.EOS_PARTITIONS ?? 8)
const txnRecords = Number(env.EOS_TXN_RECORDS ?? 500)
const kills = Number(env.EOS_KILLS ?? 3)
const topologies = (env.EOS_TOPOLOGIES ?? 'process,broker').split(',') as Array<'process' | 'broker'>
let failed = false
for (const topology of topologies) {
  const started = Date.now()
  const report = await runEos({ topology, records, partitions, txnRecords, kills, timeoutMs: 20 * 60_000, log: (line) => console.log(`... [${topology}] ${line}`) })
  const exact = report.problems.length === 0
  failed ||= !exact
  console.log(
    [
      `${topology === 'process' ? 'kill -9 of the broker process (--brokers 1)' : 'one broker of 3 killed (replication factor 3)'}: ${exact ? 'EXACTLY ONCE' : 'FAILED'}`,
      `    input ${report.inputRecords} records, output ${report.outputRecords}; committed offsets ${JSON.stringify(report.committedOffsets)} vs input ends ${JSON.stringify(report.inputEnds)}`,
      `    ${report.kills} kills, ${report.copierStarts} copier starts, ${report.committedTxns} transactions committed, ${report.abortedTxns} aborted; copy ${report.copySeconds.toFixed(1)} s (${(report.records / report.copySeconds).toFixed(0)} records/s through the kills), run ${((Date.now() - started) / 1000).toFixed(1)} s`,
      ...report.problems.map((p) => `    problem: ${p}`),
      `    command: ${report.command}`,
    ].join('\n'),
  )
}
process.exit(failed ? 1 : 0)
