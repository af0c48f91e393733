/**
 * Where replicas go. Replicas of one partition sit on distinct brokers; leaders spread evenly, as
 * Kafka's rack-unaware assignment does (round robin from a start index, followers shifted by one).
 * Within a broker, a partition replica lives on one of that broker's shards, picked by a stable
 * hash so it lands on the same shard after a restart.
 */
import { assert } from '../common/assert.js'

export function assignReplicas(
  brokerIds: readonly number[],
  partitionCount: number,
  replicationFactor: number,
  firstPartition = 0,
  startIndex = 0,
): number[][] {
  assert(replicationFactor >= 1 && replicationFactor <= brokerIds.length, 'replication factor fits the brokers')
  const assignments: number[][] = []
  for (let p = firstPartition; p < firstPartition + partitionCount; p++) {
    const leaderIndex = (startIndex + p) % brokerIds.length
    const replicas: number[] = []
    for (let r = 0; r < replicationFactor; r++) replicas.push(brokerIds[(leaderIndex + r) % brokerIds.length])
    assignments.push(replicas)
  }
  return assignments
}

/**
 * The shard slot of a partition within its broker: consecutive partitions of one topic go to
 * consecutive shards (so a topic spreads evenly), starting from a stable FNV-1a hash of the topic
 * name (so different topics do not all start on shard 0).
 */
export function shardSlot(topic: string, partition: number, shardCount: number): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < topic.length; i++) {
    hash ^= topic.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return ((hash >>> 0) + partition) % shardCount
}
