/**
 * The message shapes the embedded client shares with kafkajs, so code moves between an embedded
 * broker and a remote one unchanged: keys and values as Buffer or string, headers as an object,
 * offsets and timestamps as decimal strings (kafkajs keeps int64s as strings).
 */
import type { RecordHeader } from '../records/record-batch.js'

export type HeaderValue = Buffer | string | Array<Buffer | string> | undefined

/** kafkajs's IHeaders: a repeated header key is an array of its values, in record order. */
export interface IHeaders {
  [key: string]: HeaderValue
}

/** What `producer.send` takes (kafkajs's Message). */
export interface Message {
  key?: Buffer | string | null
  value: Buffer | string | null
  partition?: number
  headers?: IHeaders
  /** Milliseconds since the epoch as a string (kafkajs) or a number; default now. */
  timestamp?: string | number
}

/** kafkajs's RecordMetadata, one per partition a send wrote to. */
export interface RecordMetadata {
  topicName: string
  partition: number
  errorCode: number
  /** The first record's offset; '-1' when unknown (acks=0). */
  baseOffset: string
  /** '-1' unless the topic uses LogAppendTime. */
  logAppendTime: string
  logStartOffset: string
}

/** What the consumer hands to eachMessage/eachBatch (kafkajs's KafkaMessage). */
export interface KafkaMessage {
  key: Buffer | null
  value: Buffer | null
  timestamp: string
  attributes: number
  offset: string
  /** Header values are Buffers; a repeated key collects into an array. */
  headers: Record<string, Buffer | Buffer[] | undefined>
}

/** The compression codes kafkajs calls CompressionTypes. */
export const CompressionTypes = { None: 0, GZIP: 1, Snappy: 2, LZ4: 3, ZSTD: 4 } as const
export type CompressionTypeCode = (typeof CompressionTypes)[keyof typeof CompressionTypes]

export function toBuffer(value: Buffer | string | null | undefined): Buffer | null {
  if (value === null || value === undefined) return null
  if (Buffer.isBuffer(value)) return value
  if (typeof value === 'string') return Buffer.from(value, 'utf8')
  throw new TypeError(`a message key, value or header must be a Buffer, a string or null, got ${typeof value}`)
}

/** Flattens kafkajs headers into the record format's ordered list. */
export function toRecordHeaders(headers: IHeaders | undefined): RecordHeader[] {
  if (headers === undefined) return []
  const out: RecordHeader[] = []
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined) continue
    for (const one of Array.isArray(value) ? value : [value]) out.push({ key, value: toBuffer(one) })
  }
  return out
}

/** Groups a record's headers back into kafkajs's object form (null values become empty buffers). */
export function fromRecordHeaders(headers: RecordHeader[]): Record<string, Buffer | Buffer[] | undefined> {
  const out: Record<string, Buffer | Buffer[] | undefined> = {}
  for (const { key, value } of headers) {
    const buf = value ?? Buffer.alloc(0)
    const existing = out[key]
    if (existing === undefined) out[key] = buf
    else if (Array.isArray(existing)) existing.push(buf)
    else out[key] = [existing, buf]
  }
  return out
}

/** A message timestamp in ms: the given one, else now. */
export function timestampMs(timestamp: string | number | undefined, nowMs: number): number {
  if (timestamp === undefined) return nowMs
  const value = typeof timestamp === 'number' ? timestamp : Number(timestamp)
  if (!Number.isSafeInteger(value)) throw new TypeError(`message timestamp must be an integer ms value, got ${String(timestamp)}`)
  return value
}

/** Parses a kafkajs offset string (or number) into a safe integer. */
export function parseOffset(offset: string | number, what = 'offset'): number {
  const value = typeof offset === 'number' ? offset : Number(offset)
  if (!Number.isSafeInteger(value)) throw new TypeError(`${what} must be an integer, got ${String(offset)}`)
  return value
}
