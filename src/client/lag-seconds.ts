/**
 * A consumer group's lag in seconds, the figure Burrow and Kafka UI users ask for: per partition,
 * how long ago the first record the group has not consumed was written (its timestamp), read
 * with one small fetch per lagging partition. Used by the CLI's `group describe` and the console.
 */
import { ErrorCode } from '../common/error-codes.js'
import { decodeFetched } from './fetch-decoder.js'

export interface UnconsumedFrom {
  topic: string
  partition: number
  /** The first offset the group has not consumed: its commit, raised to the log start. */
  fromOffset: number
}

/** A fetch of `partitionMaxBytes` from each partition at `fetchOffset`, without waiting. */
export type SmallFetch = (
  inputs: Array<{ topic: string; partition: number; fetchOffset: number; partitionMaxBytes: number }>,
) => Promise<ReadonlyArray<{ topic: string; partition: number; errorCode: number; records: Buffer | null }>>

/** Seconds since each partition's first unconsumed record was written, in input order; null when unknown. */
export async function lagSecondsOf(fetch: SmallFetch, partitions: readonly UnconsumedFrom[], nowMs = Date.now()): Promise<Array<number | null>> {
  if (partitions.length === 0) return []
  const results = await fetch(partitions.map((p) => ({ topic: p.topic, partition: p.partition, fetchOffset: p.fromOffset, partitionMaxBytes: 1 })))
  const byPartition = new Map(results.map((r) => [`${r.topic}\0${r.partition}`, r]))
  return partitions.map((p) => {
    const result = byPartition.get(`${p.topic}\0${p.partition}`)
    if (result === undefined || result.errorCode !== ErrorCode.NONE) return null
    const first = decodeFetched(result.records, p.fromOffset).messages[0]
    return first === undefined ? null : Math.max(0, Math.round((nowMs - Number(first.timestamp)) / 1000))
  })
}
