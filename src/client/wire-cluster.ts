/**
 * Kafka's operations over the wire, for the embedded producer, consumer and admin: each request
 * goes to the broker that answers it (a partition's leader, a group's coordinator, any broker
 * for metadata and admin) through the wire client, exactly as an external client's would. The
 * embedded clients therefore behave the same against this box and against a Kafka cluster.
 */
import type { GroupState } from '../actors/group/types.js'
import { ErrorCode } from '../common/error-codes.js'
import type {
  Acks,
  AlterConfigOp,
  ClusterMetadata,
  ConfigResource,
  CreatePartitionsInput,
  CreateTopicInput,
  CreateTopicResult,
  DeleteRecordsInput,
  DeleteRecordsResult,
  DescribeConfigsResult,
  FetchInput,
  FetchOptions,
  FetchResult,
  GroupOperations,
  InitProducerIdResult,
  KafkaOperations,
  ListOffsetsInput,
  ListOffsetsResult,
  ProduceInput,
  ProduceResult,
  TopicErrorResult,
} from '../metadata/operations.js'
import type { KafkaClient } from './wire/kafka-client.js'

const NO_TOPIC_ID = '00000000-0000-0000-0000-000000000000'

export class WireCluster implements KafkaOperations {
  readonly groups: GroupOperations
  readonly #client: KafkaClient

  constructor(client: KafkaClient) {
    this.#client = client
    this.groups = wireGroups(client)
  }

  async metadata(topics: string[] | null, allowAutoCreate: boolean): Promise<ClusterMetadata> {
    const meta = await this.#client.metadata(topics, { allowAutoTopicCreation: allowAutoCreate })
    return {
      clusterId: meta.clusterId ?? '',
      controllerId: meta.controllerId,
      brokers: meta.brokers,
      topics: meta.topics.map((t) => ({
        errorCode: t.errorCode,
        name: t.name,
        topicId: t.topicId ?? NO_TOPIC_ID,
        isInternal: t.isInternal,
        partitions: t.partitions.map((p) => ({
          errorCode: p.errorCode,
          partitionIndex: p.partition,
          leaderId: p.leader,
          leaderEpoch: p.leaderEpoch,
          replicaNodes: p.replicas,
          isrNodes: p.isr,
          offlineReplicas: p.offline,
        })),
      })),
    }
  }

  async produce(inputs: ProduceInput[], acks: Acks, timeoutMs: number): Promise<ProduceResult[]> {
    const results = await this.#client.produce(inputs, { acks, timeoutMs })
    return results.map((r) => ({ errorCode: r.errorCode, errorMessage: r.errorMessage, baseOffset: r.baseOffset, logAppendTimeMs: r.logAppendTimeMs, logStartOffset: r.logStartOffset }))
  }

  fetch(inputs: FetchInput[], options: FetchOptions): Promise<FetchResult[]> {
    // A fetch on the wire cannot be recalled; an abort only means its answer is not waited for
    // beyond maxWaitMs, which bounds it anyway.
    return this.#client.fetch(inputs, { maxWaitMs: options.maxWaitMs, minBytes: options.minBytes, maxBytes: options.maxBytes, isolationLevel: options.isolationLevel })
  }

  async listOffsets(inputs: ListOffsetsInput[]): Promise<ListOffsetsResult[]> {
    // Isolation is per request in Kafka: read_committed when any input asks for it.
    const results = await this.#client.listOffsets(inputs, { isolationLevel: inputs.some((i) => i.isolationLevel === 1) ? 1 : 0 })
    return results.map((r) => ({ errorCode: r.errorCode, timestamp: r.timestamp, offset: r.offset, leaderEpoch: -1 }))
  }

  async deleteRecords(inputs: DeleteRecordsInput[], timeoutMs: number): Promise<DeleteRecordsResult[]> {
    const results = await this.#client.deleteRecords(inputs, { timeoutMs })
    return results.map((r) => ({ errorCode: r.errorCode, lowWatermark: r.lowWatermark }))
  }

  async createTopics(inputs: CreateTopicInput[], validateOnly: boolean, timeoutMs?: number): Promise<CreateTopicResult[]> {
    const response = await this.#client.createTopics(
      inputs.map((i) => ({ name: i.name, numPartitions: i.numPartitions, replicationFactor: i.replicationFactor, configs: i.configs, assignments: i.assignments })),
      { validateOnly, timeoutMs },
    )
    return response.topics.map((t) => ({
      name: t.name,
      errorCode: t.errorCode,
      errorMessage: t.errorMessage,
      numPartitions: t.numPartitions,
      replicationFactor: t.replicationFactor,
      topicId: t.topicId,
    }))
  }

  async deleteTopics(names: string[], timeoutMs?: number): Promise<TopicErrorResult[]> {
    const response = await this.#client.deleteTopics(names, { timeoutMs })
    return response.responses.map((r) => ({ name: r.name ?? '', errorCode: r.errorCode, errorMessage: r.errorMessage }))
  }

  async createPartitions(inputs: CreatePartitionsInput[], validateOnly: boolean, timeoutMs?: number): Promise<TopicErrorResult[]> {
    const results: TopicErrorResult[] = []
    for (const input of inputs) {
      const response = await this.#client.createPartitions(input.name, input.count, { validateOnly, timeoutMs, assignments: input.assignments })
      for (const r of response.results) results.push({ name: r.name, errorCode: r.errorCode, errorMessage: r.errorMessage })
    }
    return results
  }

  async describeConfigs(resources: Array<ConfigResource & { configNames: string[] | null }>): Promise<DescribeConfigsResult[]> {
    const response = await this.#client.describeConfigs(resources.map((r) => ({ type: r.resourceType, name: r.resourceName, keys: r.configNames })))
    return response.results.map((r) => ({
      resourceType: r.resourceType,
      resourceName: r.resourceName,
      errorCode: r.errorCode,
      errorMessage: r.errorMessage,
      configs: r.configs.map((c) => ({ name: c.name, value: c.value, readOnly: c.readOnly, source: c.configSource, isDefault: c.configSource === 5, isSensitive: c.isSensitive })),
    }))
  }

  async alterConfigs(
    resources: Array<ConfigResource & { configs: AlterConfigOp[] }>,
    incremental: boolean,
    validateOnly: boolean,
  ): Promise<Array<ConfigResource & { errorCode: number; errorMessage: string | null }>> {
    const response = incremental
      ? await this.#client.incrementalAlterConfigs(
          resources.map((r) => ({ type: r.resourceType, name: r.resourceName, changes: r.configs.map((c) => ({ name: c.name, op: c.op, value: c.value })) })),
          validateOnly,
        )
      : await this.#client.alterConfigs(
          resources.map((r) => ({ type: r.resourceType, name: r.resourceName, configs: Object.fromEntries(r.configs.map((c) => [c.name, c.value])) })),
          validateOnly,
        )
    return response.responses.map((r) => ({ resourceType: r.resourceType, resourceName: r.resourceName, errorCode: r.errorCode, errorMessage: r.errorMessage }))
  }

  async initProducerId(transactionalId: string | null, producerId: number, producerEpoch: number, transactionTimeoutMs: number): Promise<InitProducerIdResult> {
    const response = await this.#client.initProducerId({ transactionalId, producerId, producerEpoch, transactionTimeoutMs })
    return { errorCode: response.errorCode, producerId: response.producerId, producerEpoch: response.producerEpoch }
  }
}

function wireGroups(client: KafkaClient): GroupOperations {
  return {
    async joinGroup(request) {
      const r = await client.joinGroup({
        groupId: request.groupId,
        sessionTimeoutMs: request.sessionTimeoutMs,
        rebalanceTimeoutMs: request.rebalanceTimeoutMs,
        memberId: request.memberId,
        groupInstanceId: request.groupInstanceId ?? null,
        protocolType: request.protocolType,
        protocols: request.protocols,
      })
      return {
        errorCode: r.errorCode,
        generationId: r.generationId,
        protocolType: r.protocolType,
        protocolName: r.protocolName,
        leader: r.leader,
        memberId: r.memberId,
        members: r.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadata })),
      }
    },
    async syncGroup(request) {
      const r = await client.syncGroup({
        groupId: request.groupId,
        generationId: request.generationId,
        memberId: request.memberId,
        groupInstanceId: request.groupInstanceId ?? null,
        protocolType: request.protocolType ?? null,
        protocolName: request.protocolName ?? null,
        assignments: request.assignments,
      })
      return { errorCode: r.errorCode, protocolType: r.protocolType, protocolName: r.protocolName, assignment: r.assignment }
    },
    async heartbeat(request) {
      const r = await client.heartbeat({ groupId: request.groupId, generationId: request.generationId, memberId: request.memberId, groupInstanceId: request.groupInstanceId ?? null })
      return { errorCode: r.errorCode }
    },
    async leaveGroup(request) {
      const members = await Promise.all(
        request.members.map(async (m) => {
          const r = await client.leaveGroup(request.groupId, m.memberId)
          const errorCode = r.errorCode !== ErrorCode.NONE ? r.errorCode : (r.members[0]?.errorCode ?? ErrorCode.NONE)
          return { memberId: m.memberId, groupInstanceId: m.groupInstanceId ?? null, errorCode }
        }),
      )
      return { errorCode: ErrorCode.NONE, members }
    },
    async commitOffsets(request) {
      const byTopic = new Map<string, typeof request.offsets>()
      for (const o of request.offsets) byTopic.set(o.topic, [...(byTopic.get(o.topic) ?? []), o])
      const r = await client.offsetCommit({
        groupId: request.groupId,
        generationIdOrMemberEpoch: request.generationId,
        memberId: request.memberId,
        groupInstanceId: request.groupInstanceId ?? null,
        topics: [...byTopic].map(([name, offsets]) => ({
          name,
          partitions: offsets.map((o) => ({ partitionIndex: o.partition, committedOffset: o.offset, committedLeaderEpoch: o.leaderEpoch ?? -1, committedMetadata: o.metadata ?? null })),
        })),
      })
      return r.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex, errorCode: p.errorCode })))
    },
    async fetchOffsets(request) {
      const asked = request.topics ?? null
      const r = await client.offsetFetch(request.groupId, asked === null ? null : asked.flatMap((t) => t.partitions.map((partition) => ({ topic: t.topic, partition }))))
      return {
        errorCode: r.errorCode,
        topics: r.topics.map((t) => ({
          topic: t.name,
          partitions: t.partitions.map((p) => ({ partition: p.partitionIndex, offset: p.committedOffset, leaderEpoch: p.committedLeaderEpoch, metadata: p.metadata, errorCode: p.errorCode })),
        })),
      }
    },
    async describeGroups(groupIds) {
      const groups = await client.describeGroups(groupIds)
      return groups.map((g) => ({
        errorCode: g.errorCode,
        groupId: g.groupId,
        groupState: g.groupState as GroupState,
        protocolType: g.protocolType,
        protocolData: g.protocolData,
        members: g.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata: m.memberMetadata,
          memberAssignment: m.memberAssignment,
        })),
      }))
    },
    async listGroups() {
      const groups = await client.listGroups()
      return { errorCode: ErrorCode.NONE, groups: groups.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, groupState: g.groupState as GroupState })) }
    },
    async deleteGroups(groupIds) {
      const results = await client.deleteGroups(groupIds)
      return results.map((r) => ({ groupId: r.groupId, errorCode: r.errorCode }))
    },
  }
}
