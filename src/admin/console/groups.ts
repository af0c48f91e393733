/**
 * Consumer groups for the console: state, members and their assignments, committed offsets with
 * the lag per partition and in total, the lag in seconds (the age of the oldest record the group
 * has not consumed), and resetting a stopped group's offsets.
 */
import { decodeAssignment } from '../../client/assignors.js'
import { lagSecondsOf, type SmallFetch } from '../../client/lag-seconds.js'
import { ErrorCode } from '../../common/error-codes.js'
import { KafkaError } from '../../common/errors.js'
import { HttpError, intIn, objectBody, type ConsoleBackend } from './api.js'

/** Groups described (with lag) in one listing; more are listed by name only. */
const GROUPS_DESCRIBED_MAX = 100

interface PartitionLag {
  topic: string
  partition: number
  committedOffset: number | null
  logStartOffset: number
  highWatermark: number
  lag: number | null
  lagSeconds: number | null
  memberId: string | null
}

export async function listGroupsWithLag(b: ConsoleBackend): Promise<unknown> {
  const { groups } = await b.admin.listGroups()
  groups.sort((x, y) => (x.groupId < y.groupId ? -1 : 1))
  const described = await Promise.all(
    groups.slice(0, GROUPS_DESCRIBED_MAX).map(async (g) => {
      const d = await groupDetail(b, g.groupId)
      return { groupId: g.groupId, protocolType: g.protocolType, state: d.state, members: d.members.length, totalLag: d.totalLag, lagSeconds: d.lagSeconds }
    }),
  )
  return { groups: [...described, ...groups.slice(GROUPS_DESCRIBED_MAX).map((g) => ({ groupId: g.groupId, protocolType: g.protocolType }))] }
}

export function describeGroup(b: ConsoleBackend, groupId: string): Promise<unknown> {
  return groupDetail(b, groupId)
}

async function groupDetail(b: ConsoleBackend, groupId: string) {
  const [group] = (await b.admin.describeGroups([groupId])).groups
  if (group === undefined || group.errorCode !== ErrorCode.NONE) throw new KafkaError(group?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR, `describe group '${groupId}' failed`)
  // Kafka answers an unknown group with state Dead and no error.
  if (group.state === 'Dead') throw new KafkaError(ErrorCode.GROUP_ID_NOT_FOUND, `GROUP_ID_NOT_FOUND: no group '${groupId}'`)
  const members = group.members.map((m) => ({ memberId: m.memberId, clientId: m.clientId, host: m.clientHost, assignment: assignmentOf(group.protocolType, m.memberAssignment) }))
  const owner = new Map<string, string>()
  for (const m of members) for (const a of m.assignment) for (const p of a.partitions) owner.set(`${a.topic}\0${p}`, m.memberId)
  const committed = await b.admin.fetchOffsets({ groupId })
  const partitions: PartitionLag[] = []
  for (const t of committed) {
    const ends = await b.admin.fetchTopicOffsets(t.topic)
    for (const p of t.partitions) {
      const end = ends.find((e) => e.partition === p.partition)
      const high = Number(end?.high ?? 0)
      const offset = Number(p.offset)
      partitions.push({
        topic: t.topic,
        partition: p.partition,
        committedOffset: offset < 0 ? null : offset,
        logStartOffset: Number(end?.low ?? 0),
        highWatermark: high,
        lag: offset < 0 ? null : Math.max(0, high - offset),
        lagSeconds: null,
        memberId: owner.get(`${t.topic}\0${p.partition}`) ?? null,
      })
    }
  }
  partitions.sort((x, y) => (x.topic === y.topic ? x.partition - y.partition : x.topic < y.topic ? -1 : 1))
  await addLagSeconds(b, partitions)
  return {
    groupId,
    state: group.state,
    protocolType: group.protocolType,
    protocol: group.protocol,
    members,
    totalLag: partitions.reduce((sum, p) => sum + (p.lag ?? 0), 0),
    lagSeconds: partitions.reduce((most, p) => Math.max(most, p.lagSeconds ?? 0), 0),
    partitions,
  }
}

function assignmentOf(protocolType: string, bytes: Buffer): Array<{ topic: string; partitions: number[] }> {
  if (protocolType !== 'consumer' || bytes.length === 0) return []
  try {
    return decodeAssignment(bytes).assignedPartitions.map((tp) => ({ topic: tp.topic, partitions: [...tp.partitions] }))
  } catch {
    // Another client's assignment format: its partitions still show through the offsets.
    return []
  }
}

/** Lag in seconds: 0 when caught up, else the age of the first record past the commit. */
async function addLagSeconds(b: ConsoleBackend, partitions: PartitionLag[]): Promise<void> {
  for (const p of partitions) if (p.lag === 0) p.lagSeconds = 0
  const lagging = partitions.filter((p) => p.lag !== null && p.lag > 0)
  const fetch: SmallFetch = (inputs) => b.cluster.fetch(inputs, { maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0 })
  const seconds = await lagSecondsOf(fetch, lagging.map((p) => ({ topic: p.topic, partition: p.partition, fromOffset: Math.max(p.committedOffset!, p.logStartOffset) })))
  lagging.forEach((p, i) => (p.lagSeconds = seconds[i]))
}

export type ResetTarget = { to: 'start' } | { to: 'end' } | { to: 'offset'; offset: number } | { to: 'timestamp'; ms: number }

export interface ResetRequest {
  target: ResetTarget
  /** The topics to reset; absent: every topic the group has offsets for. */
  topics: string[] | null
}

export function parseReset(raw: unknown): ResetRequest {
  const body = objectBody(raw)
  const topics = body.topics === undefined || body.topics === null ? null : body.topics
  if (topics !== null && (!Array.isArray(topics) || topics.some((t) => typeof t !== 'string'))) throw new HttpError(400, 'topics must be a list of topic names')
  let target: ResetTarget
  if (body.to === 'start' || body.to === 'end') target = { to: body.to }
  else if (body.to === 'offset') target = { to: 'offset', offset: intIn(body.offset, 'offset', 0, Number.MAX_SAFE_INTEGER) }
  else if (body.to === 'timestamp') {
    const ms = typeof body.timestamp === 'string' && !/^\d+$/.test(body.timestamp) ? Date.parse(body.timestamp) : Number(body.timestamp)
    if (!Number.isSafeInteger(ms) || ms < 0) throw new HttpError(400, `timestamp must be ms since the epoch or an ISO 8601 date, got ${JSON.stringify(body.timestamp) ?? 'nothing'}`)
    target = { to: 'timestamp', ms }
  } else throw new HttpError(400, `to must be start, end, offset or timestamp, got ${JSON.stringify(body.to) ?? 'nothing'}`)
  return { target, topics: topics as string[] | null }
}

export async function resetGroup(b: ConsoleBackend, groupId: string, request: ResetRequest): Promise<unknown> {
  const [group] = (await b.admin.describeGroups([groupId])).groups
  // A live group's offsets belong to its members, who would overwrite them at their next commit.
  if (group !== undefined && group.state !== 'Empty' && group.state !== 'Dead') {
    throw new HttpError(409, `group '${groupId}' is ${group.state}: stop its consumers before resetting its offsets`)
  }
  const topics = request.topics ?? (await b.admin.fetchOffsets({ groupId })).map((t) => t.topic)
  if (topics.length === 0) throw new HttpError(400, `group '${groupId}' has no offsets; name the topics to reset`)
  const out: Array<{ topic: string; partition: number; offset: number }> = []
  for (const topic of topics) {
    const ends = await b.admin.fetchTopicOffsets(topic)
    const atTime = request.target.to === 'timestamp' ? await b.admin.fetchTopicOffsetsByTimestamp(topic, request.target.ms) : []
    const partitions = ends.map((e) => {
      const low = Number(e.low)
      const high = Number(e.high)
      const t = request.target
      const wanted = t.to === 'start' ? low : t.to === 'end' ? high : t.to === 'offset' ? t.offset : Number(atTime.find((a) => a.partition === e.partition)?.offset ?? high)
      return { partition: e.partition, offset: Math.min(high, Math.max(low, wanted)) }
    })
    await b.admin.setOffsets({ groupId, topic, partitions: partitions.map((p) => ({ partition: p.partition, offset: String(p.offset) })) })
    out.push(...partitions.map((p) => ({ topic, ...p })))
  }
  return { groupId, offsets: out }
}
