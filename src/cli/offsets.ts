/**
 * Where to start or seek, as rpk and kcat spell it: `start`, `end`, an offset, `-N` (N records
 * before the end) or `@TIMESTAMP` (ms since the epoch, or an ISO 8601 date), resolved per
 * partition with ListOffsets and kept inside [log start, log end].
 */
import { partitionKey } from '../client/group-member.js'
import { OffsetSpec, type KafkaClient, type TopicPartition } from '../client/wire/kafka-client.js'
import { check, CliError } from './common.js'

export type OffsetSpecValue =
  | { kind: 'start' }
  | { kind: 'end' }
  | { kind: 'offset'; offset: number }
  | { kind: 'fromEnd'; count: number }
  | { kind: 'timestamp'; ms: number }

export function parseOffsetSpec(value: string): OffsetSpecValue {
  const v = value.trim()
  if (v === 'start' || v === 'beginning' || v === 'earliest' || v === 'oldest') return { kind: 'start' }
  if (v === 'end' || v === 'latest' || v === 'newest') return { kind: 'end' }
  if (/^\d+$/.test(v) && Number.isSafeInteger(Number(v))) return { kind: 'offset', offset: Number(v) }
  if (/^-\d+$/.test(v) && Number.isSafeInteger(Number(v))) return { kind: 'fromEnd', count: -Number(v) }
  if (v.startsWith('@')) {
    const when = v.slice(1)
    const ms = /^\d+$/.test(when) ? Number(when) : Date.parse(when)
    if (Number.isSafeInteger(ms) && ms >= 0) return { kind: 'timestamp', ms }
  }
  throw new CliError(`offset must be start, end, an offset, -N or @TIMESTAMP, got '${value}'`)
}

/** Each partition's offset for `spec`, by partitionKey. */
export async function resolveOffsets(client: KafkaClient, tps: readonly TopicPartition[], spec: OffsetSpecValue): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  if (tps.length === 0) return out
  const list = async (timestamp: number): Promise<Map<string, number>> => {
    const results = await client.listOffsets(tps.map((tp) => ({ ...tp, timestamp })))
    const found = new Map<string, number>()
    for (const r of results) {
      check(r.errorCode, `list offsets of ${r.topic}-${r.partition}`)
      found.set(partitionKey(r.topic, r.partition), r.offset)
    }
    return found
  }
  if (spec.kind === 'start') return list(OffsetSpec.EARLIEST)
  const ends = await list(OffsetSpec.LATEST)
  if (spec.kind === 'end') return ends
  const starts = await list(OffsetSpec.EARLIEST)
  const atTime = spec.kind === 'timestamp' ? await list(spec.ms) : null
  for (const [key, end] of ends) {
    const begin = starts.get(key) ?? 0
    let offset: number
    if (spec.kind === 'offset') offset = spec.offset
    else if (spec.kind === 'fromEnd') offset = end - spec.count
    // No record at or after the time: the end, where the next one will be.
    else offset = atTime!.get(key) ?? -1
    out.set(key, offset < 0 && spec.kind === 'timestamp' ? end : Math.min(end, Math.max(begin, offset)))
  }
  return out
}

