/**
 * Process-level faults under real clients: a `partita start` process on a fixed port and data
 * directory, an idempotent acks=all confluent-kafka producer and a confluent-kafka group consumer
 * running throughout, and `rounds` faults of the broker process at seeded moments:
 *
 * - kill: `kill -9`, then a restart on the same port and data (a crash: nothing is flushed or closed);
 * - freeze: SIGSTOP for `freezeMs`, then SIGCONT (a stalled process: sessions expire, the group rebalances).
 *
 * After the last round the producer stops and flushes, the consumer runs until it has every
 * acknowledged value (or a deadline), the log is read back with kcat, and check.ts judges.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../../src/bench/free-port.js'
import { BrokerProcess } from '../fuzz/broker-process.js'
import { Rng } from '../fuzz/rng.js'
import { checkChaos, type ChaosVerdict, type SeenRecord } from './check.js'
import { StreamingClient } from './clients.js'

export type ChaosFault = 'kill' | 'freeze'

export interface ChaosOptions {
  rounds: number
  seed: number
  fault: ChaosFault
  /** How long a freeze lasts. Default 10 s. */
  freezeMs?: number
  /** Brokers in the process. Default 1. */
  brokers?: number
  partitions?: number
  /** The producer's pace. Default 500 records/s. */
  perSecond?: number
  /** The consumer's session.timeout.ms (a freeze longer than this expires it). Default 6 s. */
  sessionMs?: number
  /** Records acknowledged between faults, at least: each round waits for the clients to make progress. Default 200. */
  ackedPerRound?: number
  log?: (line: string) => void
}

export interface ChaosRound {
  round: number
  /** Time from the fault to the broker's process listening again (kill) or running again (freeze). */
  downMs: number
  /** Time from the broker being back to the producer's next acknowledgement. */
  firstAckAfterMs: number
  ackedBefore: number
}

export interface ChaosReport {
  seed: number
  fault: ChaosFault
  rounds: ChaosRound[]
  verdict: ChaosVerdict
  /** Assignments the group consumer was given: one per (re)join. */
  assignments: number
  producerSummary: Record<string, unknown> | null
  consumerSummary: Record<string, unknown> | null
  /** Why the run could not be judged, if it could not. */
  failures: string[]
  durationMs: number
}

const CLIENT_STOP_MS = 180_000
const CATCH_UP_MS = 120_000
const PROGRESS_MS = 120_000

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => undefined)
  const rng = new Rng(options.seed)
  const startedMs = Date.now()
  const dataDir = mkdtempSync(join(tmpdir(), 'partita-chaos-'))
  const topic = 'chaos'
  const brokerOptions = {
    brokers: options.brokers ?? 1,
    dataDir,
    port: await freePort(),
    args: ['--num-partitions', String(options.partitions ?? 3), '--log-level', 'warn'],
  }
  let broker = await BrokerProcess.start(brokerOptions)
  const producer = StreamingClient.producer(broker.bootstrap, topic, options.perSecond ?? 500, 16)
  const consumer = StreamingClient.consumer(broker.bootstrap, topic, 'chaos-group', options.sessionMs ?? 6_000)
  const failures: string[] = []
  const rounds: ChaosRound[] = []
  const perRound = options.ackedPerRound ?? 200
  try {
    // The consumer is in the group before the first fault: a freeze that struck before its first
    // assignment would leave it nothing to lose, and the rebalance it must cause would not happen.
    if (!(await within(consumer.assigned(1), PROGRESS_MS))) failures.push(`the consumer had no assignment within ${PROGRESS_MS} ms`)
    for (let round = 1; round <= options.rounds; round++) {
      // The clients make progress first, so each fault strikes a working pipeline.
      const progressed = await within(producer.seen(producer.records.length + perRound), PROGRESS_MS)
      if (producer.exitCode !== null || consumer.exitCode !== null) break
      if (!progressed) {
        failures.push(`round ${round}: the producer had no ${perRound} acknowledgements within ${PROGRESS_MS} ms`)
        break
      }
      await delay(rng.between(0, 1_000))
      const ackedBefore = producer.records.length
      const assignmentsBefore = consumer.assignments.length
      const faultMs = Date.now()
      if (options.fault === 'kill') {
        broker.child.kill('SIGKILL')
        await broker.exited
        broker = await BrokerProcess.start(brokerOptions)
      } else {
        broker.child.kill('SIGSTOP')
        await delay(options.freezeMs ?? 10_000)
        broker.child.kill('SIGCONT')
      }
      const backMs = Date.now()
      const acked = await within(producer.seen(producer.records.length + 1), PROGRESS_MS)
      if (producer.exitCode !== null) break
      // A freeze past the session expires the consumer: the round ends once the group has
      // rebalanced, since the consumer may read every acknowledged record before it rejoins.
      const sessionExpired = options.fault === 'freeze' && (options.freezeMs ?? 10_000) > (options.sessionMs ?? 6_000)
      if (sessionExpired && !(await within(consumer.assigned(assignmentsBefore + 1), PROGRESS_MS))) {
        failures.push(`round ${round}: the group did not rebalance within ${PROGRESS_MS} ms of the freeze`)
      }
      const entry = { round, downMs: backMs - faultMs, firstAckAfterMs: acked ? Date.now() - backMs : -1, ackedBefore }
      rounds.push(entry)
      log(`chaos: round ${round} (${options.fault}): back after ${entry.downMs} ms, first ack ${entry.firstAckAfterMs} ms later, ${producer.records.length} acknowledged, ${consumer.records.length} consumed`)
    }
    const producerCode = await producer.stop(CLIENT_STOP_MS)
    if (producerCode !== 0) failures.push(`the producer exited ${producerCode}: ${producer.stderr.join(' | ')}`)
    const ackedValues = new Set(producer.records.map((r) => r.v))
    if (!(await consumer.seenAll(ackedValues, CATCH_UP_MS))) failures.push(`the group consumer did not receive every acknowledged value within ${CATCH_UP_MS} ms`)
    const consumerCode = await consumer.stop(CLIENT_STOP_MS)
    if (consumerCode !== 0) failures.push(`the consumer exited ${consumerCode}: ${consumer.stderr.join(' | ')}`)
    const stored = await readLog(broker.bootstrap, topic)
    const verdict = checkChaos(producer.records, stored, consumer.records)
    if (broker.exit !== null) failures.push(`the broker exited on its own: ${JSON.stringify(broker.exit)}`)
    if (broker.log.bugLineCount > 0) failures.push(`the broker printed ${broker.log.bugLineCount} line(s) that mean a bug: ${broker.log.bugLines[0]}`)
    return {
      seed: options.seed,
      fault: options.fault,
      rounds,
      verdict,
      assignments: consumer.assignments.length,
      producerSummary: producer.summary,
      consumerSummary: consumer.summary,
      failures,
      durationMs: Date.now() - startedMs,
    }
  } finally {
    await producer.stop(5_000)
    await consumer.stop(5_000)
    if (broker.exit === null) broker.child.kill('SIGCONT')
    await broker.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

/** Every record of the topic, read with kcat: a reader that shares no code with the broker. */
export async function readLog(bootstrap: string, topic: string): Promise<SeenRecord[]> {
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn('/usr/bin/kcat', ['-b', bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p %o %s\\n'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    child.on('exit', (code) => {
      clearTimeout(timer)
      if (code === 0) resolve(stdout)
      else reject(new Error(`kcat exited ${code}: ${stderr}`))
    })
  })
  return output
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [p, o, v] = line.split(' ').map(Number)
      return { p, o, v }
    })
}

export async function within(promise: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)))
  const outcome = await Promise.race([promise.then(() => true as const), timedOut])
  clearTimeout(timer)
  return outcome
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
