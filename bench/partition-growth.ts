/**
 * `npm run bench:partition-growth`: one topic grown by CreatePartitions, step after step, to N
 * partitions on B brokers (replication factor 1), the shape of the fuzzer's CreatePartitions storms
 * that once grew a topic to 130,000 partitions and had every shard miss its heartbeats. Prints
 * the time and the CPU (main thread, each shard) of the first and the last steps: when adding a
 * step's partitions costs the same at the end as at the start, the cost is in what changed, not in
 * the size of the topic; the first step is this run's own baseline. Then the process's RSS and
 * open files at N, a shard kill and its recovery, and a restart of the whole broker on the data.
 * Any shard that missed its heartbeats or exited is counted from the broker's warnings.
 *
 *   npm run bench:partition-growth -- --partitions 75000 --brokers 3 --step 2500
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startBroker, type Broker } from '../src/start-broker.js'
import type { Logger } from '../src/common/logger.js'
import { cpuBetween, snapshotCpu, type CpuUsage, type ThreadMap } from './protocol/thread-cpu.js'

const { values } = parseArgs({
  options: {
    partitions: { type: 'string', default: '75000' },
    brokers: { type: 'string', default: '3' },
    step: { type: 'string', default: '2500' },
    'max-broker-partitions': { type: 'string' },
  },
})
const partitionsMax = Number(values.partitions)
const brokers = Number(values.brokers)
const step = Number(values.step)
// Room for the grown topic and the baseline topic.
const maxBrokerPartitions = values['max-broker-partitions'] === undefined ? Math.ceil((partitionsMax + step) / brokers) : Number(values['max-broker-partitions'])

let shardFailures = 0
const failures: string[] = []
const logger: Logger = {
  error: (message) => record(message),
  warn: (message) => record(message),
  info: () => undefined,
  debug: () => undefined,
}
function record(message: string): void {
  if (!/missed its heartbeats|exited with code/.test(message)) return
  shardFailures++
  if (failures.length < 5) failures.push(message.slice(0, 200))
}

const rssMiB = (): string => (process.memoryUsage().rss / 2 ** 20).toFixed(0)
const openFds = (): number => readdirSync('/proc/self/fd').length
const cpuOf = (usage: CpuUsage): string => `main ${(usage.mainUs / 1000).toFixed(0)} ms, shards ${usage.shardsUs.map((us) => (us / 1000).toFixed(0)).join('/')} ms`
const peakRssMiB = (): string => (Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) / 1024).toFixed(0)

function threadsOf(broker: Broker): ThreadMap {
  const ids = broker.threadIds()
  return { main: ids.main, shards: ids.shards }
}

const dataDir = mkdtempSync(join(tmpdir(), 'partita-bench-growth-'))
const options = { port: 0, dataDir, brokers, adminPort: null, logger, maxBrokerPartitions }
try {
  let broker = await startBroker(options)
  await broker.admin.createTopic({ name: 'grown', partitions: 1, replicationFactor: 1 })
  const steps: Array<{ to: number; ms: number; cpu: CpuUsage }> = []
  for (let count = Math.min(step, partitionsMax); ; count = Math.min(count + step, partitionsMax)) {
    const before = snapshotCpu(process.pid)
    const startMs = performance.now()
    await broker.admin.createPartitions({ topicPartitions: [{ topic: 'grown', count }], timeout: 600_000 })
    steps.push({ to: count, ms: performance.now() - startMs, cpu: cpuBetween(before, snapshotCpu(process.pid), threadsOf(broker)) })
    if (count === partitionsMax) break
  }
  const grownMs = steps.reduce((sum, s) => sum + s.ms, 0)
  const baselineCpuBefore = snapshotCpu(process.pid)
  const baselineStartMs = performance.now()
  await broker.admin.createTopic({ name: 'baseline', partitions: step, replicationFactor: 1 })
  const baseline = { to: step, ms: performance.now() - baselineStartMs, cpu: cpuBetween(baselineCpuBefore, snapshotCpu(process.pid), threadsOf(broker)) }
  console.log(`one topic grown to ${partitionsMax} partitions on ${brokers} brokers, ${step} partitions a CreatePartitions, replication factor 1`)
  const show = (s: (typeof steps)[number]): string => `to ${s.to}: ${s.ms.toFixed(0)} ms (${(s.ms / step).toFixed(2)} ms a partition), ${cpuOf(s.cpu)}`
  const last = steps[steps.length - 1]
  console.log(`  first step                       ${show(steps[0])}`)
  console.log(`  last step                        ${show(last)}`)
  console.log(`  baseline: a new topic of ${step}    ${show(baseline)}`)
  console.log(`  last step over baseline          ${(last.ms / baseline.ms).toFixed(2)}x wall, ${(last.cpu.totalUs / baseline.cpu.totalUs).toFixed(2)}x cpu`)
  console.log(`  all steps                        ${(grownMs / 1000).toFixed(1)} s`)
  console.log(`  at ${partitionsMax} partitions          RSS ${rssMiB()} MiB (peak so far ${peakRssMiB()} MiB), ${openFds()} open fds`)

  const killedAtMs = performance.now()
  const back = broker.faults.recovered(0)
  broker.faults.killBroker(0)
  const report = await back
  console.log(`  shard 0 killed: back in ${report.durationMs.toFixed(0)} ms (${report.replicas} replicas reopened, ${report.ledAgain} led again; ${(performance.now() - killedAtMs).toFixed(0)} ms seen here)`)
  await broker.close()

  const restartMs = performance.now()
  broker = await startBroker(options)
  console.log(`  whole broker restarted on its data: serving in ${(performance.now() - restartMs).toFixed(0)} ms, RSS ${rssMiB()} MiB, ${openFds()} open fds`)
  const meta = await broker.admin.fetchTopicMetadata({ topics: ['grown'] })
  const leaderless = meta.topics[0].partitions.filter((p) => p.leader < 0).length
  console.log(`  after the restart: ${meta.topics[0].partitions.length} partitions, ${leaderless} without a leader`)
  await broker.close()
  console.log(`  peak RSS ${peakRssMiB()} MiB; shards that missed heartbeats or exited: ${shardFailures}${failures.length > 0 ? ` (${failures.join(' | ')})` : ''}`)
} catch (error) {
  console.log(`  failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
  process.exitCode = 1
} finally {
  rmSync(dataDir, { recursive: true, force: true, maxRetries: 5 })
}
