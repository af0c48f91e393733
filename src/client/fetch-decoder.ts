/**
 * Turns a fetch's raw batches into kafkajs messages. A fetch returns whole batches, so the first
 * may start before the offset asked for (compressed batches always do): those records are
 * skipped. Control batches (transaction markers) are skipped but still move the position on.
 */
import { decompress } from '../records/compression.js'
import { decodeRecords, isControlBatch, iterateBatches, readBatchHeader } from '../records/record-batch.js'
import { fromRecordHeaders, type KafkaMessage } from './messages.js'

export interface DecodedFetch {
  messages: KafkaMessage[]
  /**
   * The offset after the last whole batch seen (at least `fromOffset`): where the next fetch
   * starts once every message is processed, even when compaction left the batch's tail empty.
   */
  nextOffset: number
}

export function decodeFetched(records: Buffer | null, fromOffset: number): DecodedFetch {
  const out: DecodedFetch = { messages: [], nextOffset: fromOffset }
  if (records === null || records.length === 0) return out
  // One copy per fetch: keys and values are views into it, and the core's buffer may be reused.
  const buf = Buffer.from(records)
  for (const span of iterateBatches(buf)) {
    const header = readBatchHeader(buf, span.pos)
    const lastOffset = header.baseOffset + header.lastOffsetDelta
    if (lastOffset < fromOffset) continue
    out.nextOffset = Math.max(out.nextOffset, lastOffset + 1)
    if (isControlBatch(header.attributes)) continue
    for (const record of decodeRecords(buf, span.pos, decompress)) {
      if (record.offset < fromOffset) continue
      out.messages.push({
        key: record.key,
        value: record.value,
        timestamp: String(record.timestampMs),
        // kafkajs reports the record's own attributes byte, which v2 records leave 0.
        attributes: 0,
        offset: String(record.offset),
        headers: fromRecordHeaders(record.headers),
      })
    }
  }
  return out
}
