/**
 * The embedded admin client, shaped like kafkajs's Admin: topics, partitions, configs, records
 * and groups, each a thin translation onto the broker core. Per-resource errors become
 * KafkaErrors carrying Kafka's numeric code, except where kafkajs reports them in the result
 * (createTopics' "already exists" is `false`, describe/alter configs list errors per resource).
 */
import type { KafkaOperations, TopicMetadata } from '../metadata/operations.js'
import type { GroupState } from '../actors/group/types.js'
import { ErrorCode } from '../common/error-codes.js'
import { parseOffset } from './messages.js'
import { kafkaError } from './retry.js'

export const ConfigResourceTypes = { UNKNOWN: 0, TOPIC: 2, BROKER: 4, BROKER_LOGGER: 8 } as const

export interface ITopicConfig {
  topic: string
  /** -1 or absent: the broker's num.partitions. */
  numPartitions?: number
  /** -1 or absent: the broker's default.replication.factor. */
  replicationFactor?: number
  configEntries?: Array<{ name: string; value: string }>
}

export interface PartitionMetadataView {
  partitionErrorCode: number
  partitionId: number
  leader: number
  replicas: number[]
  isr: number[]
  offlineReplicas: number[]
}

export interface ConfigEntryView {
  configName: string
  configValue: string | null
  readOnly: boolean
  isDefault: boolean
  configSource: number
  isSensitive: boolean
  configSynonyms: never[]
}

export interface ResourceConfigQuery {
  type: number
  name: string
  configNames?: string[]
}

export interface GroupDescription {
  errorCode: number
  groupId: string
  state: GroupState
  protocolType: string
  protocol: string
  members: Array<{ memberId: string; clientId: string; clientHost: string; memberMetadata: Buffer; memberAssignment: Buffer }>
}

const NO_TIMESTAMP_MATCH = -1

export class Admin {
  readonly #core: KafkaOperations

  constructor(core: KafkaOperations) {
    this.#core = core
  }

  /** Nothing to dial in process; kept so kafkajs code runs unchanged. */
  async connect(): Promise<void> {}
  async disconnect(): Promise<void> {}
  async [Symbol.asyncDispose](): Promise<void> {}

  // ---------------------------------------------------------------- topics

  /** kafkajs: true when every topic was created, false when some already existed; throws otherwise. */
  async createTopics(options: { topics: ITopicConfig[]; validateOnly?: boolean; waitForLeaders?: boolean; timeout?: number }): Promise<boolean> {
    const inputs = options.topics.map((t) => ({
      name: t.topic,
      numPartitions: t.numPartitions ?? -1,
      replicationFactor: t.replicationFactor ?? -1,
      configs: Object.fromEntries((t.configEntries ?? []).map((e) => [e.name, e.value])),
    }))
    const results = await this.#core.createTopics(inputs, options.validateOnly ?? false)
    let allCreated = true
    for (const r of results) {
      if (r.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS) allCreated = false
      else if (r.errorCode !== ErrorCode.NONE) throw kafkaError(r.errorCode, `create topic ${r.name}`, r.errorMessage)
    }
    return allCreated
  }

  /** Partita's shorthand for one topic: `{ name, partitions, replicationFactor, configs }`. */
  async createTopic(options: { name: string; partitions?: number; replicationFactor?: number; configs?: Record<string, string>; validateOnly?: boolean }): Promise<boolean> {
    return this.createTopics({
      topics: [
        {
          topic: options.name,
          numPartitions: options.partitions,
          replicationFactor: options.replicationFactor,
          configEntries: Object.entries(options.configs ?? {}).map(([name, value]) => ({ name, value })),
        },
      ],
      validateOnly: options.validateOnly,
    })
  }

  async deleteTopics(options: { topics: string[]; timeout?: number }): Promise<void> {
    const results = await this.#core.deleteTopics(options.topics)
    // The core may list only the topics that failed; a missing answer is a success.
    for (const r of results) if (r.errorCode !== ErrorCode.NONE) throw kafkaError(r.errorCode, `delete topic ${r.name}`, r.errorMessage)
  }

  async listTopics(): Promise<string[]> {
    const metadata = await this.#core.metadata(null, false)
    return metadata.topics.filter((t) => t.errorCode === ErrorCode.NONE).map((t) => t.name)
  }

  async fetchTopicMetadata(options: { topics?: string[] } = {}): Promise<{ topics: Array<{ name: string; partitions: PartitionMetadataView[] }> }> {
    const metadata = await this.#core.metadata(options.topics ?? null, false)
    return {
      topics: metadata.topics.map((t) => {
        if (t.errorCode !== ErrorCode.NONE) throw kafkaError(t.errorCode, `topic ${t.name} metadata`)
        return { name: t.name, partitions: partitionViews(t) }
      }),
    }
  }

  async createPartitions(options: { topicPartitions: Array<{ topic: string; count: number }>; validateOnly?: boolean; timeout?: number }): Promise<boolean> {
    const results = await this.#core.createPartitions(
      options.topicPartitions.map((t) => ({ name: t.topic, count: t.count })),
      options.validateOnly ?? false,
    )
    for (const r of results) if (r.errorCode !== ErrorCode.NONE) throw kafkaError(r.errorCode, `create partitions for ${r.name}`, r.errorMessage)
    return true
  }

  // ---------------------------------------------------------------- offsets and records

  /** Per partition: the high watermark as `offset` and `high`, the log start offset as `low`. */
  async fetchTopicOffsets(topic: string): Promise<Array<{ partition: number; offset: string; high: string; low: string }>> {
    const partitions = await this.#partitionIds(topic)
    const [high, low] = await Promise.all([this.#listOffsets(topic, partitions, -1), this.#listOffsets(topic, partitions, -2)])
    return partitions.map((partition, i) => ({ partition, offset: String(high[i]), high: String(high[i]), low: String(low[i]) }))
  }

  /** Per partition: the first offset at or after `timestamp`, or the high watermark when none is. */
  async fetchTopicOffsetsByTimestamp(topic: string, timestamp?: number): Promise<Array<{ partition: number; offset: string }>> {
    const partitions = await this.#partitionIds(topic)
    const high = await this.#listOffsets(topic, partitions, -1)
    if (timestamp === undefined) return partitions.map((partition, i) => ({ partition, offset: String(high[i]) }))
    const found = await this.#listOffsets(topic, partitions, timestamp)
    return partitions.map((partition, i) => ({ partition, offset: String(found[i] === NO_TIMESTAMP_MATCH ? high[i] : found[i]) }))
  }

  /** Deletes records below each offset ('-1': below the high watermark). */
  async deleteTopicRecords(options: { topic: string; partitions: Array<{ partition: number; offset: string }> }): Promise<void> {
    const inputs = options.partitions.map((p) => ({ topic: options.topic, partition: p.partition, offset: parseOffset(p.offset) }))
    const results = await this.#core.deleteRecords(inputs, 30_000)
    results.forEach((r, i) => {
      if (r.errorCode !== ErrorCode.NONE) throw kafkaError(r.errorCode, `delete records of ${options.topic}-${inputs[i].partition}`)
    })
  }

  // ---------------------------------------------------------------- configs

  async describeConfigs(options: { resources: ResourceConfigQuery[]; includeSynonyms?: boolean }) {
    const results = await this.#core.describeConfigs(
      options.resources.map((r) => ({ resourceType: r.type, resourceName: r.name, configNames: r.configNames ?? null })),
    )
    return {
      throttleTime: 0,
      resources: results.map((r) => ({
        errorCode: r.errorCode,
        errorMessage: r.errorMessage,
        resourceType: r.resourceType,
        resourceName: r.resourceName,
        configEntries: r.configs.map(
          (c): ConfigEntryView => ({
            configName: c.name,
            configValue: c.value,
            readOnly: c.readOnly,
            isDefault: c.isDefault,
            configSource: c.source,
            isSensitive: c.isSensitive,
            configSynonyms: [],
          }),
        ),
      })),
    }
  }

  /** kafkajs's alterConfigs: replaces each resource's dynamic configs with the entries given. */
  async alterConfigs(options: { resources: Array<{ type: number; name: string; configEntries: Array<{ name: string; value: string }> }>; validateOnly?: boolean }) {
    return this.#alter(options.resources, false, options.validateOnly ?? false)
  }

  /** IncrementalAlterConfigs: sets only the entries given (a null value deletes one). */
  async incrementalAlterConfigs(options: { resources: Array<{ type: number; name: string; configEntries: Array<{ name: string; value: string | null }> }>; validateOnly?: boolean }) {
    return this.#alter(options.resources, true, options.validateOnly ?? false)
  }

  async #alter(resources: Array<{ type: number; name: string; configEntries: Array<{ name: string; value: string | null }> }>, incremental: boolean, validateOnly: boolean) {
    const results = await this.#core.alterConfigs(
      resources.map((r) => ({
        resourceType: r.type,
        resourceName: r.name,
        configs: r.configEntries.map((e) => ({ name: e.name, value: e.value, op: e.value === null && incremental ? (1 as const) : (0 as const) })),
      })),
      incremental,
      validateOnly,
    )
    return {
      throttleTime: 0,
      resources: results.map((r) => ({ errorCode: r.errorCode, errorMessage: r.errorMessage, resourceType: r.resourceType, resourceName: r.resourceName })),
    }
  }

  // ---------------------------------------------------------------- groups

  async listGroups(): Promise<{ groups: Array<{ groupId: string; protocolType: string }> }> {
    const response = await this.#core.groups.listGroups({})
    if (response.errorCode !== ErrorCode.NONE) throw kafkaError(response.errorCode, 'ListGroups')
    return { groups: response.groups.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType })) }
  }

  async describeGroups(groupIds: string[]): Promise<{ groups: GroupDescription[] }> {
    const groups = await this.#core.groups.describeGroups(groupIds)
    return {
      groups: groups.map((g) => ({
        errorCode: g.errorCode,
        groupId: g.groupId,
        state: g.groupState,
        protocolType: g.protocolType,
        protocol: g.protocolData,
        members: g.members.map((m) => ({
          memberId: m.memberId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata: m.memberMetadata,
          memberAssignment: m.memberAssignment,
        })),
      })),
    }
  }

  /** Deletes empty groups; throws (naming the first failure) if any could not be deleted. */
  async deleteGroups(groupIds: string[]): Promise<Array<{ groupId: string; errorCode: number }>> {
    const results = await this.#core.groups.deleteGroups(groupIds)
    const failed = results.find((r) => r.errorCode !== ErrorCode.NONE)
    if (failed !== undefined) throw kafkaError(failed.errorCode, `delete group ${failed.groupId}`)
    return results.map((r) => ({ groupId: r.groupId, errorCode: r.errorCode }))
  }

  /**
   * A group's committed offsets: for the topics named, every partition (-1 where none is
   * committed); without topics, whatever the group has. `resolveOffsets` turns -1 into the
   * partition's latest offset, where a consumer without fromBeginning would start.
   */
  async fetchOffsets(options: { groupId: string; topics?: string[]; resolveOffsets?: boolean }): Promise<Array<{ topic: string; partitions: Array<{ partition: number; offset: string; metadata: string | null }> }>> {
    const topics = options.topics === undefined ? null : await Promise.all(options.topics.map(async (topic) => ({ topic, partitions: await this.#partitionIds(topic) })))
    const response = await this.#core.groups.fetchOffsets({ groupId: options.groupId, topics })
    if (response.errorCode !== ErrorCode.NONE) throw kafkaError(response.errorCode, `OffsetFetch for group ${options.groupId}`)
    return Promise.all(
      response.topics.map(async (t) => {
        const unresolved = t.partitions.filter((p) => p.offset < 0).map((p) => p.partition)
        const latest = options.resolveOffsets === true && unresolved.length > 0 ? await this.#listOffsets(t.topic, unresolved, -1) : []
        return {
          topic: t.topic,
          partitions: t.partitions.map((p) => {
            const i = unresolved.indexOf(p.partition)
            const offset = p.offset < 0 && i >= 0 && latest.length > 0 ? latest[i] : p.offset
            return { partition: p.partition, offset: String(offset), metadata: p.metadata }
          }),
        }
      }),
    )
  }

  /** Commits offsets for a group with no active members (kafkajs's setOffsets). */
  async setOffsets(options: { groupId: string; topic: string; partitions: Array<{ partition: number; offset: string }> }): Promise<void> {
    const results = await this.#core.groups.commitOffsets({
      groupId: options.groupId,
      generationId: -1,
      memberId: '',
      offsets: options.partitions.map((p) => ({ topic: options.topic, partition: p.partition, offset: parseOffset(p.offset) })),
    })
    const failed = results.find((r) => r.errorCode !== ErrorCode.NONE)
    if (failed !== undefined) throw kafkaError(failed.errorCode, `set offset ${failed.topic}-${failed.partition} for group ${options.groupId}`)
  }

  /** Moves an inactive group's offsets for a topic to the earliest or latest (kafkajs's resetOffsets). */
  async resetOffsets(options: { groupId: string; topic: string; earliest?: boolean }): Promise<void> {
    const partitions = await this.#partitionIds(options.topic)
    const offsets = await this.#listOffsets(options.topic, partitions, options.earliest === true ? -2 : -1)
    await this.setOffsets({ groupId: options.groupId, topic: options.topic, partitions: partitions.map((partition, i) => ({ partition, offset: String(offsets[i]) })) })
  }

  // ---------------------------------------------------------------- helpers

  async #partitionIds(topic: string): Promise<number[]> {
    const metadata = await this.#core.metadata([topic], false)
    const found = metadata.topics.find((t) => t.name === topic)
    if (found === undefined || found.errorCode !== ErrorCode.NONE) throw kafkaError(found?.errorCode ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${topic}`)
    return found.partitions.map((p) => p.partitionIndex).sort((a, b) => a - b)
  }

  async #listOffsets(topic: string, partitions: number[], timestamp: number): Promise<number[]> {
    const results = await this.#core.listOffsets(partitions.map((partition) => ({ topic, partition, timestamp })))
    return results.map((r, i) => {
      if (r.errorCode !== ErrorCode.NONE) throw kafkaError(r.errorCode, `ListOffsets ${topic}-${partitions[i]}`)
      return r.offset
    })
  }
}

function partitionViews(topic: TopicMetadata): PartitionMetadataView[] {
  return [...topic.partitions]
    .sort((a, b) => a.partitionIndex - b.partitionIndex)
    .map((p) => ({
      partitionErrorCode: p.errorCode,
      partitionId: p.partitionIndex,
      leader: p.leaderId,
      replicas: p.replicaNodes,
      isr: p.isrNodes,
      offlineReplicas: p.offlineReplicas,
    }))
}
