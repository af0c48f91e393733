/**
 * /readyz and /v1/status. Readiness is read from the controller alone (no shard is asked), so a
 * probe stays cheap: ready once startup recovery is done, every broker runs, and every partition
 * has a live leader.
 */
import type { AdminSource, ClusterSnapshot } from './cluster-snapshot.js'

export interface Readiness {
  ready: boolean
  /** Why not, one line each; empty when ready. */
  reasons: string[]
}

/** Leaderless partitions named in a not-ready answer; the rest are counted. */
const REASONS_NAMED_MAX = 10

export function readiness(source: AdminSource): Readiness {
  const reasons: string[] = []
  if (!source.started()) reasons.push('recovery is not done: the stored partitions are still being opened')
  const live = new Set(source.liveBrokerIds())
  const down = source.endpoints().filter((e) => !live.has(e.nodeId))
  for (const broker of down) reasons.push(`broker ${broker.nodeId} is not running`)
  const leaderless: string[] = []
  for (const topic of source.topics()) {
    for (const p of topic.partitions) if (p.leader === -1 || !live.has(p.leader)) leaderless.push(`${topic.name}-${p.partition}`)
  }
  if (leaderless.length > 0) {
    const named = leaderless.slice(0, REASONS_NAMED_MAX).join(', ')
    const more = leaderless.length > REASONS_NAMED_MAX ? ` and ${leaderless.length - REASONS_NAMED_MAX} more` : ''
    reasons.push(`${leaderless.length} partition(s) have no live leader: ${named}${more}`)
  }
  return { ready: reasons.length === 0, reasons }
}

/** The JSON of /v1/status: what a console (and `jq`) needs to draw the box. */
export function statusJson(snapshot: ClusterSnapshot, ready: Readiness): unknown {
  return {
    ready: ready.ready,
    reasons: ready.reasons,
    atMs: snapshot.atMs,
    brokers: snapshot.brokers,
    partitions: snapshot.partitions,
    groups: snapshot.groups,
    topics: topicTraffic(snapshot),
    process: snapshot.process,
  }
}

function topicTraffic(snapshot: ClusterSnapshot): Array<{ topic: string; recordsIn: number; bytesIn: number; recordsOut: number; bytesOut: number }> {
  const totals = new Map<string, { topic: string; recordsIn: number; bytesIn: number; recordsOut: number; bytesOut: number }>()
  for (const node of snapshot.nodes) {
    for (const t of node.topics) {
      const sum = totals.get(t.topic) ?? { topic: t.topic, recordsIn: 0, bytesIn: 0, recordsOut: 0, bytesOut: 0 }
      sum.recordsIn += t.recordsIn
      sum.bytesIn += t.bytesIn
      sum.recordsOut += t.recordsOut
      sum.bytesOut += t.bytesOut
      totals.set(t.topic, sum)
    }
  }
  return [...totals.values()].sort((a, b) => a.topic.localeCompare(b.topic))
}
