/**
 * What the fuzzer knows about the broker it attacks: the topics it created before the run, the
 * records it stored in them, and the names its generator should say often.
 *
 * Pre-created topics come in three kinds. Kept topics are named by every API except those that
 * can legitimately remove data (DeleteTopics, DeleteRecords, the config changes), so the final
 * check can demand all their records back. Trimmed topics are the ones DeleteRecords and the
 * config changes name, and doomed topics the ones DeleteTopics names, so the run exercises real
 * removals and the oracle log has real entries to tell apart from loss (trimmed topics survive
 * the run, so the check sees what trimming left). The kinds' names differ in many bits, so one
 * flipped bit does not turn one into another (a mutated frame that still names a kept topic is
 * logged like any other).
 */

export interface TopicPlan {
  name: string
  partitions: number
  replicationFactor: number
  configs: Record<string, string>
  /** 'kept': named by no API that can remove data; 'trimmed': by DeleteRecords and config changes; 'doomed': by DeleteTopics. */
  kind: 'kept' | 'trimmed' | 'doomed'
}

export interface KnownRecord {
  offset: number
  key: string
  value: string
}

export interface KnownPartition {
  topic: string
  partition: number
  records: KnownRecord[]
  /** The leader epoch after setup: a change during the run means a shard died or went silent. */
  leaderEpoch: number
}

/** The topics the fuzzer creates before sending anything, sized for `brokers` logical brokers. */
export function topicPlans(brokers: number): TopicPlan[] {
  const rf = (wanted: number): number => Math.min(wanted, brokers)
  return [
    { name: 'keep-orders', partitions: 4, replicationFactor: rf(1), configs: {}, kind: 'kept' },
    { name: 'keep-events', partitions: 3, replicationFactor: rf(3), configs: {}, kind: 'kept' },
    { name: 'keep-ledger', partitions: 2, replicationFactor: rf(2), configs: { 'cleanup.policy': 'compact' }, kind: 'kept' },
    { name: 'TRIM_1', partitions: 2, replicationFactor: rf(1), configs: {}, kind: 'trimmed' },
    { name: 'TRIM_2', partitions: 2, replicationFactor: rf(2), configs: {}, kind: 'trimmed' },
    { name: 'DOOM_1', partitions: 2, replicationFactor: rf(1), configs: {}, kind: 'doomed' },
    { name: 'DOOM_2', partitions: 2, replicationFactor: rf(2), configs: {}, kind: 'doomed' },
  ]
}

/** The names the generator uses for topics that may or may not exist (bounded, so the run creates few). */
export const SPARE_TOPICS: readonly string[] = Array.from({ length: 16 }, (_, i) => `fz-${i}`)
export const GROUPS: readonly string[] = ['fz-group', 'fz-group-2', 'fz-group-3', 'billing']
export const CONFIG_NAMES: readonly string[] = [
  'retention.ms',
  'retention.bytes',
  'cleanup.policy',
  'segment.bytes',
  'segment.ms',
  'max.message.bytes',
  'min.insync.replicas',
  'message.timestamp.type',
  'compression.type',
  'delete.retention.ms',
  'min.compaction.lag.ms',
  'unclean.leader.election.enable',
  'no.such.config',
]
export const CONFIG_VALUES: readonly string[] = ['-1', '0', '1', '1000', '604800000', '2147483648', 'compact', 'delete', 'compact,delete', 'gzip', 'LogAppendTime', 'true', '', 'nonsense']

export interface World {
  /** Every pre-created topic. */
  topics: TopicPlan[]
  allNames: string[]
  trimmedNames: string[]
  doomedNames: string[]
  partitionsOf: Map<string, number>
  /** The largest number of records known in any partition (offsets worth naming). */
  knownRecordsMax: number
  /** Timestamps in generated batches sit around this (fixed per run, so frames replay alike). */
  baseTimestampMs: number
  /** Logical brokers (the largest valid replication factor). */
  brokers: number
  /** Topics no frame may remove data from (kept), or delete (trimmed); see frames.ts redrawReason. */
  setAside: { kept: ReadonlySet<string>; trimmed: ReadonlySet<string> }
}

export function makeWorld(plans: TopicPlan[], knownRecordsMax: number, baseTimestampMs: number, brokers: number): World {
  return {
    brokers,
    setAside: {
      kept: new Set(plans.filter((p) => p.kind === 'kept').map((p) => p.name)),
      trimmed: new Set(plans.filter((p) => p.kind === 'trimmed').map((p) => p.name)),
    },
    topics: plans,
    allNames: plans.map((p) => p.name),
    trimmedNames: plans.filter((p) => p.kind === 'trimmed').map((p) => p.name),
    doomedNames: plans.filter((p) => p.kind === 'doomed').map((p) => p.name),
    partitionsOf: new Map(plans.map((p) => [p.name, p.partitions])),
    knownRecordsMax,
    baseTimestampMs,
  }
}
