/**
 * The embedded producer, shaped like kafkajs's: `send` / `sendBatch` partition the messages
 * (murmur2 for keys, sticky or round-robin for the rest, or the caller's function), build one v2
 * record batch per partition, and hand them to the broker core in one call. Retriable errors (a
 * leader moving during a failover, a short ISR) are retried with backoff, resending the very same
 * bytes, so an idempotent producer's batch is deduplicated by the partition if the first attempt
 * did land.
 */
import type { Acks, KafkaOperations, PartitionMetadata, ProduceResult } from '../metadata/operations.js'
import { assert } from '../common/assert.js'
import { ErrorCode } from '../common/error-codes.js'
import { KafkaError } from '../common/errors.js'
import { compress } from '../records/compression.js'
import { CompressionType, encodeBatch, type RecordInput } from '../records/record-batch.js'
import { Instrumentation, type InstrumentationEvent, type RemoveListener } from './events.js'
import { timestampMs, toBuffer, toRecordHeaders, type CompressionTypeCode, type Message, type RecordMetadata } from './messages.js'
import { Partitioner, type PartitionerOption } from './partitioner.js'
import { backoffMs, isRetriable, kafkaError, resolveRetry, sleep, type ResolvedRetry, type RetryOptions } from './retry.js'
import { TopicMetadataCache } from './topic-metadata.js'

export type AcksOption = 'all' | -1 | 0 | 1

/** kafkajs's partitioner factory: called once, returns the function that picks each partition. */
export type CreatePartitioner = () => (args: {
  topic: string
  partitionMetadata: Array<{ partitionId: number; leader: number; replicas: number[]; isr: number[]; partitionErrorCode: number }>
  message: Message
}) => number

export interface ProducerOptions {
  /** Default 'all' (-1), as kafkajs. */
  acks?: AcksOption
  /** How long the broker may wait for the ISR with acks=-1; default 30,000 ms. */
  timeout?: number
  /** Exactly-once per partition within a session: needs acks 'all'. */
  idempotent?: boolean
  compression?: CompressionTypeCode
  /** Partitioning: 'default' (murmur2 + sticky), 'round-robin', or a function of the record. */
  partitioner?: PartitionerOption
  /** kafkajs-style alternative to `partitioner`; wins when both are given. */
  createPartitioner?: CreatePartitioner
  retry?: RetryOptions
  /** Let sends to a missing topic create it (when the broker allows); default true. */
  allowAutoTopicCreation?: boolean
  /** How long partition counts are trusted before being asked again; default 300,000 ms. */
  metadataMaxAge?: number
}

export interface ProducerRecord {
  topic: string
  messages: Message[]
  acks?: AcksOption
  timeout?: number
  compression?: CompressionTypeCode
}

export interface ProducerBatch {
  topicMessages: Array<{ topic: string; messages: Message[] }>
  acks?: AcksOption
  timeout?: number
  compression?: CompressionTypeCode
}

/** A partition's batch: encoded once, resent byte for byte on retries. */
interface PendingBatch {
  topic: string
  partition: number
  bytes: Buffer
  recordCount: number
  /** The baseSequence written into the batch, or -1 when not idempotent. */
  baseSequence: number
}

const SEQUENCE_MAX = 0x7fffffff
/** Kafka's producer default transaction.timeout.ms; the broker ignores it without a transactional id. */
const TRANSACTION_TIMEOUT_MS = 60_000

export const ProducerEvents = {
  CONNECT: 'producer.connect',
  DISCONNECT: 'producer.disconnect',
  REQUEST_RETRY: 'producer.request_retry',
} as const

export function normalizeAcks(acks: AcksOption): Acks {
  if (acks === 'all' || acks === -1) return -1
  if (acks === 0 || acks === 1) return acks
  throw new RangeError(`acks must be 'all', -1, 0 or 1, got ${String(acks)}`)
}

export class Producer {
  readonly events = ProducerEvents
  readonly #core: KafkaOperations
  readonly #acks: Acks
  readonly #timeoutMs: number
  readonly #idempotent: boolean
  readonly #compression: CompressionTypeCode
  readonly #retry: ResolvedRetry
  readonly #partitioner: Partitioner
  readonly #metadata: TopicMetadataCache
  readonly #instrumentation = new Instrumentation(ProducerEvents)
  /** Idempotence: the producer id and epoch, once fetched. */
  #producerId = -1
  #producerEpoch = -1
  /** Idempotence: the next sequence per "topic\0partition". */
  readonly #sequences = new Map<string, number>()
  /** Idempotent sends run one at a time, so sequences reach each partition in order. */
  #serial: Promise<unknown> = Promise.resolve()
  #disconnected = false

  constructor(core: KafkaOperations, options: ProducerOptions = {}) {
    this.#core = core
    this.#acks = normalizeAcks(options.acks ?? 'all')
    this.#timeoutMs = options.timeout ?? 30_000
    this.#idempotent = options.idempotent ?? false
    if (this.#idempotent && this.#acks !== -1) {
      throw new KafkaError(ErrorCode.INVALID_REQUIRED_ACKS, "an idempotent producer needs acks 'all' (-1)")
    }
    this.#compression = options.compression ?? CompressionType.NONE
    this.#retry = resolveRetry(options.retry)
    this.#partitioner = new Partitioner(adaptPartitioner(options))
    this.#metadata = new TopicMetadataCache(core, this.#retry, {
      maxAgeMs: options.metadataMaxAge ?? 300_000,
      allowAutoCreate: options.allowAutoTopicCreation ?? true,
    })
  }

  /** Nothing to dial in process; kept so kafkajs code runs unchanged. */
  async connect(): Promise<void> {
    this.#disconnected = false
    this.#instrumentation.emit(ProducerEvents.CONNECT, null)
  }

  /** Waits for sends in flight (idempotent ones), then refuses new ones. */
  async disconnect(): Promise<void> {
    if (this.#disconnected) return
    this.#disconnected = true
    await this.#serial.catch(() => {})
    this.#instrumentation.emit(ProducerEvents.DISCONNECT, null)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.disconnect()
  }

  isIdempotent(): boolean {
    return this.#idempotent
  }

  on(type: string, listener: (event: InstrumentationEvent<unknown>) => void): RemoveListener {
    return this.#instrumentation.on(type, listener)
  }

  async send(record: ProducerRecord): Promise<RecordMetadata[]> {
    const { topic, messages, ...rest } = record
    return this.sendBatch({ topicMessages: [{ topic, messages }], ...rest })
  }

  async sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
    if (this.#disconnected) throw new KafkaError(ErrorCode.NETWORK_EXCEPTION, 'the producer is disconnected')
    if (!this.#idempotent) return this.#sendNow(batch)
    const run = this.#serial.then(() => this.#sendNow(batch))
    this.#serial = run.catch(() => {})
    return run
  }

  async #sendNow(batch: ProducerBatch): Promise<RecordMetadata[]> {
    const acks = batch.acks === undefined ? this.#acks : normalizeAcks(batch.acks)
    if (this.#idempotent && acks !== -1) throw new KafkaError(ErrorCode.INVALID_REQUIRED_ACKS, "an idempotent producer needs acks 'all' (-1)")
    const compression = batch.compression ?? this.#compression
    const grouped = await this.#partitionMessages(batch.topicMessages)
    if (grouped.length === 0) return []
    if (this.#idempotent && this.#producerId < 0) await this.#initProducerId(-1, -1)
    const pending = grouped.map((g) => this.#encode(g.topic, g.partition, g.records, compression))
    return this.#produceWithRetries(pending, acks, batch.timeout ?? this.#timeoutMs)
  }

  /** Picks each message's partition; messages keep their order within a partition. */
  async #partitionMessages(topicMessages: ProducerBatch['topicMessages']): Promise<Array<{ topic: string; partition: number; records: Message[] }>> {
    const groups = new Map<string, Array<{ topic: string; partition: number; records: Message[] } | undefined>>()
    for (const { topic, messages } of topicMessages) {
      if (typeof topic !== 'string' || topic === '') throw new TypeError('every send needs a topic name')
      if (!Array.isArray(messages)) throw new TypeError(`messages for ${topic} must be an array`)
      if (messages.length === 0) continue
      const partitions = await this.#metadata.partitions(topic)
      const count = partitions.length
      // Indexed by partition: this loop runs once per record, so it avoids a string key per record.
      let byPartition = groups.get(topic)
      if (byPartition === undefined) groups.set(topic, (byPartition = new Array(count)))
      for (const message of messages) {
        const partition = message.partition ?? this.#choosePartition(topic, partitions, message)
        if (!Number.isInteger(partition) || partition < 0 || partition >= count) {
          throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `partition ${partition} does not exist in ${topic} (${count} partitions)`)
        }
        const group = (byPartition[partition] ??= { topic, partition, records: [] })
        group.records.push(message)
      }
      // KIP-480: this topic's sticky batch is now going out, so the next send sticks elsewhere.
      this.#partitioner.onNewBatch(topic, count)
    }
    return [...groups.values()].flatMap((byPartition) => byPartition.filter((group) => group !== undefined))
  }

  #choosePartition(topic: string, partitions: PartitionMetadata[], message: Message): number {
    const key = toBuffer(message.key)
    const value = toBuffer(message.value)
    // The extra fields ride along for a kafkajs-style partitioner (see adaptPartitioner).
    const args = { topic, key, value, partitionCount: partitions.length, metadata: partitions, message }
    return this.#partitioner.partition(args)
  }

  #encode(topic: string, partition: number, messages: Message[], compression: CompressionTypeCode): PendingBatch {
    const nowMs = Date.now()
    const timestamps = messages.map((m) => timestampMs(m.timestamp, nowMs))
    const baseTimestamp = timestamps[0]
    const records: RecordInput[] = messages.map((m, i) => ({
      key: toBuffer(m.key),
      value: toBuffer(m.value),
      headers: toRecordHeaders(m.headers),
      timestampDelta: timestamps[i] - baseTimestamp,
    }))
    const id = `${topic}\0${partition}`
    const baseSequence = this.#idempotent ? (this.#sequences.get(id) ?? 0) : -1
    const bytes = encodeBatch({
      records,
      baseTimestamp,
      producerId: this.#producerId,
      producerEpoch: this.#producerEpoch,
      baseSequence,
      compression,
      compress,
    })
    return { topic, partition, bytes, recordCount: records.length, baseSequence }
  }

  async #produceWithRetries(pending: PendingBatch[], acks: Acks, timeoutMs: number): Promise<RecordMetadata[]> {
    const results = new Map<PendingBatch, ProduceResult>()
    let outstanding = pending
    let failure: KafkaError | null = null
    // Bounded by the retry count.
    for (let attempt = 0; outstanding.length > 0; attempt++) {
      const responses = await this.#core.produce(
        outstanding.map((p) => ({ topic: p.topic, partition: p.partition, records: p.bytes })),
        acks,
        timeoutMs,
      )
      assert(responses.length === outstanding.length, 'the core answers every produced partition')
      const again: PendingBatch[] = []
      outstanding.forEach((p, i) => {
        const response = responses[i]
        if (response.errorCode === ErrorCode.NONE || response.errorCode === ErrorCode.DUPLICATE_SEQUENCE_NUMBER) {
          results.set(p, response)
          this.#advanceSequence(p)
        } else if (isRetriable(response.errorCode) && attempt < this.#retry.retries) {
          if (response.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) this.#metadata.invalidate(p.topic)
          again.push(p)
        } else {
          failure ??= kafkaError(response.errorCode, `${p.topic}-${p.partition}`, response.errorMessage)
        }
      })
      if (failure !== null) break
      if (again.length > 0) {
        this.#instrumentation.emit(ProducerEvents.REQUEST_RETRY, { attempt, partitions: again.map((p) => `${p.topic}-${p.partition}`) })
        await sleep(backoffMs(this.#retry, attempt))
      }
      outstanding = again
    }
    if (failure !== null) {
      // After a failure the partition may or may not hold the batch; a new epoch (KIP-360)
      // resets every sequence so the next send is accepted either way.
      if (this.#idempotent) await this.#bumpEpoch()
      throw failure
    }
    return pending.map((p) => toRecordMetadata(p, results.get(p)!))
  }

  #advanceSequence(p: PendingBatch): void {
    if (p.baseSequence < 0) return
    const id = `${p.topic}\0${p.partition}`
    // Sequences wrap to 0 past Int32.MAX, as Kafka's do.
    this.#sequences.set(id, (p.baseSequence + p.recordCount) % (SEQUENCE_MAX + 1))
  }

  async #initProducerId(producerId: number, producerEpoch: number): Promise<void> {
    // Bounded by the retry count.
    for (let attempt = 0; ; attempt++) {
      const result = await this.#core.initProducerId(null, producerId, producerEpoch, TRANSACTION_TIMEOUT_MS)
      if (result.errorCode === ErrorCode.NONE) {
        this.#producerId = result.producerId
        this.#producerEpoch = result.producerEpoch
        this.#sequences.clear()
        return
      }
      if (!isRetriable(result.errorCode) || attempt >= this.#retry.retries) throw kafkaError(result.errorCode, 'InitProducerId')
      await sleep(backoffMs(this.#retry, attempt))
    }
  }

  async #bumpEpoch(): Promise<void> {
    try {
      await this.#initProducerId(this.#producerId, this.#producerEpoch)
    } catch {
      // Without a new epoch, start over with a new id at the next send.
      this.#producerId = -1
      this.#producerEpoch = -1
      this.#sequences.clear()
    }
  }
}

function toRecordMetadata(p: PendingBatch, r: ProduceResult): RecordMetadata {
  return {
    topicName: p.topic,
    partition: p.partition,
    errorCode: r.errorCode === ErrorCode.DUPLICATE_SEQUENCE_NUMBER ? ErrorCode.NONE : r.errorCode,
    baseOffset: String(r.baseOffset),
    logAppendTime: String(r.logAppendTimeMs),
    logStartOffset: String(r.logStartOffset),
  }
}

/** The partitioner option as the shared Partitioner takes it (kafkajs's factory adapted). */
function adaptPartitioner(options: ProducerOptions): PartitionerOption {
  if (options.createPartitioner === undefined) return options.partitioner ?? 'default'
  const pick = options.createPartitioner()
  return (args) => {
    const extra = args as typeof args & { metadata?: PartitionMetadata[]; message?: Message }
    const partitionMetadata = (extra.metadata ?? []).map((p) => ({
      partitionId: p.partitionIndex,
      leader: p.leaderId,
      replicas: p.replicaNodes,
      isr: p.isrNodes,
      partitionErrorCode: p.errorCode,
    }))
    return pick({ topic: args.topic, partitionMetadata, message: extra.message ?? { key: args.key === null ? null : Buffer.from(args.key), value: null } })
  }
}
