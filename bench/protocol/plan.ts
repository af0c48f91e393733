/**
 * Where the load generator's connections go and which partitions each request carries. Partitions
 * are grouped by their leader's listener, read from metadata: today every logical broker shares
 * the main thread's listener (one group); once each broker node listens on its own, the same code
 * opens connections to each.
 */
import { KafkaClient, OffsetSpec } from '../../src/client/wire/kafka-client.js'
import { ErrorCode, errorName } from '../../src/common/error-codes.js'

export interface Endpoint {
  host: string
  port: number
}

/** The partitions one listener leads. */
export interface Route extends Endpoint {
  partitions: number[]
}

/** One connection: where it goes, and the partitions each of its requests carries. */
export interface ConnectionPlan extends Endpoint {
  partitions: number[]
}

export function parseEndpoint(hostPort: string): Endpoint {
  const at = hostPort.lastIndexOf(':')
  return { host: hostPort.slice(0, at), port: Number(hostPort.slice(at + 1)) }
}

/** Leadership moved while the topic was being created (a shard restarted): its leaders may still settle. */
const SETTLING_ERRORS: ReadonlySet<number> = new Set([ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.LEADER_NOT_AVAILABLE, ErrorCode.REQUEST_TIMED_OUT])

/** Creates a topic and waits until every partition has a leader; `warn` hears of a creation that needed a failover. */
export async function createTopic(
  bootstrap: string,
  topic: string,
  partitions: number,
  replicationFactor: number,
  warn: (line: string) => void,
  configs: Record<string, string> = {},
): Promise<void> {
  const admin = await KafkaClient.connect({ bootstrapServers: bootstrap, retries: 20 })
  try {
    const response = await admin.createTopics([{ name: topic, numPartitions: partitions, replicationFactor, configs }])
    for (const result of response.topics) {
      if (result.errorCode === ErrorCode.NONE) continue
      const failure = `creating ${topic} failed with ${errorName(result.errorCode)} (${result.errorCode})`
      if (!SETTLING_ERRORS.has(result.errorCode)) throw new Error(failure)
      warn(`${failure}; waiting for its leaders to settle`)
    }
    await admin.topic(topic)
  } finally {
    await admin.close()
  }
}

export async function brokerRoutes(bootstrap: string, topic: string): Promise<Route[]> {
  const client = await KafkaClient.connect({ bootstrapServers: bootstrap })
  try {
    const info = await client.topic(topic)
    const metadata = await client.metadata([topic])
    const byEndpoint = new Map<string, Route>()
    for (const partition of info.partitions) {
      const leader = metadata.brokers.find((broker) => broker.nodeId === partition.leader)
      if (leader === undefined) throw new Error(`partition ${partition.partition} of ${topic} has leader ${partition.leader}, not in metadata`)
      const key = `${leader.host}:${leader.port}`
      let route = byEndpoint.get(key)
      if (route === undefined) byEndpoint.set(key, (route = { host: leader.host, port: leader.port, partitions: [] }))
      route.partitions.push(partition.partition)
    }
    return [...byEndpoint.values()]
  } finally {
    await client.close()
  }
}

/** The ceiling has one listener that takes every partition. */
export function singleRoute(bootstrap: string, partitions: number): Route[] {
  return [{ ...parseEndpoint(bootstrap), partitions: Array.from({ length: partitions }, (_, p) => p) }]
}

/**
 * About `connections` connections, shared among the listeners by how many partitions each leads
 * (at least one each); each connection's requests carry an equal share of its listener's partitions.
 */
export function wideRequests(routes: Route[], connections: number): ConnectionPlan[] {
  const total = routes.reduce((sum, route) => sum + route.partitions.length, 0)
  return routes.flatMap((route) => {
    const count = Math.min(route.partitions.length, Math.max(1, Math.round((connections * route.partitions.length) / total)))
    return Array.from({ length: count }, (_, c) => ({
      host: route.host,
      port: route.port,
      partitions: route.partitions.filter((_, i) => i % count === c),
    }))
  })
}

/** `connections` connections, each sending one partition per request, partitions taken in turn. */
export function singlePartitionRequests(routes: Route[], connections: number): ConnectionPlan[] {
  const all = routes.flatMap((route) => route.partitions.map((partition) => ({ host: route.host, port: route.port, partitions: [partition] })))
  return Array.from({ length: connections }, (_, c) => all[c % all.length])
}

/** How long awaitVisible waits for records produced at acks=1 to become readable. */
const VISIBLE_WAIT_MS_MAX = 30_000
const VISIBLE_POLL_MS = 20

/**
 * Waits until the latest offsets of `topic` (a fresh one) add up to `records`: with the default
 * partita.fsync.mode=acks-all, records produced at acks=1 become readable only once the group
 * commit has synced them (within LAZY_SYNC_DELAY_MS, 100 ms), so a read-back started at once would miss the tail.
 */
export async function awaitVisible(bootstrap: string, topic: string, partitions: number, records: number): Promise<void> {
  const client = await KafkaClient.connect({ bootstrapServers: bootstrap })
  try {
    const inputs = Array.from({ length: partitions }, (_, partition) => ({ topic, partition, timestamp: OffsetSpec.LATEST }))
    let visible = 0
    for (let waitedMs = 0; waitedMs <= VISIBLE_WAIT_MS_MAX; waitedMs += VISIBLE_POLL_MS) {
      visible = (await client.listOffsets(inputs)).reduce((sum, result) => sum + result.offset, 0)
      if (visible >= records) return
      await new Promise((resolve) => setTimeout(resolve, VISIBLE_POLL_MS))
    }
    throw new Error(`${topic}: ${visible} of ${records} produced records readable after ${VISIBLE_WAIT_MS_MAX} ms`)
  } finally {
    await client.close()
  }
}
