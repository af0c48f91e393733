/**
 * The message browser: one page of records from a partition or from all of them, starting at an
 * offset, a timestamp or the newest records, optionally filtered on a key or value substring.
 * The filter runs here, on the server, and stops after SCANNED_MAX records so a filter that
 * matches nothing cannot read a whole log.
 */
import { decodeFetched } from '../../client/fetch-decoder.js'
import type { KafkaMessage } from '../../client/messages.js'
import { ErrorCode, errorName } from '../../common/error-codes.js'
import { KafkaError } from '../../common/errors.js'
import { HttpError, intIn, type ConsoleBackend } from './api.js'

export const PAGE_SIZE_MAX = 500
export const SCANNED_MAX = 10_000
const FETCH_BYTES_MAX = 1 << 20
/** Fetches per partition per page: with SCANNED_MAX this bounds a page even for tiny batches. */
const FETCHES_PER_PARTITION_MAX = 64
const FILTER_CHARS_MAX = 1_000
const OFFSET_MAX = Number.MAX_SAFE_INTEGER
/** Partitions one `positions` list may name (PARTITIONS_MAX of a topic). */
const POSITIONS_MAX = 10_000

/** positions: each partition's own offset (a next page); a partition not named starts at its oldest. */
export type BrowseStart =
  | { kind: 'offset'; offset: number }
  | { kind: 'positions'; offsets: Map<number, number> }
  | { kind: 'timestamp'; ms: number }
  | { kind: 'newest' }
  | { kind: 'oldest' }

export interface BrowseQuery {
  partition: number | 'all'
  start: BrowseStart
  limit: number
  filter: string | null
}

export function parseBrowse(query: URLSearchParams): BrowseQuery {
  const partitionText = query.get('partition') ?? 'all'
  const partition = partitionText === 'all' ? 'all' : intIn(partitionText, 'partition', 0, 100_000)
  const limit = intIn(query.get('limit'), 'limit (page size)', 1, PAGE_SIZE_MAX, 50)
  const filter = query.get('filter')
  if (filter !== null && filter.length > FILTER_CHARS_MAX) throw new HttpError(400, `filter must be at most ${FILTER_CHARS_MAX} characters`)
  const from = query.get('from') ?? (query.has('offset') ? 'offset' : query.has('timestamp') ? 'timestamp' : 'oldest')
  let start: BrowseStart
  if (from === 'offset') start = { kind: 'offset', offset: intIn(query.get('offset'), 'offset', 0, OFFSET_MAX) }
  else if (from === 'positions') start = { kind: 'positions', offsets: positionsOf(query.get('positions')) }
  else if (from === 'timestamp') start = { kind: 'timestamp', ms: timestampOf(query.get('timestamp')) }
  else if (from === 'newest' || from === 'oldest') start = { kind: from }
  else throw new HttpError(400, `from must be offset, positions, timestamp, newest or oldest, got '${from}'`)
  return { partition, start, limit, filter: filter === '' ? null : filter }
}

/** `0:12,1:40`: partition 0 from offset 12, partition 1 from 40. */
function positionsOf(text: string | null): Map<number, number> {
  const offsets = new Map<number, number>()
  const items = (text ?? '').split(',').filter((item) => item.trim() !== '')
  if (items.length === 0 || items.length > POSITIONS_MAX) throw new HttpError(400, `positions must be 1 to ${POSITIONS_MAX} partition:offset pairs, like 0:12,1:40`)
  for (const item of items) {
    const [partition, offset, extra] = item.split(':')
    if (offset === undefined || extra !== undefined) throw new HttpError(400, `positions must be partition:offset pairs, like 0:12,1:40, got '${item.trim()}'`)
    offsets.set(intIn(partition, "a position's partition", 0, 100_000), intIn(offset, "a position's offset", 0, OFFSET_MAX))
  }
  return offsets
}

function timestampOf(text: string | null): number {
  const t = (text ?? '').trim()
  const ms = /^\d+$/.test(t) ? Number(t) : Date.parse(t)
  if (!Number.isSafeInteger(ms) || ms < 0) throw new HttpError(400, `timestamp must be ms since the epoch or an ISO 8601 date, got '${text ?? ''}'`)
  return ms
}

export interface RenderedBytes {
  /** json: the value parsed as a JSON object or array, pretty-printed; text: UTF-8; hex: neither. */
  format: 'json' | 'text' | 'hex'
  text: string
  bytes: number
}

const UTF8 = new TextDecoder('utf-8', { fatal: true })
// Control characters other than tab, newline and carriage return make a value binary.
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/

export function renderBytes(bytes: Buffer | null): RenderedBytes | null {
  if (bytes === null) return null
  let text: string
  try {
    text = UTF8.decode(bytes)
  } catch {
    return { format: 'hex', text: bytes.toString('hex'), bytes: bytes.length }
  }
  if (CONTROL.test(text)) return { format: 'hex', text: bytes.toString('hex'), bytes: bytes.length }
  const trimmed = text.trim()
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return { format: 'json', text: JSON.stringify(JSON.parse(trimmed), null, 2), bytes: bytes.length }
    } catch {
      // Not JSON after all: shown as text.
    }
  }
  return { format: 'text', text, bytes: bytes.length }
}

interface Found {
  partition: number
  message: KafkaMessage
}

export async function browseMessages(b: ConsoleBackend, topic: string, q: BrowseQuery): Promise<unknown> {
  const offsets = await b.admin.fetchTopicOffsets(topic)
  const chosen = q.partition === 'all' ? offsets : offsets.filter((o) => o.partition === q.partition)
  if (chosen.length === 0) throw new HttpError(404, `topic '${topic}' has no partition ${String(q.partition)}`)
  const byTime = q.start.kind === 'timestamp' ? await b.admin.fetchTopicOffsetsByTimestamp(topic, q.start.ms) : []
  const found: Found[] = []
  let scanned = 0
  const next: Record<number, number> = {}
  const highs = new Map<number, number>()
  for (const o of chosen) {
    const low = Number(o.low)
    const high = Number(o.high)
    let from: number
    highs.set(o.partition, high)
    if (q.start.kind === 'offset') from = q.start.offset
    else if (q.start.kind === 'positions') from = q.start.offsets.get(o.partition) ?? low
    else if (q.start.kind === 'timestamp') from = Number(byTime.find((t) => t.partition === o.partition)?.offset ?? high)
    else if (q.start.kind === 'newest') from = high - q.limit
    else from = low
    from = Math.min(high, Math.max(low, from))
    const read = await readPartition(b, topic, o.partition, from, high, q, SCANNED_MAX - scanned)
    scanned += read.scanned
    next[o.partition] = read.next
    found.push(...read.found.map((message) => ({ partition: o.partition, message })))
  }
  // Across partitions: by time, then partition and offset; the newest page keeps the last ones.
  found.sort((x, y) => Number(x.message.timestamp) - Number(y.message.timestamp) || x.partition - y.partition || Number(x.message.offset) - Number(y.message.offset))
  const page = q.start.kind === 'newest' ? found.slice(-q.limit) : found.slice(0, q.limit)
  // A partition whose records were read but left off this page starts the next one at the first
  // left off, so paging on with `next` skips none.
  if (q.start.kind !== 'newest') {
    for (const { partition, message } of found.slice(q.limit)) next[partition] = Math.min(next[partition], Number(message.offset))
  }
  return {
    topic,
    records: page.map(({ partition, message }) => ({
      partition,
      offset: Number(message.offset),
      timestamp: Number(message.timestamp),
      key: renderBytes(message.key),
      value: renderBytes(message.value),
      headers: Object.entries(message.headers ?? {}).flatMap(([name, v]) => (Array.isArray(v) ? v : [v]).map((one) => ({ name, value: renderBytes(one === undefined ? null : Buffer.from(one)) }))),
    })),
    scanned,
    scannedMax: SCANNED_MAX,
    truncated: scanned >= SCANNED_MAX,
    next,
    /** Records are left past `next` in some partition: there is a next page. */
    more: [...highs].some(([partition, high]) => next[partition] < high),
  }
}

async function readPartition(
  b: ConsoleBackend,
  topic: string,
  partition: number,
  from: number,
  high: number,
  q: BrowseQuery,
  scanBudget: number,
): Promise<{ found: KafkaMessage[]; scanned: number; next: number }> {
  const found: KafkaMessage[] = []
  let scanned = 0
  let position = from
  for (let i = 0; i < FETCHES_PER_PARTITION_MAX && position < high && found.length < q.limit && scanned < scanBudget; i++) {
    const [result] = await b.cluster.fetch([{ topic, partition, fetchOffset: position, partitionMaxBytes: FETCH_BYTES_MAX }], {
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: FETCH_BYTES_MAX,
      isolationLevel: 0,
    })
    if (result.errorCode !== ErrorCode.NONE) throw new KafkaError(result.errorCode, `${errorName(result.errorCode)} reading ${topic}-${partition} at ${position}`)
    const decoded = decodeFetched(result.records, position)
    if (decoded.nextOffset <= position) break
    for (const message of decoded.messages) {
      if (found.length >= q.limit || scanned >= scanBudget || Number(message.offset) >= high) break
      scanned++
      position = Number(message.offset) + 1
      if (q.filter === null || contains(message.key, q.filter) || contains(message.value, q.filter)) found.push(message)
    }
    if (found.length < q.limit && scanned < scanBudget) position = Math.max(position, decoded.nextOffset)
  }
  return { found, scanned, next: position }
}

function contains(bytes: Buffer | null, needle: string): boolean {
  return bytes !== null && bytes.includes(needle)
}
