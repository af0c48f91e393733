/**
 * What a broker node asks the controller (on the main thread) over its ring: the admin requests
 * Kafka forwards to its controller (KIP-590), auto-creation, and producer ids. Every answer
 * carries the metadata image version that includes its effect; the controller pushes that delta
 * before it answers, and the node waits for it before replying to its client, so a client that
 * created a topic sees it in the next Metadata answer of that broker.
 */
import type {
  AlterConfigOp,
  ConfigResource,
  CreatePartitionsInput,
  CreateTopicInput,
  CreateTopicResult,
  ElectLeadersResult,
  InitProducerIdResult,
  OngoingReassignment,
  ReassignmentInput,
  ReassignmentResult,
  TopicErrorResult,
} from './operations.js'

/** The address the controller answers at on the main thread. */
export const CONTROLLER_ID = 'controller'

export type ControllerRequest =
  | { op: 'createTopics'; inputs: CreateTopicInput[]; validateOnly: boolean }
  | { op: 'deleteTopics'; names: string[] }
  | { op: 'createPartitions'; inputs: CreatePartitionsInput[]; validateOnly: boolean }
  | { op: 'alterConfigs'; resources: Array<ConfigResource & { configs: AlterConfigOp[] }>; incremental: boolean; validateOnly: boolean }
  | { op: 'initProducerId'; transactionalId: string | null; producerId: number; producerEpoch: number; transactionTimeoutMs: number }
  /** ElectLeaders: 0 preferred, 1 unclean; null partitions: every partition. */
  | { op: 'electLeaders'; electionType: 0 | 1; partitions: Array<{ topic: string; partition: number }> | null }
  /** AlterPartitionReassignments (KIP-455). */
  | { op: 'alterReassignments'; inputs: ReassignmentInput[] }
  /** ListPartitionReassignments: null topics, every running one. */
  | { op: 'listReassignments'; topics: Array<{ topic: string; partitions: number[] }> | null }
  /** Creates a topic with the broker's defaults unless it exists (auto.create.topics.enable, internal topics). */
  | { op: 'ensureTopic'; name: string }

export interface ControllerReplies {
  createTopics: CreateTopicResult[]
  deleteTopics: TopicErrorResult[]
  createPartitions: TopicErrorResult[]
  alterConfigs: Array<ConfigResource & { errorCode: number; errorMessage: string | null }>
  initProducerId: InitProducerIdResult
  electLeaders: ElectLeadersResult[]
  ensureTopic: { errorCode: number; errorMessage: string | null }
  alterReassignments: ReassignmentResult[]
  listReassignments: OngoingReassignment[]
}

export interface ControllerReply<T> {
  result: T
  /** The image version that holds the request's effect. */
  imageVersion: number
}
