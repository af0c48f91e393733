/**
 * Message format conversions on this thread (one shard, one broker), counted as Kafka's
 * ProduceMessageConversionsPerSec, FetchMessageConversionsPerSec and MessageConversionsTimeMs
 * count them: messages converted, and the time spent converting. A plain object of counters that
 * only grow, so a metrics reader on the same thread takes differences between two reads.
 *
 * Conversions happen only for clients of Produce v0-2 (message formats v0/v1, up-converted to v2
 * batches) and Fetch v0-3 (v2 batches down-converted to v0/v1 messages, decompressed); a client
 * of Produce v3+ and Fetch v4+ costs none.
 */
export interface MessageConversionCounters {
  /** Produce requests' partitions whose message sets were up-converted. */
  produceConversions: number
  /** Messages up-converted from v0/v1 to v2 records. */
  produceMessagesConverted: number
  /** Fetch responses' partitions whose batches were down-converted. */
  fetchConversions: number
  /** Messages down-converted from v2 records to v0/v1. */
  fetchMessagesConverted: number
  /** Time spent converting, both ways, in nanoseconds. */
  conversionTimeNs: number
}

export const messageConversions: MessageConversionCounters = {
  produceConversions: 0,
  produceMessagesConverted: 0,
  fetchConversions: 0,
  fetchMessagesConverted: 0,
  conversionTimeNs: 0,
}

/** Runs a conversion and adds its time to the counters. */
export function timedConversion<T>(convert: () => T): T {
  const started = process.hrtime.bigint()
  try {
    return convert()
  } finally {
    messageConversions.conversionTimeNs += Number(process.hrtime.bigint() - started)
  }
}
