/**
 * What the broker core needs from the supervisor: a way to reach each partition's leader replica
 * and to open, close and reconfigure a topic's replicas on their shards. The supervisor owns the
 * shard workers and the leader elections; the core only asks it for these.
 */
import type { PartitionRequest } from '../actors/partition-messages.js'
import type { TopicState } from '../controller/metadata-store.js'

export interface PartitionReply {
  message: unknown
  payload?: Buffer
}

export interface PartitionRouter {
  /**
   * Sends a request to the partition's current leader replica. Rejects with a KafkaError
   * (LEADER_NOT_AVAILABLE while no leader is elected, NOT_LEADER_OR_FOLLOWER when the leader's
   * shard died under the request) so callers can answer clients with a retriable code.
   */
  requestLeader(topic: string, partition: number, message: PartitionRequest, payload?: Buffer): Promise<PartitionReply>
  /** Fire-and-forget to the leader (cancelling a parked fetch). */
  tellLeader(topic: string, partition: number, message: PartitionRequest): void
  /**
   * Spawns replicas for partitions [fromPartition, end) of the topic and makes leaders. Rejects
   * when any replica could not be opened; the caller undoes the partitions with closeTopic.
   */
  openPartitions(topic: TopicState, fromPartition: number): Promise<void>
  /** Closes the replicas of partitions [fromPartition, end); never rejects. */
  closeTopic(topic: TopicState, deleteData: boolean, fromPartition?: number): Promise<void>
  updateTopicConfig(topic: TopicState): Promise<void>
  /** Brokers whose shards are up now. */
  liveBrokerIds(): number[]
}
