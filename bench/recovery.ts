/**
 * `npm run bench:recovery`: how long a broker's partitions are offline after its shard dies.
 *
 * One broker, replication factor 1 (the defaults), N partitions (BENCH_PARTITIONS, default 1,000)
 * with a record each. The shard is killed for real; the figure is the time from its death until
 * every partition is led again (the supervisor's recovery report) and until a produce to every
 * partition has succeeded. Beside it, measured in the same run on the same logs: the floor any
 * restart pays, opening the N partition logs one after another on this thread with no runtime at
 * all. Each phase's CPU time is read from /proc/self/task/TID/stat beside its wall time: on a busy
 * box the wall times stretch, the CPU times much less. The recovery is split into its phases (the
 * supervisor's report): failover, a fresh worker, the node, the replicas' logs, the election,
 * followers told, serving.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startBroker } from '../src/start-broker.js'
import { SystemClock } from '../src/common/clock.js'
import { PartitionLog } from '../src/storage/log.js'
import { logConfigFromKafka } from '../src/storage/log-config.js'
import { cpuBetween, snapshotCpu, type CpuUsage } from './protocol/thread-cpu.js'

const threads = { main: process.pid, shards: [] }
const cpuMs = (usage: CpuUsage): string => `cpu ${(usage.totalUs / 1000).toFixed(0)} ms (main thread ${(usage.mainUs / 1000).toFixed(0)} ms)`

const partitions = Number(process.env.BENCH_PARTITIONS ?? '1000')
const dataDir = mkdtempSync(join(tmpdir(), 'partita-bench-recovery-'))

try {
  const broker = await startBroker({ port: 0, dataDir, brokers: 1 })
  await broker.admin.createTopic({ name: 'bench', partitions, replicationFactor: 1 })
  const producer = broker.producer({ acks: 'all' })
  const everyPartition = (value: string) => Array.from({ length: partitions }, (_, partition) => ({ partition, value }))
  await producer.send({ topic: 'bench', messages: everyPartition('before') })

  const killedAtMs = performance.now()
  const cpuAtKill = snapshotCpu(process.pid)
  const back = broker.faults.recovered(0)
  broker.faults.killBroker(0)
  const report = await back
  const recoveryCpu = cpuBetween(cpuAtKill, snapshotCpu(process.pid), threads)
  const retrying = broker.producer({ acks: 'all', retry: { retries: 100, initialRetryTime: 5 } })
  await retrying.send({ topic: 'bench', messages: everyPartition('after') })
  const servingMs = performance.now() - killedAtMs
  await broker.close()

  const clock = new SystemClock()
  const config = logConfigFromKafka({})
  const openStartMs = performance.now()
  const cpuAtOpen = snapshotCpu(process.pid)
  // Opened as the restarted shard opens them after a kill: no clean-shutdown marker names them,
  // so each is recovered from its recovery point.
  for (let partition = 0; partition < partitions; partition++) {
    const log = await PartitionLog.open(join(dataDir, 'broker-0', `bench-${partition}`), config, { clock })
    await log.close()
  }
  const floorMs = performance.now() - openStartMs
  const floorCpu = cpuBetween(cpuAtOpen, snapshotCpu(process.pid), threads)

  console.log(`recovery after a shard kill, ${partitions} partitions, replication factor 1`)
  console.log(`  led again (supervisor's report)  ${report.durationMs.toFixed(0)} ms  (${report.ledAgain} of ${report.replicas} led again), ${cpuMs(recoveryCpu)}`)
  console.log(`  phases: ${Object.entries(report.phasesMs).map(([name, ms]) => `${name} ${ms.toFixed(0)}`).join(', ')} ms`)
  console.log(`  a produce to every partition ok  ${servingMs.toFixed(0)} ms after the kill`)
  console.log(`  baseline: open the ${partitions} logs on one thread, no runtime  ${floorMs.toFixed(0)} ms, ${cpuMs(floorCpu)}  (recovery is ${(servingMs / floorMs).toFixed(1)}x)`)
  console.log(`  threads during the recovery: ${recoveryCpu.otherThreads.slice(0, 6).map((t) => `${t.tid}:${(t.us / 1000).toFixed(0)}ms(sys ${(t.systemUs / 1000).toFixed(0)})`).join(" ")}`)
  console.log(`  box load while it ran: ${(recoveryCpu.boxBusyUs / 1000).toFixed(0)} ms of busy CPU on the box during the recovery`)
} finally {
  rmSync(dataDir, { recursive: true, force: true })
}
