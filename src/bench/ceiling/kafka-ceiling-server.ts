/**
 * The Kafka ceiling: a bare Node TCP server that speaks just enough Kafka for librdkafka's
 * producer, idempotent or transactional, and for a consumer that assigns its partitions, and does
 * the least any broker must: each Produce request's record bytes are appended to one file with
 * fs.writeSync and acked at once, and a consumer's Fetch is answered from a copy kept in memory
 * (ceiling-logs.ts), at once or as soon as a produce brings it something. Every transaction call
 * (InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn) and offset commit is answered at
 * once with success. Nothing is checked, replicated, indexed or made durable; there is no
 * coordinator state and no marker.
 *
 * So a client's rate or latency against it is what the client and this box allow with a broker
 * that costs nothing. Its transactional rate over its idempotent rate is the most that ratio can
 * be here, whatever the broker: the round trips a transaction adds (AddPartitionsToTxn before the
 * first record of each transaction, the flush of every batch, EndTxn) are the client's.
 *
 * It advertises the versions Partita's own handlers declare for these APIs, so a client speaks the
 * same versions to both, and uses Partita's codecs and framing, so the two differ only in what
 * happens to a request.
 * Usage: node kafka-ceiling-server.js <file> <partitions> [port]: a topic created with a partition
 * count has that many, every other topic a client asks about has <partitions>, all led by this
 * server; it listens on `port` (default: a free one) and prints `listening on host:port`.
 */
import fs from 'node:fs'
import { ErrorCode } from '../../common/error-codes.js'
import { ApiKey, apiVersionsFromDeclarations, decodeRequest, encodeResponse, ZERO_UUID, type DecodedRequest } from '../../protocol/index.js'
import { API_VERSIONS_DECLARATION, handlerFor } from '../../server/handlers/index.js'
import { groupByTopic } from '../../server/handlers/types.js'
import { CeilingLogs } from './ceiling-logs.js'
import { serveFrames } from './frame-server.js'

const NODE_ID = 0

/** Topics whose partition count is remembered; a bench run creates one or two. */
const CREATED_TOPICS_MAX = 10_000

/** Kafka's ListOffsets sentinel for the log start. */
const EARLIEST_TIMESTAMP = -2

const SERVED_KEYS = [
  ApiKey.Produce,
  ApiKey.Fetch,
  ApiKey.ListOffsets,
  ApiKey.OffsetCommit,
  ApiKey.Metadata,
  ApiKey.FindCoordinator,
  ApiKey.InitProducerId,
  ApiKey.AddPartitionsToTxn,
  ApiKey.AddOffsetsToTxn,
  ApiKey.EndTxn,
  ApiKey.CreateTopics,
  ApiKey.DeleteTopics,
] as const

const API_KEYS = apiVersionsFromDeclarations([
  API_VERSIONS_DECLARATION,
  ...SERVED_KEYS.map((apiKey) => {
    const handler = handlerFor(apiKey)!
    return { apiKey, minVersion: handler.minVersion, maxVersion: handler.maxVersion }
  }),
])

class Ceiling {
  readonly #fd: number
  readonly #host: string
  readonly #partitions: number
  /** Partition counts of the topics CreateTopics named; bounded by what a bench creates. */
  readonly #created = new Map<string, number>()
  #port = 0
  #appendPosition = 0
  #nextProducerId = 1
  readonly #logs = new CeilingLogs()

  constructor(file: string, host: string, partitions: number) {
    this.#fd = fs.openSync(file, 'w+')
    this.#host = host
    this.#partitions = partitions
  }

  set port(port: number) {
    this.#port = port
  }

  /** The answer to one request frame (without its size prefix): null when none is due (acks=0), a promise for a waiting fetch. */
  answer(frame: Buffer): Buffer | null | Promise<Buffer> {
    const request = decodeRequest(frame)
    const { apiKey, apiVersion, correlationId } = request.header
    // Each case of #body builds the body its own key's encoder takes.
    const encode = (body: object): Buffer => encodeResponse(apiKey as typeof ApiKey.Produce, apiVersion, correlationId, body as Parameters<typeof encodeResponse<typeof ApiKey.Produce>>[3])
    if (request.apiKey === ApiKey.Fetch) {
      const fetch = request.body
      const wants = fetch.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.topic, partition: p.partition, key: keyOf(t.topic, p.partition), fetchOffset: p.fetchOffset, maxBytes: p.partitionMaxBytes })))
      const answerNow = (): Buffer => encode(this.#fetched(wants))
      const anything = wants.some((want) => this.#logs.offsets(want.key).nextOffset > want.fetchOffset)
      return anything ? answerNow() : this.#logs.waitFor(wants.map((want) => want.key), fetch.maxWaitMs).then(answerNow)
    }
    const body = this.#body(request)
    return body === null ? null : encode(body)
  }

  #fetched(wants: ReadonlyArray<{ topic: string; partition: number; key: string; fetchOffset: number; maxBytes: number }>): object {
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      sessionId: 0,
      responses: groupByTopic(wants.map((want) => ({ topic: want.topic, item: want }))).map(({ name, items }) => ({
        topic: name,
        partitions: items.map((want) => {
          const read = this.#logs.read(want)
          return {
            partitionIndex: want.partition,
            errorCode: ErrorCode.NONE,
            highWatermark: read.highWatermark,
            lastStableOffset: read.highWatermark,
            logStartOffset: read.logStartOffset,
            abortedTransactions: [],
            preferredReadReplica: -1,
            records: read.records,
          }
        }),
      })),
    }
  }

  #body(request: DecodedRequest): object | null {
    const self = { nodeId: NODE_ID, host: this.#host, port: this.#port }
    switch (request.apiKey) {
      case ApiKey.ApiVersions:
        return { errorCode: ErrorCode.NONE, apiKeys: API_KEYS, throttleTimeMs: 0 }
      case ApiKey.Metadata: {
        const names = (request.body.topics ?? []).map((t) => t.name ?? '')
        return {
          throttleTimeMs: 0,
          brokers: [{ ...self, rack: null }],
          clusterId: 'ceiling',
          controllerId: NODE_ID,
          topics: names.map((name) => ({
            errorCode: ErrorCode.NONE,
            name,
            isInternal: false,
            partitions: Array.from({ length: this.#created.get(name) ?? this.#partitions }, (_, partitionIndex) => ({
              errorCode: ErrorCode.NONE,
              partitionIndex,
              leaderId: NODE_ID,
              leaderEpoch: 0,
              replicaNodes: [NODE_ID],
              isrNodes: [NODE_ID],
              offlineReplicas: [],
            })),
          })),
        }
      }
      case ApiKey.FindCoordinator: {
        const found = { errorCode: ErrorCode.NONE, errorMessage: null, ...self }
        return { throttleTimeMs: 0, ...found, coordinators: request.body.coordinatorKeys.map((key) => ({ key, ...found })) }
      }
      case ApiKey.InitProducerId:
        return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: this.#nextProducerId++, producerEpoch: 0 }
      case ApiKey.AddPartitionsToTxn:
        return {
          throttleTimeMs: 0,
          errorCode: ErrorCode.NONE,
          resultsByTransaction: [],
          resultsByTopicV3AndBelow: request.body.v3AndBelowTopics.map((t) => ({
            name: t.name,
            resultsByPartition: t.partitions.map((partitionIndex) => ({ partitionIndex, partitionErrorCode: ErrorCode.NONE })),
          })),
        }
      case ApiKey.AddOffsetsToTxn:
        return { throttleTimeMs: 0, errorCode: ErrorCode.NONE }
      case ApiKey.EndTxn:
        return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: -1, producerEpoch: -1 }
      case ApiKey.Produce:
        return this.#produce(request.body)
      case ApiKey.ListOffsets:
        return {
          throttleTimeMs: 0,
          topics: request.body.topics.map((t) => ({
            name: t.name,
            partitions: t.partitions.map((p) => {
              const offsets = this.#logs.offsets(keyOf(t.name, p.partitionIndex))
              const offset = p.timestamp === EARLIEST_TIMESTAMP ? offsets.logStartOffset : offsets.nextOffset
              return { partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE, oldStyleOffsets: [], timestamp: -1, offset, leaderEpoch: 0 }
            }),
          })),
        }
      // `partita bench` creates a fresh topic and deletes it after; nothing else is kept of one.
      case ApiKey.CreateTopics:
        return {
          throttleTimeMs: 0,
          topics: request.body.topics.map((t) => {
            const numPartitions = t.numPartitions > 0 ? t.numPartitions : this.#partitions
            if (this.#created.size < CREATED_TOPICS_MAX) this.#created.set(t.name, numPartitions)
            return { name: t.name, topicId: ZERO_UUID, errorCode: ErrorCode.NONE, errorMessage: null, topicConfigErrorCode: ErrorCode.NONE, numPartitions, replicationFactor: 1, configs: [] }
          }),
        }
      case ApiKey.DeleteTopics: {
        const names = request.body.topicNames.length > 0 ? request.body.topicNames : request.body.topics.map((t) => t.name ?? '')
        for (const name of names) this.#created.delete(name)
        return { throttleTimeMs: 0, responses: names.map((name) => ({ name, topicId: ZERO_UUID, errorCode: ErrorCode.NONE, errorMessage: null })) }
      }
      case ApiKey.OffsetCommit:
        return {
          throttleTimeMs: 0,
          topics: request.body.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE })) })),
        }
      default:
        throw new Error(`api key ${request.apiKey} is not served by the ceiling`)
    }
  }

  #produce(body: Extract<DecodedRequest, { apiKey: typeof ApiKey.Produce }>['body']): object | null {
    const responses = body.topicData.map((topic) => ({
      name: topic.name,
      partitionResponses: topic.partitionData.map((partition) => {
        const records = partition.records ?? Buffer.alloc(0)
        // Offsets first: they are written into the batches, which then go to the file as a log holds them.
        const baseOffset = this.#logs.append(keyOf(topic.name, partition.index), records)
        this.#appendPosition += fs.writeSync(this.#fd, records, 0, records.length, this.#appendPosition)
        return { index: partition.index, errorCode: ErrorCode.NONE, baseOffset, logAppendTimeMs: -1, logStartOffset: 0, recordErrors: [], errorMessage: null }
      }),
    }))
    return body.acks === 0 ? null : { throttleTimeMs: 0, responses }
  }
}

function keyOf(topic: string, partition: number): string {
  return `${topic}\0${partition}`
}

function serve(file: string, partitions: number, port: number): void {
  const ceiling = new Ceiling(file, '127.0.0.1', partitions)
  serveFrames({
    name: 'kafka ceiling',
    port,
    answer: (frame) => ceiling.answer(frame),
    onListening: (port) => (ceiling.port = port),
  })
}

const [file, partitions, port] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4] ?? 0)]
if (file === undefined || !Number.isInteger(partitions) || partitions < 1 || !Number.isInteger(port) || port < 0 || port > 65_535) {
  process.stderr.write('usage: kafka-ceiling-server.js <file> <partitions> [port]\n')
  process.exit(2)
}
serve(file, partitions, port)
