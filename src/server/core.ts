/**
 * What the Kafka handlers ask of the broker node they run on: Kafka's operations as plain data,
 * never a socket. The one implementation is the broker node on a shard (src/broker/node-core.ts):
 * partitions it hosts are called directly, admin requests go to the controller, and groups to the
 * coordinator this node runs for them.
 */
import type { KafkaOperations } from '../metadata/operations.js'

export type { GroupOperations } from '../metadata/operations.js'

/** FindCoordinator's answer for one key. */
export interface CoordinatorResult {
  key: string
  errorCode: number
  errorMessage: string | null
  nodeId: number
  host: string
  port: number
}

export interface BrokerCore extends KafkaOperations {
  /** This broker's id. */
  readonly nodeId: number
  /** FindCoordinator: keyType 0 = group, 1 = transaction. */
  findCoordinator(key: string, keyType: number): Promise<CoordinatorResult>
}
