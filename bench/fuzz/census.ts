/**
 * A count of the state the run made the broker keep (topics, partition replicas, groups), read over the wire beside each progress line: memory that grows with these
 * is state the fuzz created, to be bounded by the broker's limits; memory that grows while they
 * stand still is a leak.
 */
import { KafkaClient } from '../../src/client/wire/kafka-client.js'

export interface Census {
  topics: number
  partitions: number
  /** Partition replicas over every broker (partitions times their replication factor). */
  replicas: number
  groups: number
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
    return { topics: metadata.topics.length, partitions, replicas, groups }
  } finally {
    await client.close()
  }
}

export function censusLine(census: Census): string {
  return `${census.topics} topics, ${census.partitions} partitions (${census.replicas} replicas), ${census.groups} groups`
}
