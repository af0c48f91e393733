/**
 * The harness's Kafka-protocol driver, for every broker that speaks Kafka (Partita, Kafka, Redpanda).
 * Producers send v2 batches over the project's wire client, one batch per send; consumers keep one
 * long-poll fetch in flight per broker (kafka-fetches.ts) and commit their positions
 * asynchronously (at most one commit in flight) over a connection of their own, as Kafka
 * consumers do. Batches without stamps are encoded once per size and reused.
 */
import { randomBytes } from 'node:crypto'
import { ErrorCode } from '../common/error-codes.js'
import { KafkaError } from '../common/errors.js'
import { KafkaClient, OffsetSpec } from '../client/wire/kafka-client.js'
import { WireCluster } from '../client/wire-cluster.js'
import { decompress } from '../records/compression.js'
import { decodeRecords, encodeBatch, isControlBatch, iterateBatches, readBatchHeader } from '../records/record-batch.js'
import { BrokerFetches } from './kafka-fetches.js'
import { BatchSender } from './kafka-sender.js'
import { readStamp, stampValue, type BenchConsumer, type BenchDriver, type BenchProducer, type BenchTarget, type Polled, type ServedBy } from './driver.js'

const CONSUMER_GROUP = 'partita-bench'
const FETCH_MAX_WAIT_MS = 100
const FETCH_PARTITION_BYTES_MAX = 4 * 1024 * 1024
/** Encoded batches kept per producer, by record count (paced runs send many sizes). */
const BATCH_CACHE_MAX = 64

/** Printed and recorded with each result: how fair the comparison is. */
const DRIVEN = "the project's wire client, one connection per broker per producer; each send is one uncompressed v2 batch (encoded once, CRC32C once); as Kafka's producer, batches ready together go out in one Produce request per leader (one batch per partition), at most --in-flight requests per connection, within a window of --in-flight sends per partition (as every system gets)"

export interface KafkaDriverOptions {
  system: string
  bootstrapServers: string
  flushMode: string
  /** The broker's process when the harness started it (its CPU is measured), else null. */
  server: ServedBy | null
  /** A fresh topic's replication factor (-1: the broker's default). */
  replicationFactor?: number
  /** Called by teardown after the topic is deleted (stops a broker the harness started). */
  onTeardown?: () => Promise<void>
}

export class KafkaDriver implements BenchDriver {
  readonly system: string
  readonly flushMode: string
  readonly driven = DRIVEN
  readonly server: ServedBy | null
  readonly #options: KafkaDriverOptions
  readonly #topic = `partita-bench-${Date.now()}-${randomBytes(3).toString('hex')}`
  #admin: KafkaClient | null = null
  #target: BenchTarget | null = null

  constructor(options: KafkaDriverOptions) {
    this.system = options.system
    this.flushMode = options.flushMode
    this.server = options.server
    this.#options = options
  }

  async setup(target: BenchTarget): Promise<void> {
    this.#target = target
    this.#admin = await this.#connect('admin')
    const response = await this.#admin.createTopics([{ name: this.#topic, numPartitions: target.partitions, replicationFactor: this.#options.replicationFactor ?? -1 }])
    const result = response.topics[0]
    if (result !== undefined && result.errorCode !== ErrorCode.NONE) throw new KafkaError(result.errorCode, `creating ${this.#topic}: ${result.errorMessage ?? ''}`)
    await this.#admin.topic(this.#topic)
    // A first commit finds (on a fresh broker, creates and loads) the consumers' group
    // coordinator now, before any warm-up or measured phase, not in the middle of one.
    const [committed] = await new WireCluster(this.#admin).groups.commitOffsets({ groupId: CONSUMER_GROUP, generationId: -1, memberId: '', offsets: [{ topic: this.#topic, partition: 0, offset: 0 }] })
    if (committed !== undefined && committed.errorCode !== ErrorCode.NONE) throw new KafkaError(committed.errorCode, `committing for group ${CONSUMER_GROUP}`)
  }

  async producer(index: number): Promise<BenchProducer> {
    const target = this.#requireTarget()
    const client = await this.#connect(`producer-${index}`)
    const topic = this.#topic
    const filler = randomBytes(target.recordSize)
    const cache = new Map<number, Buffer>()
    const batchOf = (count: number, stampsUs: Float64Array | null): Buffer => {
      if (stampsUs === null) {
        const cached = cache.get(count)
        if (cached !== undefined) return cached
      }
      const records = Array.from({ length: count }, (_, i) => {
        if (stampsUs === null) return { key: null, value: filler }
        const value = Buffer.from(filler)
        stampValue(value, stampsUs[i])
        return { key: null, value }
      })
      const batch = encodeBatch({ records, baseTimestamp: Date.now() })
      if (stampsUs === null && cache.size < BATCH_CACHE_MAX) cache.set(count, batch)
      return batch
    }
    const leaders = (await client.topic(topic)).partitions.map((p) => p.leader)
    const sender = new BatchSender({ client, topic, acks: target.acks, leaders, inFlightPerConnection: target.inFlight })
    return {
      send: (partition, count, stampsUs) => sender.send(partition, batchOf(count, stampsUs)),
      close: () => client.close(),
    }
  }

  async consumer(index: number, partitions: number[], from: 'start' | 'end', stamps: boolean): Promise<BenchConsumer> {
    const client = await this.#connect(`consumer-${index}`)
    const topic = this.#topic
    const starts = await client.listOffsets(partitions.map((partition) => ({ topic, partition, timestamp: from === 'start' ? OffsetSpec.EARLIEST : OffsetSpec.LATEST })))
    for (const s of starts) if (s.errorCode !== ErrorCode.NONE) throw new KafkaError(s.errorCode, `listing offsets of ${topic}-${s.partition}`)
    const positions = new Map(starts.map((s) => [s.partition, s.offset]))
    // As Kafka's consumers do, commits go over a connection of their own to the coordinator: on
    // the fetch connection, each fetch answer would queue behind the commit sent before it, since
    // a connection answers in request order, and the commit's wait would count as e2e latency.
    const coordinator = await this.#connect(`consumer-${index}-coordinator`)
    const groups = new WireCluster(coordinator).groups
    // Committing where the consumer starts also makes sure its coordinator answers before the clock starts.
    const first = await groups.commitOffsets({ groupId: CONSUMER_GROUP, generationId: -1, memberId: '', offsets: [...positions].map(([partition, offset]) => ({ topic, partition, offset })) })
    for (const r of first) if (r.errorCode !== ErrorCode.NONE) throw new KafkaError(r.errorCode, `committing ${topic}-${r.partition} for group ${CONSUMER_GROUP}`)
    let committing: Promise<unknown> | null = null
    const commit = (): void => {
      if (committing !== null) return
      const offsets = [...positions].map(([partition, offset]) => ({ topic, partition, offset }))
      committing = groups
        .commitOffsets({ groupId: CONSUMER_GROUP, generationId: -1, memberId: '', offsets })
        .catch(() => undefined)
        .finally(() => (committing = null))
    }
    const partitionsByLeader = new Map<number, number[]>()
    for (const { partition, leader } of (await client.topic(topic)).partitions) {
      if (partitions.includes(partition)) partitionsByLeader.set(leader, [...(partitionsByLeader.get(leader) ?? []), partition])
    }
    const fetches = new BrokerFetches({ client, topic, partitionsByLeader, positions, maxWaitMs: FETCH_MAX_WAIT_MS, partitionMaxBytes: FETCH_PARTITION_BYTES_MAX })
    return {
      poll: async (): Promise<Polled> => {
        const results = await fetches.next()
        const polled: Polled = { records: 0, stampsUs: stamps ? [] : null }
        for (const r of results) {
          if (r.errorCode !== ErrorCode.NONE) throw new KafkaError(r.errorCode, `fetching ${topic}-${r.partition}`)
          if (r.records === null) continue
          positions.set(r.partition, readBatches(r.records, positions.get(r.partition)!, polled))
        }
        if (polled.records > 0) commit()
        return polled
      },
      close: async () => {
        await committing
        await fetches.settle()
        await client.close()
        await coordinator.close()
      },
    }
  }

  async teardown(): Promise<void> {
    try {
      await this.#admin?.deleteTopics([this.#topic]).catch(() => undefined)
      await this.#admin?.close()
    } finally {
      await this.#options.onTeardown?.()
    }
  }

  #connect(role: string): Promise<KafkaClient> {
    return KafkaClient.connect({ bootstrapServers: this.#options.bootstrapServers, clientId: `partita-bench-${role}` })
  }

  #requireTarget(): BenchTarget {
    if (this.#target === null) throw new Error('setup() comes before producers and consumers')
    return this.#target
  }
}

/** Counts the records at or after `position` (reading their stamps when asked) and returns the next position. */
function readBatches(bytes: Buffer, position: number, polled: Polled): number {
  let next = position
  for (const span of iterateBatches(bytes)) {
    const header = readBatchHeader(bytes, span.pos)
    const lastOffset = header.baseOffset + header.lastOffsetDelta
    if (lastOffset < next) continue
    if (!isControlBatch(header.attributes)) {
      if (polled.stampsUs === null && header.baseOffset >= next) {
        polled.records += header.recordCount
      } else {
        for (const record of decodeRecords(bytes.subarray(span.pos, span.pos + span.size), 0, decompress)) {
          if (record.offset < next) continue
          polled.records++
          const stamp = readStamp(record.value)
          if (stamp !== null) polled.stampsUs?.push(stamp)
        }
      }
    }
    next = lastOffset + 1
  }
  return next
}
