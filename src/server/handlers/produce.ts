/**
 * Produce v0-9. Only v3+ carry v2 record batches, the one format the log stores; v0-2 are still
 * declared because librdkafka (2.0.x) compresses with gzip, snappy or lz4 only when the broker
 * lists Produce v0, as every Kafka before 4.0 does. Clients pick the highest version both sides
 * know, so v0-2 requests come only from clients too old to write v2 batches, and each of their
 * partitions is refused with UNSUPPORTED_FOR_MESSAGE_FORMAT. The server also checks what the core
 * cannot see: the acks value, null record sets and a transactional id.
 *
 * A transactional produce is refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED on every
 * partition, as Kafka answers a transactional id the producer may not use: transactions are not
 * offered yet (InitProducerId with a transactional id fails too), and clients treat this code as
 * fatal instead of retrying.
 *
 * acks=0 gets no response. If any partition failed, the connection is closed instead, as Kafka
 * does, since closing is the only signal a fire-and-forget producer can receive. An acks=0 produce
 * is also exclusive: the connection starts nothing else until it has been appended, so the
 * requests after it (another produce to the same partition, a ListOffsets) see its records.
 */
import { ErrorCode } from '../../common/error-codes.js'
import type { Acks, ProduceInput, ProduceResult } from '../../metadata/operations.js'
import { ApiKey } from '../../protocol/index.js'
import { CLOSE_CONNECTION, defineHandler, groupByTopic, NO_RESPONSE } from './types.js'

/** Produce v3 introduced record batches (message format v2). */
const FIRST_V2_BATCH_VERSION = 3

interface PartitionSlot {
  topic: string
  index: number
  /** Set when the server refuses the partition itself; otherwise the core's answer fills it. */
  result: ProduceResult | null
}

function refused(errorCode: number, errorMessage: string): ProduceResult {
  return { errorCode, errorMessage, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1 }
}

function isAcks(acks: number): acks is Acks {
  return acks === -1 || acks === 0 || acks === 1
}

export const produceHandler = defineHandler({
  apiKey: ApiKey.Produce,
  minVersion: 0,
  maxVersion: 9,
  exclusive: (request) => request.acks === 0,
  async handle(ctx, request, version) {
    const slots: PartitionSlot[] = []
    const inputs: ProduceInput[] = []
    const forCore: PartitionSlot[] = []
    const acksValid = isAcks(request.acks)
    for (const topic of request.topicData) {
      for (const partition of topic.partitionData) {
        const slot: PartitionSlot = { topic: topic.name, index: partition.index, result: null }
        slots.push(slot)
        if (version < FIRST_V2_BATCH_VERSION) {
          slot.result = refused(ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT, `Produce v${version} carries message format v0/v1, which this broker does not store`)
        } else if (!acksValid) slot.result = refused(ErrorCode.INVALID_REQUIRED_ACKS, `acks must be -1, 0 or 1, not ${request.acks}`)
        else if (request.transactionalId !== null) {
          slot.result = refused(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, 'Transactions are not supported by this broker')
        } else if (partition.records === null) slot.result = refused(ErrorCode.CORRUPT_MESSAGE, 'Null record set')
        else {
          inputs.push({ topic: topic.name, partition: partition.index, records: partition.records })
          forCore.push(slot)
        }
      }
    }
    if (inputs.length > 0) {
      const results = await ctx.core.produce(inputs, request.acks as Acks, request.timeoutMs)
      results.forEach((result, i) => (forCore[i].result = result))
    }
    if (acksValid && request.acks === 0) {
      return slots.some((s) => s.result!.errorCode !== ErrorCode.NONE) ? CLOSE_CONNECTION : NO_RESPONSE
    }
    return {
      throttleTimeMs: 0,
      responses: groupByTopic(slots.map((s) => ({ topic: s.topic, item: s }))).map(({ name, items }) => ({
        name,
        partitionResponses: items.map((s) => ({
          index: s.index,
          errorCode: s.result!.errorCode,
          baseOffset: s.result!.baseOffset,
          logAppendTimeMs: s.result!.logAppendTimeMs,
          logStartOffset: s.result!.logStartOffset,
          recordErrors: [],
          errorMessage: s.result!.errorCode === ErrorCode.NONE ? null : s.result!.errorMessage,
        })),
      })),
    }
  },
})
