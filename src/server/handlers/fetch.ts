/**
 * Fetch v0-12 with Kafka's long-poll (the core parks each partition until minBytes or maxWaitMs)
 * and, from v7, incremental fetch sessions (KIP-227; the rules are in ../fetch-sessions.ts): the
 * broker's session cache decides which partitions a request fetches and which the answer carries.
 * A session error answers at the top level with no partitions, fetching nothing. Reading from
 * followers is not offered (preferred read replica -1).
 *
 * v0-3 expect message formats older than the log's v2 batches: v0-1 magic 0 (no timestamps), v2-3
 * magic 1. Their batches are down-converted here (see src/records/legacy-messages.ts), within
 * the limits Kafka applies: v0-2 hold each partition to its partitionMaxBytes strictly, cutting a
 * first message that does not fit (the client sees a partial message); v3 gives the first
 * message whole (KIP-74) and holds the response to maxBytes.
 */
import type { FetchInput, FetchResult } from '../../metadata/operations.js'
import { ApiKey } from '../../protocol/index.js'
import { decompress } from '../../records/compression.js'
import { downConvert, type LegacyMagic } from '../../records/legacy-messages.js'
import { keyOf } from '../fetch-sessions.js'
import { messageConversions, timedConversion } from '../message-conversions.js'
import { defineHandler, groupByTopic } from './types.js'

const EMPTY_RECORDS = Buffer.alloc(0)
/** Fetch v4 is the first whose responses carry v2 batches. */
const FIRST_V2_BATCH_VERSION = 4

function magicFor(version: number): LegacyMagic {
  return version <= 1 ? 0 : 1
}

/** Replaces each result's v2 batches with messages of the version's format, within Kafka's limits. */
function downConverted(results: FetchResult[], inputs: FetchInput[], version: number, responseMaxBytes: number): FetchResult[] {
  let remaining = version >= 3 ? responseMaxBytes : Number.POSITIVE_INFINITY
  let anyMessage = false
  return results.map((r, i) => {
    if (r.records === null || r.records.length === 0) return r
    const limit = Math.max(0, Math.min(inputs[i].partitionMaxBytes, remaining))
    const converted = timedConversion(() => downConvert(r.records!, magicFor(version), inputs[i].fetchOffset, limit, version >= 3 && !anyMessage, decompress))
    messageConversions.fetchConversions++
    messageConversions.fetchMessagesConverted += converted.messages
    remaining -= converted.records.length
    if (converted.messages > 0) anyMessage = true
    return { ...r, records: converted.records }
  })
}

interface RequestedTopic {
  topic: string
  partitions: ReadonlyArray<{ partition: number; fetchOffset: number; partitionMaxBytes: number }>
}

/**
 * The request's partitions, each once. Kafka reads a fetch's partitions into a map keyed by
 * partition, in request order (FetchRequest.fetchData, a LinkedHashMap): a partition named twice
 * is fetched and answered once, at its first entry's place, with its last entry's offset and
 * limit. So does this.
 */
function distinctPartitions(topics: readonly RequestedTopic[]): FetchInput[] {
  const byPartition = new Map<string, FetchInput>()
  // Bounded by the request: one entry per partition named.
  for (const topic of topics) {
    for (const p of topic.partitions) {
      // Map.set on a key already there keeps its place and takes the new value.
      byPartition.set(keyOf(topic.topic, p.partition), { topic: topic.topic, partition: p.partition, fetchOffset: p.fetchOffset, partitionMaxBytes: p.partitionMaxBytes })
    }
  }
  return [...byPartition.values()]
}

export const fetchHandler = defineHandler({
  apiKey: ApiKey.Fetch,
  minVersion: 0,
  maxVersion: 12,
  async handle(ctx, request, version) {
    const requested = distinctPartitions(request.topics)
    const context = ctx.core.fetchSessions.newContext({
      version,
      sessionId: request.sessionId,
      sessionEpoch: request.sessionEpoch,
      privileged: request.replicaId >= 0,
      partitions: requested,
      forgotten: request.forgottenTopicsData.flatMap((t) => t.partitions.map((partition) => ({ topic: t.topic, partition }))),
    })
    if (context.kind === 'error') return { throttleTimeMs: 0, errorCode: context.errorCode, sessionId: 0, responses: [] }
    const inputs = context.inputs
    const fetched = await ctx.core.fetch(inputs, {
      maxWaitMs: Math.max(0, request.maxWaitMs),
      minBytes: Math.max(0, request.minBytes),
      maxBytes: request.maxBytes,
      isolationLevel: request.isolationLevel === 1 ? 1 : 0,
      signal: ctx.signal,
    })
    const converted = version < FIRST_V2_BATCH_VERSION ? downConverted(fetched, inputs, version, request.maxBytes) : fetched
    const { sessionId, results } = ctx.core.fetchSessions.respond(context, converted)
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId,
      responses: groupByTopic(results.map((r) => ({ topic: r.topic, item: r }))).map(({ name, items }) => ({
        topic: name,
        partitions: items.map((r) => ({
          partitionIndex: r.partition,
          errorCode: r.errorCode,
          highWatermark: r.highWatermark,
          lastStableOffset: r.lastStableOffset,
          logStartOffset: r.logStartOffset,
          // Empty, not null, for read_uncommitted: some clients read null as "field missing".
          abortedTransactions: r.abortedTransactions ?? [],
          preferredReadReplica: -1,
          // Kafka answers an empty record set rather than null when there is nothing to send.
          records: r.records ?? EMPTY_RECORDS,
        })),
      })),
    }
  },
})
