/**
 * The oracle: availability and no silent loss. During the run it logs every frame the broker
 * handles that could legitimately remove data of a pre-created partition or move its log start
 * (DeleteTopics, DeleteRecords, AlterConfigs, IncrementalAlterConfigs, and CreatePartitions for
 * the record). Afterwards it checks every pre-created partition: still there, still led by the
 * leader it had, readable from its log start, and holding every known record at or after that
 * start, unless a logged request explains the difference.
 */
import { ErrorCode, errorName } from '../../src/common/error-codes.js'
import { decodeFetched } from '../../src/client/fetch-decoder.js'
import { OffsetSpec, type KafkaClient } from '../../src/client/wire/kafka-client.js'
import { apiByKey } from '../../src/protocol/index.js'
import { dataChangesOf, topicsNamed } from './changes.js'
import type { Frame } from './frames.js'
import { handledRequest } from './predict.js'
import type { KnownPartition } from './world.js'

export interface OracleEntry {
  frame: number
  api: string
  apiVersion: number
  /** The decoded body (byte fields shown by their length). */
  body: unknown
}

export interface PartitionVerdict {
  topic: string
  partition: number
  ok: boolean
  /** What was found: "intact", "deleted by a logged DeleteTopics", or what is wrong. */
  verdict: string
  logStartOffset: number
  highWatermark: number
  knownRecords: number
  knownRecordsReadBack: number
}

function jsonSafe(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_key, v: unknown) => (v !== null && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' ? `<${(v as { data: number[] }).data.length} bytes>` : v)))
}

export class Oracle {
  /** Logged frames that name a pre-created topic, in full. */
  readonly entries: OracleEntry[] = []
  /** Every logged frame, by API. */
  readonly countsByApi = new Map<string, number>()
  readonly #precreated: ReadonlySet<string>
  /** Topic name -> the first logged frame that deleted it. */
  readonly #deletedTopics = new Map<string, number>()
  /** topic/partition -> the highest offset a DeleteRecords asked for (Infinity for -1: the high watermark). */
  readonly #deleteRecordsUpTo = new Map<string, number>()
  readonly #configsChanged = new Set<string>()

  constructor(known: readonly KnownPartition[]) {
    this.#precreated = new Set(known.map((k) => k.topic))
  }

  /** A pre-created topic no logged request deleted, or null when none is left. */
  standingTopic(): string | null {
    for (const name of this.#precreated) if (!this.#deletedTopics.has(name)) return name
    return null
  }

  /** Logs a frame the broker will handle, if it is one that can remove data. */
  record(frame: Frame): void {
    const changes = dataChangesOf(frame.prediction)
    const p = handledRequest(frame.prediction)
    if (!changes.logged || p === null) return
    for (const name of changes.deleted) if (this.#precreated.has(name) && !this.#deletedTopics.has(name)) this.#deletedTopics.set(name, frame.index)
    for (const { topic, partition, upTo } of changes.trimmed) {
      if (!this.#precreated.has(topic)) continue
      const key = `${topic}/${partition}`
      this.#deleteRecordsUpTo.set(key, Math.max(this.#deleteRecordsUpTo.get(key) ?? 0, upTo))
    }
    for (const name of changes.reconfigured) if (this.#precreated.has(name)) this.#configsChanged.add(name)
    // Named by the API that handles it, which a spliced header may have changed.
    const api = apiByKey(p.apiKey)?.name ?? frame.apiName
    this.countsByApi.set(api, (this.countsByApi.get(api) ?? 0) + 1)
    if (topicsNamed(changes).some((name) => this.#precreated.has(name))) this.entries.push({ frame: frame.index, api, apiVersion: p.apiVersion, body: jsonSafe(p.body) })
  }

  /** Checks every pre-created partition against what the log allows. */
  async check(client: KafkaClient, known: readonly KnownPartition[]): Promise<PartitionVerdict[]> {
    const names = [...this.#precreated]
    const metadata = await client.metadata(names)
    const verdicts: PartitionVerdict[] = []
    for (const k of known) {
      const base = { topic: k.topic, partition: k.partition, logStartOffset: -1, highWatermark: -1, knownRecords: k.records.length, knownRecordsReadBack: 0 }
      const deletedBy = this.#deletedTopics.get(k.topic)
      if (deletedBy !== undefined) {
        verdicts.push({ ...base, ok: true, verdict: `deleted by a logged DeleteTopics (frame ${deletedBy})` })
        continue
      }
      const topic = metadata.topics.find((t) => t.name === k.topic)
      const info = topic?.partitions.find((p) => p.partition === k.partition)
      if (topic === undefined || topic.errorCode !== ErrorCode.NONE || info === undefined) {
        verdicts.push({ ...base, ok: false, verdict: `gone without a logged DeleteTopics (${errorName(topic?.errorCode ?? -1)})` })
        continue
      }
      if (info.leader < 0 || info.errorCode !== ErrorCode.NONE) {
        verdicts.push({ ...base, ok: false, verdict: `not led (leader ${info.leader}, ${errorName(info.errorCode)})` })
        continue
      }
      verdicts.push(await this.#checkRecords(client, k, base, info.leaderEpoch))
    }
    return verdicts
  }

  async #checkRecords(client: KafkaClient, k: KnownPartition, base: Omit<PartitionVerdict, 'ok' | 'verdict'>, leaderEpoch: number): Promise<PartitionVerdict> {
    const [earliest, latest] = await client.listOffsets([
      { topic: k.topic, partition: k.partition, timestamp: OffsetSpec.EARLIEST },
      { topic: k.topic, partition: k.partition, timestamp: OffsetSpec.LATEST },
    ])
    if (earliest.errorCode !== ErrorCode.NONE || latest.errorCode !== ErrorCode.NONE) {
      return { ...base, ok: false, verdict: `offsets unreadable (${errorName(earliest.errorCode)}, ${errorName(latest.errorCode)})` }
    }
    const logStart = earliest.offset
    const highWatermark = latest.offset
    const withOffsets = { ...base, logStartOffset: logStart, highWatermark }
    const configsChanged = this.#configsChanged.has(k.topic)
    const allowedStart = configsChanged ? Infinity : (this.#deleteRecordsUpTo.get(`${k.topic}/${k.partition}`) ?? 0)
    const lastKnown = k.records[k.records.length - 1].offset
    const problems: string[] = []
    if (leaderEpoch !== k.leaderEpoch) problems.push(`leader epoch moved from ${k.leaderEpoch} to ${leaderEpoch} (a shard died or went silent)`)
    if (logStart > allowedStart) problems.push(`log start ${logStart} is past anything a logged request allows (${allowedStart})`)
    if (highWatermark <= lastKnown) problems.push(`high watermark ${highWatermark} is below known offset ${lastKnown}`)
    const read = await this.#read(client, k, logStart, Math.min(highWatermark, lastKnown + 1))
    if (typeof read === 'string') return { ...withOffsets, ok: false, verdict: read }
    let readBack = 0
    for (const record of k.records) {
      if (record.offset < logStart) continue
      const found = read.get(record.offset)
      if (found === undefined) {
        // Compaction may drop a record once cleanup.policy could have changed; nothing else may.
        if (!configsChanged) problems.push(`known record at offset ${record.offset} is missing`)
      } else if (found.key !== record.key || found.value !== record.value) {
        problems.push(`offset ${record.offset} holds ${found.key}=${found.value.slice(0, 20)}, not ${record.key}`)
      } else {
        readBack++
      }
    }
    const ok = problems.length === 0
    const explained = logStart > 0 || readBack < k.records.length ? ' (as logged requests allow)' : ''
    return { ...withOffsets, ok, verdict: ok ? `intact${explained}` : problems.slice(0, 5).join('; '), knownRecordsReadBack: readBack }
  }

  /** The records in [from, to), by offset; a string says why they could not be read. */
  async #read(client: KafkaClient, k: KnownPartition, from: number, to: number): Promise<Map<number, { key: string; value: string }> | string> {
    const out = new Map<number, { key: string; value: string }>()
    let offset = from
    // Bounded: each round moves the offset on by at least one batch, or stops.
    for (let round = 0; offset < to && round < 10_000; round++) {
      const [result] = await client.fetch([{ topic: k.topic, partition: k.partition, fetchOffset: offset }], { maxWaitMs: 0, minBytes: 0 })
      if (result.errorCode !== ErrorCode.NONE) return `unreadable at offset ${offset}: ${errorName(result.errorCode)}`
      const decoded = decodeFetched(result.records, offset)
      for (const m of decoded.messages) out.set(Number(m.offset), { key: m.key?.toString() ?? '', value: m.value?.toString() ?? '' })
      if (decoded.nextOffset <= offset) return `no progress reading at offset ${offset} (high watermark ${result.highWatermark})`
      offset = decoded.nextOffset
    }
    return out
  }
}
