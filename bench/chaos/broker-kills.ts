/**
 * Broker kills under load: an embedded cluster of `brokers` brokers (one shard thread each), a
 * topic replicated to all of them, an idempotent acks=all producer sending without pause (one
 * sender per partition) and a
 * group consumer reading, and `kills` seeded `faults.killBroker` calls of a random broker, each
 * after the previous victim came back. For every kill it measures how long the partitions the
 * victim led went without an acknowledged record: from the kill to the first record acknowledged
 * on each of them, i.e. a new leader serving. Judged by check.ts against a kcat read-back.
 */
import { Rng } from '../fuzz/rng.js'
import { startBroker } from '../../src/start-broker.js'
import { checkChaos, type ChaosVerdict, type SeenRecord } from './check.js'
import { delay, readLog, within } from './run.js'

export interface BrokerKillsOptions {
  kills: number
  seed: number
  /** Default 3. */
  brokers?: number
  /** Default 6. */
  partitions?: number
  log?: (line: string) => void
}

export interface KillRecord {
  kill: number
  victim: number
  /** Partitions the victim led when it was killed. */
  ledPartitions: number
  /** Kill to the first acknowledged record on the slowest of those partitions; -1 if one never served again. */
  newLeaderServingMs: number
  /** Kill to the victim serving all its partitions again (the controller's restart). */
  recoveredMs: number
}

export interface BrokerKillsReport {
  seed: number
  kills: KillRecord[]
  verdict: ChaosVerdict
  /** Failovers that took longer than 2 s to serve (the target; a figure, not a test assert). */
  slowerThan2s: number
  failures: string[]
  durationMs: number
}

const TOPIC = 'broker-kills'
const RECOVERY_MS = 60_000
const CATCH_UP_MS = 60_000

export async function runBrokerKills(options: BrokerKillsOptions): Promise<BrokerKillsReport> {
  const log = options.log ?? (() => undefined)
  const rng = new Rng(options.seed)
  const brokers = options.brokers ?? 3
  const partitions = options.partitions ?? 6
  const startedMs = Date.now()
  await using broker = await startBroker({ brokers, port: 0, replicaLagTimeMaxMs: 2_000, groupInitialRebalanceDelayMs: 0, offsetsTopicNumPartitions: 4 })
  await broker.admin.createTopic({ name: TOPIC, partitions, replicationFactor: brokers })
  const failures: string[] = []
  const acked: SeenRecord[] = []
  const consumed: SeenRecord[] = []
  /** When each partition last had a record acknowledged, for the failover figure. */
  const lastAckMs = new Array<number>(partitions).fill(0)
  let stopping = false
  let produceError: string | null = null

  const producer = broker.producer({ acks: 'all', idempotent: true, retry: { retries: 200, initialRetryTime: 20, maxRetryTime: 200 } })
  await producer.connect()
  // One sender per partition, one record per send: a partition's values are sent in increasing
  // order, and an acknowledgement time is when its partition served (a new leader, after a kill).
  const sender = async (partition: number): Promise<void> => {
    for (let value = partition; !stopping && produceError === null; value += partitions) {
      try {
        const [meta] = await producer.send({ topic: TOPIC, messages: [{ value: String(value), partition }] })
        acked.push({ v: value, p: meta.partition, o: Number(meta.baseOffset) })
        lastAckMs[meta.partition] = Date.now()
      } catch (error) {
        produceError = error instanceof Error ? error.message : String(error)
      }
    }
  }
  const producing = Promise.all(Array.from({ length: partitions }, (_, p) => sender(p)))

  const consumer = broker.consumer({ groupId: 'broker-kills', sessionTimeout: 6_000, heartbeatInterval: 500, maxWaitTimeInMs: 200 })
  await consumer.connect()
  await consumer.subscribe({ topics: [TOPIC], fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      consumed.push({ v: Number(message.value?.toString()), p: partition, o: Number(message.offset) })
    },
  })

  const kills: KillRecord[] = []
  try {
    for (let kill = 1; kill <= options.kills && produceError === null; kill++) {
      await delay(rng.between(200, 1_500))
      const victim = rng.below(brokers)
      const metadata = await broker.admin.fetchTopicMetadata({ topics: [TOPIC] })
      const led = metadata.topics[0].partitions.filter((p) => p.leader === victim).map((p) => p.partitionId)
      const recovered = broker.faults.recovered(victim)
      const killedMs = Date.now()
      broker.faults.killBroker(victim)
      const servedAgain = await Promise.all(led.map((p) => firstAckAfter(lastAckMs, p, killedMs, RECOVERY_MS)))
      const back = await within(recovered, RECOVERY_MS)
      if (!back) failures.push(`kill ${kill}: broker ${victim} did not recover within ${RECOVERY_MS} ms`)
      const entry: KillRecord = {
        kill,
        victim,
        ledPartitions: led.length,
        newLeaderServingMs: servedAgain.some((ms) => ms < 0) ? -1 : Math.max(0, ...servedAgain),
        recoveredMs: back ? Date.now() - killedMs : -1,
      }
      kills.push(entry)
      if (entry.newLeaderServingMs < 0) failures.push(`kill ${kill}: a partition broker ${victim} led served no record within ${RECOVERY_MS} ms`)
      log(`kills: ${kill} broker ${victim} (led ${led.length}): new leaders serving after ${entry.newLeaderServingMs} ms, recovered after ${entry.recoveredMs} ms; ${acked.length} acknowledged, ${consumed.length} consumed`)
      if (!back) break
    }
  } finally {
    stopping = true
    await producing
    await producer.disconnect()
  }
  if (produceError !== null) failures.push(`the producer failed: ${produceError}`)
  const ackedValues = new Set(acked.map((r) => r.v))
  const deadline = Date.now() + CATCH_UP_MS
  // Bounded by the deadline; redeliveries make the consumed list longer than the values it covers.
  while (new Set(consumed.map((r) => r.v)).size < ackedValues.size && Date.now() < deadline) await delay(200)
  await consumer.disconnect()
  const stored = await readLog(broker.bootstrapServers, TOPIC)
  const verdict = checkChaos(acked, stored, consumed)
  if (ackedValues.size !== acked.length) failures.push('a value was acknowledged twice')
  return {
    seed: options.seed,
    kills,
    verdict,
    slowerThan2s: kills.filter((k) => k.newLeaderServingMs > 2_000).length,
    failures,
    durationMs: Date.now() - startedMs,
  }
}

/** Kill to the first acknowledgement on `partition` after the kill; -1 after `timeoutMs` without one. */
async function firstAckAfter(lastAckMs: number[], partition: number, killedMs: number, timeoutMs: number): Promise<number> {
  // Bounded by the deadline; the producer acknowledges continuously, so this polls briefly.
  while (lastAckMs[partition] <= killedMs) {
    if (Date.now() - killedMs > timeoutMs) return -1
    await delay(5)
  }
  return lastAckMs[partition] - killedMs
}
