/**
 * What a request the broker handles can do to topics' data, read from its decoded body: the one
 * reading shared by the oracle (which logs it) and the frame source (which keeps requests away
 * from the topics set aside as kept).
 */
import { ApiKey } from '../../src/protocol/index.js'
import { handledRequest, type Prediction } from './predict.js'

const RESOURCE_TOPIC = 2
/**
 * The most partitions one request can make the broker open: max.broker.partitions' default
 * (above it the controller refuses with POLICY_VIOLATION before placing anything). There is no
 * per-topic limit now, so a count of 41,144 is a real storm, drawn again like any other.
 */
const PARTITIONS_PER_TOPIC_MAX = 100_000

export interface DataChanges {
  /** The API can remove data, move log starts or leaders (DeleteTopics, DeleteRecords, config changes, CreatePartitions, reassignments). */
  logged: boolean
  /** Topics a DeleteTopics names. */
  deleted: string[]
  /** DeleteRecords: the offset each topic-partition's log start may move up to (Infinity for -1, the high watermark). */
  trimmed: Array<{ topic: string; partition: number; upTo: number }>
  /** Topics whose configs a (non-validate-only) AlterConfigs or IncrementalAlterConfigs changes. */
  reconfigured: string[]
  /** Topics a (non-validate-only) CreatePartitions names, with the count asked for (it removes nothing, and is logged for the record). */
  grown: Array<{ topic: string; count: number }>
  /** Topics an AlterPartitionReassignments names: a move gives their partitions new leader epochs. */
  moved: string[]
}

interface TopicsBody {
  topicNames?: string[]
  topics?: Array<{ name: string | null; count?: number; partitions?: Array<{ partitionIndex: number; offset: number }> }>
  resources?: Array<{ resourceType: number; resourceName: string }>
  validateOnly?: boolean
}

const NONE: DataChanges = { logged: false, deleted: [], trimmed: [], reconfigured: [], grown: [], moved: [] }

export function dataChangesOf(prediction: Prediction): DataChanges {
  const handled = handledRequest(prediction)
  if (handled === null) return NONE
  const body = handled.body as TopicsBody | null
  if (body === null) return NONE
  switch (handled.apiKey) {
    case ApiKey.DeleteTopics:
      return { ...NONE, logged: true, deleted: [...(body.topicNames ?? []), ...(body.topics ?? []).flatMap((t) => (t.name === null ? [] : [t.name]))] }
    case ApiKey.DeleteRecords: {
      const trimmed = (body.topics ?? []).flatMap((t) =>
        t.name === null ? [] : (t.partitions ?? []).map((p) => ({ topic: t.name!, partition: p.partitionIndex, upTo: p.offset < 0 ? Infinity : p.offset })),
      )
      return { ...NONE, logged: true, trimmed }
    }
    case ApiKey.AlterConfigs:
    case ApiKey.IncrementalAlterConfigs: {
      const named = (body.resources ?? []).filter((r) => r.resourceType === RESOURCE_TOPIC).map((r) => r.resourceName)
      return { ...NONE, logged: true, reconfigured: body.validateOnly === true ? [] : named }
    }
    case ApiKey.CreatePartitions:
      return { ...NONE, logged: true, grown: body.validateOnly === true ? [] : (body.topics ?? []).flatMap((t) => (t.name === null ? [] : [{ topic: t.name, count: t.count ?? 0 }])) }
    case ApiKey.AlterPartitionReassignments:
      return { ...NONE, logged: true, moved: (body.topics ?? []).flatMap((t) => (t.name === null ? [] : [t.name])) }
    default:
      return NONE
  }
}

/** The topics a change names, whatever it does to them. */
export function topicsNamed(changes: DataChanges): string[] {
  return [...changes.deleted, ...changes.trimmed.map((t) => t.topic), ...changes.reconfigured, ...changes.grown.map((g) => g.topic), ...changes.moved]
}

interface CreationBody {
  validateOnly?: boolean
  topics?: Array<{ numPartitions?: number; replicationFactor?: number; count?: number }>
}

/** At most how many partition replicas the broker opens for this request (an upper bound). */
export function partitionReplicasAsked(prediction: Prediction, brokers: number): number {
  const handled = handledRequest(prediction)
  if (handled === null) return 0
  const body = handled.body as CreationBody | null
  if (body === null || body.validateOnly === true) return 0
  const partitions = (n: number | undefined): number => (n === -1 ? 1 : n !== undefined && n > 0 && n <= PARTITIONS_PER_TOPIC_MAX ? n : 0)
  const replicas = (rf: number | undefined): number => (rf === -1 ? 1 : rf !== undefined && rf > 0 && rf <= brokers ? rf : 0)
  let total = 0
  if (handled.apiKey === ApiKey.CreateTopics) for (const t of body.topics ?? []) total += partitions(t.numPartitions) * replicas(t.replicationFactor)
  if (handled.apiKey === ApiKey.CreatePartitions) for (const t of body.topics ?? []) total += partitions(t.count) * brokers
  return total
}
