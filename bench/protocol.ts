/**
 * `npm run bench:protocol`: Partita over TCP, as its own process (`partita start`), against the
 * ceiling measured in the same run: a bare Node server that appends each request frame to a file
 * and acks it (bench/protocol/ceiling-server.ts), driven by the same load generator. Printed: each
 * phase's rate, request latency, CPU per record by thread role (main, each shard, other), the
 * command that produced it, and a final table of each figure beside its target.
 *
 * Phases (bench/protocol/run.ts): 16 KiB batches of 100 B records over 64 partitions at acks=1,
 * the fetch of all of it back, 20-record batches over 64 connections, acks=all with replication
 * factor 3 on 3 brokers, librdkafka end-to-end latency at 20,000 records/s beside its client-side
 * floor, librdkafka producing in transactions of 1,000 records beside plain idempotent produce
 * (bench/protocol/txn_cost.py), and produce scaling from one broker on one CPU to two on two
 * (taskset, in alternated pairs).
 *
 * Every server is fresh, so each produce load first runs BENCH_WARMUP_SECONDS (8) unmeasured and
 * each fetch first reads everything once: a new process compiles its hot code and grows its heap in
 * its first seconds (CPU per record was three times the steady figure there, and each shard
 * compiles for itself: see measure() in bench/protocol/run.ts).
 *
 * Environment: BENCH_SECONDS (5) per phase; BENCH_WARMUP_SECONDS (8); BENCH_BROKERS (one per core); BENCH_CONNECTIONS (4) and
 * BENCH_IN_FLIGHT (8) of the wide load; BENCH_SMALL_RECORDS (20), BENCH_SMALL_CONNECTIONS (64) and
 * BENCH_SMALL_IN_FLIGHT (4) of the small one; BENCH_PARTITIONS (64), BENCH_RECORD_BYTES (100),
 * BENCH_BATCH_BYTES (16384), BENCH_E2E_RATE (20000), BENCH_E2E_PARTITIONS (4), BENCH_E2E_LINGER_MS (1),
 * BENCH_TXN_RECORDS (1000), BENCH_TXN_PARTITIONS (8), BENCH_SCALING (1; 0 skips the taskset phases).
 */
import { formatReport } from './protocol/report.js'
import { runProtocolBench, settingsFromEnv } from './protocol/run.js'

const settings = settingsFromEnv(process.env)
console.log(`protocol benchmark: ${settings.seconds} s per phase; settings ${JSON.stringify(settings)}`)
const report = await runProtocolBench(settings, (line) => console.log(`... ${line}`))
console.log(formatReport(report))
