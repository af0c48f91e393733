/**
 * Replica assignments a client gives itself (CreateTopics `assignments`, CreatePartitions
 * `assignments`), checked as Kafka 3.9's ReplicationControlManager checks them: every list names
 * registered brokers, none twice, and all lists of a topic have the same length. Each refusal is
 * INVALID_REPLICA_ASSIGNMENT (39) and happens before anything is created.
 */
import { ErrorCode } from '../common/error-codes.js'
import { KafkaError } from '../common/errors.js'

function refuse(message: string): KafkaError {
  return new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, message)
}

/**
 * Checks one partition's replicas. `replicationFactor` is the count the topic already has (or the
 * first list's), or null for the first list of a new topic.
 */
export function checkReplicaList(replicas: readonly number[], brokerIds: readonly number[], replicationFactor: number | null): void {
  if (replicas.length === 0) throw refuse('The manual partition assignment includes an empty replica list.')
  const seen = new Set<number>()
  for (const id of replicas) {
    if (!brokerIds.includes(id)) throw refuse(`The manual partition assignment includes broker ${id}, but no such broker is registered.`)
    if (seen.has(id)) throw refuse(`The manual partition assignment includes the broker ${id} more than once.`)
    seen.add(id)
  }
  if (replicationFactor !== null && replicas.length !== replicationFactor) {
    throw refuse(
      `The manual partition assignment includes a partition with ${replicas.length} replica(s), but this is not ` +
        `consistent with previous partitions, which have ${replicationFactor} replica(s).`,
    )
  }
}

/**
 * A new topic's assignments, given as (partition index, brokers) pairs in any order: the indexes
 * must be exactly 0..n-1. Returns the replica lists in partition order.
 */
export function checkTopicAssignments(
  assignments: ReadonlyArray<{ partitionIndex: number; brokerIds: readonly number[] }>,
  brokerIds: readonly number[],
): number[][] {
  const byIndex = new Map<number, number[]>()
  for (const a of assignments) {
    if (byIndex.has(a.partitionIndex)) throw refuse(`Found multiple manual partition assignments for partition ${a.partitionIndex}`)
    byIndex.set(a.partitionIndex, [...a.brokerIds])
  }
  const ordered: number[][] = []
  for (let index = 0; index < assignments.length; index++) {
    const replicas = byIndex.get(index)
    if (replicas === undefined) throw refuse(`Partitions should be 0-based consecutive integers; partition ${index} has no assignment`)
    checkReplicaList(replicas, brokerIds, ordered.length === 0 ? null : ordered[0].length)
    ordered.push(replicas)
  }
  return ordered
}

/** CreatePartitions: one list per added partition, each as long as the topic's replica lists. */
export function checkAddedAssignments(
  assignments: ReadonlyArray<readonly number[]>,
  added: number,
  brokerIds: readonly number[],
  replicationFactor: number,
): number[][] {
  if (assignments.length !== added) {
    throw refuse(`Attempted to add ${added} additional partition(s), but only ${assignments.length} assignment(s) were specified.`)
  }
  for (const replicas of assignments) checkReplicaList(replicas, brokerIds, replicationFactor)
  return assignments.map((replicas) => [...replicas])
}
