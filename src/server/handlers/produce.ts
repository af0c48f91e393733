/**
 * Produce v0-9. v3+ carry v2 record batches, the one format the log stores; v0-2 carry message
 * sets of formats v0/v1 (sarama before 0.11, Burrow, old Java clients), whose CRC-32s are checked
 * and which are up-converted to one v2 batch per partition before they reach the core (counted in
 * ../message-conversions.ts). The server also checks what the core cannot see: the acks value,
 * null record sets. A transactional produce (v3+) carries its transactional id to the core, which
 * verifies with the transaction coordinator that each partition is in the producer's transaction
 * (KIP-890 part 1) before its batches open the transaction there.
 *
 * acks=0 gets no response. If any partition failed, the connection is closed instead, as Kafka
 * does, since closing is the only signal a fire-and-forget producer can receive. An acks=0 produce
 * is also exclusive: the connection starts nothing else until it has been appended, so the
 * requests after it (another produce to the same partition, a ListOffsets) see its records.
 */
import { ErrorCode } from '../../common/error-codes.js'
import type { Acks, ProduceInput, ProduceResult } from '../../metadata/operations.js'
import { ApiKey } from '../../protocol/index.js'
import { decompress } from '../../records/compression.js'
import { decodeMessageSet, upConvert } from '../../records/legacy-messages.js'
import { messageConversions, timedConversion } from '../message-conversions.js'
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

/** A v0/v1 message set as one v2 batch, or the error its partition gets. */
function upConverted(records: Buffer): Buffer | ProduceResult {
  try {
    return timedConversion(() => {
      const messages = decodeMessageSet(records, decompress)
      const batch = upConvert(messages)
      messageConversions.produceConversions++
      messageConversions.produceMessagesConverted += messages.length
      return batch
    })
  } catch (error) {
    const errorCode = (error as { errorCode?: unknown }).errorCode
    return refused(typeof errorCode === 'number' ? errorCode : ErrorCode.CORRUPT_MESSAGE, error instanceof Error ? error.message : String(error))
  }
}

function isAcks(acks: number): acks is Acks {
  return acks === -1 || acks === 0 || acks === 1
}

export const produceHandler = defineHandler({
  apiKey: ApiKey.Produce,
  minVersion: 0,
  maxVersion: 9,
  exclusive: (request) => request.acks === 0,
  // core.produce settles once every partition's append has run (acks=0 too), and the log copies
  // the records into its file as it appends: no view of the frame outlives the handler.
  frameDoneWhenHandled: true,
  async handle(ctx, request, version) {
    const slots: PartitionSlot[] = []
    const inputs: ProduceInput[] = []
    const forCore: PartitionSlot[] = []
    const acksValid = isAcks(request.acks)
    for (const topic of request.topicData) {
      for (const partition of topic.partitionData) {
        const slot: PartitionSlot = { topic: topic.name, index: partition.index, result: null }
        slots.push(slot)
        if (!acksValid) slot.result = refused(ErrorCode.INVALID_REQUIRED_ACKS, `acks must be -1, 0 or 1, not ${request.acks}`)
        else if (partition.records === null) slot.result = refused(ErrorCode.CORRUPT_MESSAGE, 'Null record set')
        else {
          const records = version < FIRST_V2_BATCH_VERSION ? upConverted(partition.records) : partition.records
          if (Buffer.isBuffer(records)) {
            inputs.push({ topic: topic.name, partition: partition.index, records, transactionalId: request.transactionalId })
            forCore.push(slot)
          } else slot.result = records
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
    return { throttleTimeMs: 0, responses: responsesBySlot(request.topicData, slots) }
  },
})

function partitionResponse(slot: PartitionSlot): {
  index: number
  errorCode: number
  baseOffset: number
  logAppendTimeMs: number
  logStartOffset: number
  recordErrors: never[]
  errorMessage: string | null
} {
  const result = slot.result!
  return {
    index: slot.index,
    errorCode: result.errorCode,
    baseOffset: result.baseOffset,
    logAppendTimeMs: result.logAppendTimeMs,
    logStartOffset: result.logStartOffset,
    recordErrors: [],
    errorMessage: result.errorCode === ErrorCode.NONE ? null : result.errorMessage,
  }
}

/**
 * The answer per topic, in the order topics first appear. When no topic is named twice (every
 * client's case) the request's own grouping is the answer's, with no map; a repeated topic's
 * partitions are gathered under its first entry, as Kafka's map of partitions does.
 */
function responsesBySlot(
  topicData: ReadonlyArray<{ name: string; partitionData: readonly unknown[] }>,
  slots: PartitionSlot[],
): Array<{ name: string; partitionResponses: ReturnType<typeof partitionResponse>[] }> {
  const distinct = topicData.length <= 1 || new Set(topicData.map((topic) => topic.name)).size === topicData.length
  if (!distinct) {
    return groupByTopic(slots.map((s) => ({ topic: s.topic, item: s }))).map(({ name, items }) => ({ name, partitionResponses: items.map(partitionResponse) }))
  }
  const responses: Array<{ name: string; partitionResponses: ReturnType<typeof partitionResponse>[] }> = []
  let next = 0
  // Bounded by the request: one slot per partition of each topic, in that order.
  for (const topic of topicData) {
    const partitionResponses = new Array<ReturnType<typeof partitionResponse>>(topic.partitionData.length)
    for (let i = 0; i < partitionResponses.length; i++) partitionResponses[i] = partitionResponse(slots[next++])
    responses.push({ name: topic.name, partitionResponses })
  }
  return responses
}
