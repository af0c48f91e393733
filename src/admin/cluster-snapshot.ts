/**
 * One scrape's view of the whole box, gathered on the main thread: the controller's metadata
 * (brokers, partitions, leaders, ISRs), each live broker's counters and replicas pulled from its
 * shard over the control channel (one request per broker), consumer-group lag computed from the
 * groups' committed offsets and the leaders' high watermarks, and the process's own figures.
 */
import { RECORD_TIMESTAMPS_MAX, type BrokerNodeMessage } from '../broker/broker-node.js'
import type { NodeMetricsSnapshot, ReplicaSnapshot } from '../broker/node-metrics.js'
import type { BrokerEndpoint, TopicState } from '../metadata/image.js'
import type { RingOccupancy } from '../runtime/shard-pool.js'
import { processStats, threadCpuSeconds, type ProcessStats } from './process-stats.js'

/** What the admin port reads from the running broker (start-broker.ts provides it). */
export interface AdminSource {
  /** Every broker's advertised endpoint, by id. */
  endpoints(): BrokerEndpoint[]
  liveBrokerIds(): number[]
  topics(): readonly TopicState[]
  /** True once startup recovery is done (every stored replica opened, leaders elected). */
  started(): boolean
  /** Asks broker `brokerId`'s node on its shard. */
  askNode(brokerId: number, message: BrokerNodeMessage): Promise<unknown>
  threadIds(): { main: number; shards: number[] }
  ringOccupancy(): RingOccupancy[]
  nowMs(): number
}

export interface PartitionStatus {
  topic: string
  partition: number
  leader: number
  leaderEpoch: number
  replicas: number[]
  isr: number[]
  /** The leader's, or null when it is offline or did not answer this scrape. */
  highWatermark: number | null
  logStartOffset: number | null
  underReplicated: boolean
  offline: boolean
}

export interface GroupPartitionLag {
  topic: string
  partition: number
  committedOffset: number
  /** null while the partition's leader is unknown. */
  lag: number | null
  /** Age of the oldest unconsumed record; 0 when caught up, null when unknown. */
  lagSeconds: number | null
}

export interface GroupStatus {
  group: string
  coordinator: number
  state: string
  members: number
  partitions: GroupPartitionLag[]
}

export interface BrokerStatus {
  id: number
  host: string
  port: number
  live: boolean
  /** This broker's node answered the scrape. */
  answered: boolean
  cpuSeconds: number | null
  eventLoopLag: NodeMetricsSnapshot['eventLoopLag'] | null
  ring: RingOccupancy | null
}

export interface ClusterSnapshot {
  atMs: number
  started: boolean
  brokers: BrokerStatus[]
  partitions: PartitionStatus[]
  groups: GroupStatus[]
  nodes: NodeMetricsSnapshot[]
  process: ProcessStats
  mainThreadCpuSeconds: number | null
}

/** How long one scrape waits for a broker's node before leaving it out. */
export const NODE_ANSWER_TIMEOUT_MS = 5_000

export async function collectSnapshot(source: AdminSource): Promise<ClusterSnapshot> {
  const atMs = source.nowMs()
  const live = new Set(source.liveBrokerIds())
  const nodes = (await Promise.all([...live].map((id) => askWithin(source, id, { op: 'metrics' })))).filter(
    (n): n is NodeMetricsSnapshot => n !== null,
  )
  const leaders = new Map<string, ReplicaSnapshot>()
  for (const node of nodes) for (const r of node.replicas) if (r.role === 'leader') leaders.set(key(r.topic, r.partition), r)
  const partitions = source.topics().flatMap((topic) =>
    topic.partitions.map((p): PartitionStatus => {
      const offline = p.leader === -1 || !live.has(p.leader)
      const leader = offline ? undefined : leaders.get(key(topic.name, p.partition))
      return {
        topic: topic.name,
        partition: p.partition,
        leader: offline ? -1 : p.leader,
        leaderEpoch: p.leaderEpoch,
        replicas: [...p.replicas],
        isr: [...p.isr],
        highWatermark: leader?.highWatermark ?? null,
        logStartOffset: leader?.logStartOffset ?? null,
        underReplicated: p.isr.length < p.replicas.length || p.replicas.some((id) => !live.has(id)),
        offline,
      }
    }),
  )
  const groups = await groupLag(source, nodes, partitions, atMs)
  const threads = source.threadIds()
  const rings = source.ringOccupancy()
  const answered = new Map(nodes.map((n) => [n.nodeId, n]))
  const brokers = source.endpoints().map(
    (e): BrokerStatus => ({
      id: e.nodeId,
      host: e.host,
      port: e.port,
      live: live.has(e.nodeId),
      answered: answered.has(e.nodeId),
      cpuSeconds: threadCpuSeconds(threads.shards[e.nodeId] ?? -1),
      eventLoopLag: answered.get(e.nodeId)?.eventLoopLag ?? null,
      ring: rings[e.nodeId] ?? null,
    }),
  )
  return { atMs, started: source.started(), brokers, partitions, groups, nodes, process: processStats(), mainThreadCpuSeconds: threadCpuSeconds(threads.main) }
}

/** Lag per group partition, and its age from the timestamp of the first unconsumed record, asked of each leader. */
async function groupLag(source: AdminSource, nodes: NodeMetricsSnapshot[], partitions: PartitionStatus[], atMs: number): Promise<GroupStatus[]> {
  const byKey = new Map(partitions.map((p) => [key(p.topic, p.partition), p]))
  const groups: GroupStatus[] = []
  // Lagging partitions by the broker that leads them, to ask each leader once.
  const lagging = new Map<number, Array<{ entry: GroupPartitionLag }>>()
  for (const node of nodes) {
    for (const g of node.groups) {
      const status: GroupStatus = { group: g.group, coordinator: node.nodeId, state: g.state, members: g.members, partitions: [] }
      for (const o of g.offsets) {
        const partition = byKey.get(key(o.topic, o.partition))
        const hw = partition?.highWatermark ?? null
        const lag = hw === null ? null : Math.max(0, hw - o.offset)
        const entry: GroupPartitionLag = { topic: o.topic, partition: o.partition, committedOffset: o.offset, lag, lagSeconds: lag === 0 ? 0 : null }
        status.partitions.push(entry)
        if (lag !== null && lag > 0 && partition !== undefined) {
          const list = lagging.get(partition.leader) ?? []
          if (list.length < RECORD_TIMESTAMPS_MAX) list.push({ entry })
          lagging.set(partition.leader, list)
        }
      }
      groups.push(status)
    }
  }
  await Promise.all(
    [...lagging].map(async ([leader, list]) => {
      const at = list.map(({ entry }) => ({ topic: entry.topic, partition: entry.partition, offset: entry.committedOffset }))
      const reply = (await askWithin(source, leader, { op: 'recordTimestamps', at })) as { timestampsMs: number[] } | null
      if (reply === null) return
      list.forEach(({ entry }, i) => {
        const ts = reply.timestampsMs[i]
        if (ts !== undefined && ts >= 0) entry.lagSeconds = Math.max(0, atMs - ts) / 1000
      })
    }),
  )
  return groups
}

/** The node's answer, or null if it failed or took longer than NODE_ANSWER_TIMEOUT_MS (a scrape never hangs on one broker). */
export async function askWithin<T = NodeMetricsSnapshot>(source: AdminSource, brokerId: number, message: BrokerNodeMessage): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), NODE_ANSWER_TIMEOUT_MS)))
  try {
    return await Promise.race([source.askNode(brokerId, message).then((m) => m as T, () => null), timeout])
  } finally {
    clearTimeout(timer)
  }
}

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`
}

