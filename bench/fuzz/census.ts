/**
 * A count of the state the run made the broker keep (topics, partition replicas, groups,
 * transactional ids), read over the wire beside each progress line: memory that grows with these
 * is state the fuzz created, to be bounded by the broker's limits; memory that grows while they
 * stand still is a leak.
 */
import { KafkaClient } from '../../src/client/wire/kafka-client.js'
import { ApiKey } from '../../src/protocol/index.js'

export interface Census {
  topics: number
  partitions: number
  /** Partition replicas over every broker (partitions times their replication factor). */
  replicas: number
  groups: number
  /** Transactional ids the brokers' coordinators keep (-1: a coordinator could not list them). */
  transactionalIds: number
}

export async function takeCensus(bootstrap: string): Promise<Census> {
  const client = await KafkaClient.connect({ bootstrapServers: bootstrap, clientId: 'partita-fuzz-census', requestTimeoutMs: 15_000, connectTimeoutMs: 15_000 })
  try {
    const metadata = await client.metadata(null)
    let partitions = 0
    let replicas = 0
    for (const topic of metadata.topics) {
      partitions += topic.partitions.length
      for (const p of topic.partitions) replicas += p.replicas.length
    }
    const groups = (await client.listGroups()).length
    // Ids cannot be deleted over the wire: they leave by transactional.id.expiration.ms alone.
    const listed = await Promise.all(client.brokers.map((b) => client.request(b.nodeId, ApiKey.ListTransactions, { stateFilters: [], producerIdFilters: [] })))
    const transactionalIds = listed.some((l) => l.errorCode !== 0) ? -1 : listed.reduce((sum, l) => sum + l.transactionStates.length, 0)
    return { topics: metadata.topics.length, partitions, replicas, groups, transactionalIds }
  } finally {
    await client.close()
  }
}

/** What one sweep removed. */
export interface Sweep {
  topics: number
  groups: number
}

/**
 * Deletes the topics and groups the run's frames created (every one not in `keepTopics` /
 * `keepGroups`, internal topics aside), so the state the run leaves stays bounded and growth in
 * RSS over a long run means a leak, not more partitions and groups to hold. Best effort: a group
 * with members stays (NON_EMPTY_GROUP), and a topic being created is caught by the next sweep.
 */
export async function sweepCreatedState(bootstrap: string, keepTopics: ReadonlySet<string>, keepGroups: ReadonlySet<string>): Promise<Sweep> {
  const client = await KafkaClient.connect({ bootstrapServers: bootstrap, clientId: 'partita-fuzz-sweep', requestTimeoutMs: 30_000, connectTimeoutMs: 15_000 })
  try {
    const metadata = await client.metadata(null)
    const topics = metadata.topics.filter((t) => t.name !== '' && !t.isInternal && !keepTopics.has(t.name)).map((t) => t.name)
    const groups = (await client.listGroups()).map((g) => g.groupId).filter((id) => !keepGroups.has(id))
    if (topics.length > 0) await client.deleteTopics(topics)
    const results = groups.length === 0 ? [] : await client.deleteGroups(groups)
    return { topics: topics.length, groups: results.filter((r) => r.errorCode === 0).length }
  } finally {
    await client.close()
  }
}

export function censusLine(census: Census): string {
  return `${census.topics} topics, ${census.partitions} partitions (${census.replicas} replicas), ${census.groups} groups, ${census.transactionalIds} transactional ids`
}
