/**
 * Before the run: the topics of world.ts, created over the wire, and known records in every one
 * of their partitions, remembered with their offsets and each partition's leader epoch.
 */
import { ErrorCode, errorName } from '../../src/common/error-codes.js'
import type { KafkaClient } from '../../src/client/wire/kafka-client.js'
import { encodeBatch } from '../../src/records/record-batch.js'
import type { KnownPartition, KnownRecord, TopicPlan } from './world.js'

/** The known records' key, by which the final check recognises them. */
export function knownKey(topic: string, partition: number, index: number): string {
  return `known-${topic}-${partition}-${index}`
}

function check(errorCode: number, what: string): void {
  if (errorCode !== ErrorCode.NONE) throw new Error(`fuzz setup: ${what} failed with ${errorName(errorCode)}`)
}

/** Creates the planned topics and stores `recordsPerPartition` records in each partition (in two batches). */
export async function setUpTopics(client: KafkaClient, plans: TopicPlan[], recordsPerPartition: number): Promise<KnownPartition[]> {
  const created = await client.createTopics(plans.map((p) => ({ name: p.name, numPartitions: p.partitions, replicationFactor: p.replicationFactor, configs: p.configs })))
  for (const topic of created.topics) check(topic.errorCode, `creating ${topic.name}`)
  const known: KnownPartition[] = []
  for (const plan of plans) {
    for (let partition = 0; partition < plan.partitions; partition++) {
      const records: KnownRecord[] = []
      const half = Math.ceil(recordsPerPartition / 2)
      for (const [from, to] of [[0, half], [half, recordsPerPartition]]) {
        const values = Array.from({ length: to - from }, (_, i) => ({ key: knownKey(plan.name, partition, from + i), value: `value-${from + i}-${'x'.repeat((from + i) % 50)}` }))
        const batch = encodeBatch({ baseTimestamp: Date.now(), records: values.map((v) => ({ key: Buffer.from(v.key), value: Buffer.from(v.value) })) })
        const [result] = await client.produce([{ topic: plan.name, partition, records: batch }], { acks: -1, timeoutMs: 30_000 })
        check(result.errorCode, `producing to ${plan.name}-${partition}`)
        values.forEach((v, i) => records.push({ offset: result.baseOffset + i, ...v }))
      }
      known.push({ topic: plan.name, partition, records, leaderEpoch: -1 })
    }
  }
  const metadata = await client.metadata(plans.map((p) => p.name))
  for (const k of known) {
    const info = metadata.topics.find((t) => t.name === k.topic)?.partitions.find((p) => p.partition === k.partition)
    if (info === undefined || info.leader < 0) throw new Error(`fuzz setup: ${k.topic}-${k.partition} has no leader`)
    k.leaderEpoch = info.leaderEpoch
  }
  return known
}
