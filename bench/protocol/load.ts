/**
 * The load generator. Produce: every request is encoded once per in-flight slot and sent again and
 * again (only its correlation id changes; the broker stamps offsets on its own copy), so the same
 * bytes reach Partita and the ceiling and the generator spends little CPU. Fetch: everything
 * produced is read back, from Partita with Kafka Fetch requests, from the ceiling as file ranges of
 * the same size a Fetch answer may have.
 */
import { errorName } from '../../src/common/error-codes.js'
import { ApiKey, decodeResponse, encodeRequest } from '../../src/protocol/index.js'
import { encodeBatch, iterateBatches, LAST_OFFSET_DELTA_OFFSET, RECORD_COUNT_OFFSET } from '../../src/records/record-batch.js'
import { checkCeilingAck, encodeCeilingRead } from './ceiling-wire.js'
import { FramePipe, REQUEST_CORRELATION_ID_OFFSET } from './frame-pipe.js'
import { wideRequests, type ConnectionPlan, type Endpoint, type Route } from './plan.js'

export const PRODUCE_VERSION = 7
export const FETCH_VERSION = 11
/** What one partition may return in one fetch answer, and the whole answer. */
export const FETCH_PARTITION_BYTES_MAX = 1024 * 1024
export const FETCH_BYTES_MAX = 4 * 1024 * 1024
const REQUEST_TIMEOUT_MS = 30_000
/** Request latencies kept per phase (8 MB); later ones are not sampled. */
const LATENCY_SAMPLES_MAX = 1_000_000
/** Rounds of fetches per lane; far more than reading back any phase's records needs. */
const FETCH_ROUNDS_MAX = 10_000_000

export interface Batch {
  bytes: Buffer
  records: number
  recordBytes: number
}

export interface LoadFigures {
  records: number
  requests: number
  /** Request frames sent (produce) or answer frames received (fetch), size prefixes included. */
  wireBytes: number
  seconds: number
  latencyMs: { p50: number; p99: number; p999: number } | null
}

/** A v2 record batch of `records` records of `recordBytes` bytes each (no key). */
export function recordBatch(records: number, recordBytes: number): Batch {
  const value = Buffer.alloc(recordBytes, 0x61)
  const list = Array.from({ length: records }, (_, i) => ({ key: null, value, offsetDelta: i, timestampDelta: 0 }))
  return { bytes: encodeBatch({ baseTimestamp: Date.now(), records: list }), records, recordBytes }
}

/** As many records as fit a batch of about `batchBytes` (each record costs its value plus ~8 bytes of framing). */
export function recordsPerBatch(batchBytes: number, recordBytes: number): number {
  return Math.max(1, Math.floor(batchBytes / (recordBytes + 8)))
}

function percentiles(samples: number[]): LoadFigures['latencyMs'] {
  if (samples.length === 0) return null
  const sorted = Float64Array.from(samples).sort()
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999) }
}

async function connectAll(plans: Endpoint[]): Promise<FramePipe[]> {
  return Promise.all(plans.map((plan) => FramePipe.connect(plan.host, plan.port)))
}

/** Throws unless every partition of a Produce answer has error code 0. */
export function checkProduceAnswer(answer: Buffer): void {
  const body = decodeResponse(ApiKey.Produce, PRODUCE_VERSION, answer).body
  for (const topic of body.responses) {
    for (const partition of topic.partitionResponses) {
      if (partition.errorCode !== 0) throw new Error(`produce to ${topic.name}-${partition.index} failed with ${errorName(partition.errorCode)}`)
    }
  }
}

export interface ProduceLoadOptions {
  topic: string
  plans: ConnectionPlan[]
  inFlight: number
  batch: Batch
  acks: 1 | -1
  seconds: number
  /** A pause after each answer before the slot's next request (none when absent). */
  pauseMs?: number
  /** Partita's answers are Kafka Produce responses; the ceiling's are its acks. */
  target: 'broker' | 'ceiling'
}

export async function runProduceLoad(options: ProduceLoadOptions): Promise<LoadFigures> {
  const { batch } = options
  const check = options.target === 'broker' ? checkProduceAnswer : checkCeilingAck
  const pipes = await connectAll(options.plans)
  const figures: LoadFigures = { records: 0, requests: 0, wireBytes: 0, seconds: 0, latencyMs: null }
  const latencies: number[] = []
  const started = performance.now()
  const deadline = started + options.seconds * 1000
  try {
    const slots = options.plans.flatMap((plan, c) => {
      const body = {
        acks: options.acks,
        timeoutMs: REQUEST_TIMEOUT_MS,
        topicData: [{ name: options.topic, partitionData: plan.partitions.map((index) => ({ index, records: batch.bytes })) }],
      }
      const records = batch.records * plan.partitions.length
      return Array.from({ length: options.inFlight }, async () => {
        // Each slot owns its frame: the socket may still hold it until its answer arrives.
        const frame = encodeRequest(ApiKey.Produce, PRODUCE_VERSION, 0, 'partita-bench', body)
        // Bounded by the deadline: each turn is one request.
        while (performance.now() < deadline) {
          frame.writeInt32BE(pipes[c].nextCorrelationId(), REQUEST_CORRELATION_ID_OFFSET)
          const sentAt = performance.now()
          check(await pipes[c].send(frame))
          if (latencies.length < LATENCY_SAMPLES_MAX) latencies.push(performance.now() - sentAt)
          figures.requests++
          figures.records += records
          figures.wireBytes += frame.length
          if (options.pauseMs !== undefined && options.pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, options.pauseMs))
        }
      })
    })
    await Promise.all(slots)
  } finally {
    for (const pipe of pipes) pipe.close()
  }
  figures.seconds = (performance.now() - started) / 1000
  figures.latencyMs = percentiles(latencies)
  return figures
}

export interface FetchAllOptions {
  topic: string
  routes: Route[]
  connections: number
  inFlight: number
}

/** Fetch lanes: each of `connections` connections runs `inFlight` lanes, each reading its own partitions. */
function fetchLanes(routes: Route[], connections: number, inFlight: number): { plan: number; partitions: number[] }[] {
  return wideRequests(routes, connections).flatMap((plan, p) =>
    Array.from({ length: Math.min(inFlight, plan.partitions.length) }, (_, lane) => ({
      plan: p,
      partitions: plan.partitions.filter((_, i) => i % Math.min(inFlight, plan.partitions.length) === lane),
    })),
  )
}

/** The most bytes one fetch answer of these lanes may carry: what the ceiling reads at once to match. */
export function fetchAnswerBytesMax(routes: Route[], connections: number, inFlight: number): number {
  const widest = Math.max(...fetchLanes(routes, connections, inFlight).map((lane) => lane.partitions.length))
  return Math.min(FETCH_BYTES_MAX, widest * FETCH_PARTITION_BYTES_MAX)
}

/** Reads every partition from offset 0 to its high watermark; counts records from batch headers. */
export async function fetchAllFromBroker(options: FetchAllOptions): Promise<LoadFigures> {
  const plans = wideRequests(options.routes, options.connections)
  const pipes = await connectAll(plans)
  const figures: LoadFigures = { records: 0, requests: 0, wireBytes: 0, seconds: 0, latencyMs: null }
  const latencies: number[] = []
  const started = performance.now()
  try {
    const lanes = fetchLanes(options.routes, options.connections, options.inFlight).map(async (lane) => {
      const pipe = pipes[lane.plan]
      const offsets = new Map(lane.partitions.map((partition) => [partition, 0]))
      for (let round = 0; round < FETCH_ROUNDS_MAX && offsets.size > 0; round++) {
        const body = {
          replicaId: -1,
          maxWaitMs: 0,
          minBytes: 0,
          maxBytes: FETCH_BYTES_MAX,
          isolationLevel: 0,
          topics: [{ topic: options.topic, partitions: [...offsets].map(([partition, fetchOffset]) => ({ partition, fetchOffset, partitionMaxBytes: FETCH_PARTITION_BYTES_MAX })) }],
        }
        const sentAt = performance.now()
        const answer = await pipe.send(encodeRequest(ApiKey.Fetch, FETCH_VERSION, pipe.nextCorrelationId(), 'partita-bench', body))
        if (latencies.length < LATENCY_SAMPLES_MAX) latencies.push(performance.now() - sentAt)
        figures.requests++
        figures.wireBytes += 4 + answer.length
        const response = decodeResponse(ApiKey.Fetch, FETCH_VERSION, answer).body
        if (response.errorCode !== 0) throw new Error(`fetch failed with ${errorName(response.errorCode)}`)
        for (const topic of response.responses) {
          for (const partition of topic.partitions) {
            if (partition.errorCode !== 0) throw new Error(`fetch of partition ${partition.partitionIndex} failed with ${errorName(partition.errorCode)}`)
            const data = partition.records
            const asked = offsets.get(partition.partitionIndex)!
            let next = asked
            for (const span of data === null ? [] : iterateBatches(data)) {
              figures.records += data!.readInt32BE(span.pos + RECORD_COUNT_OFFSET)
              next = Number(data!.readBigInt64BE(span.pos)) + data!.readInt32BE(span.pos + LAST_OFFSET_DELTA_OFFSET) + 1
            }
            // Done at the end of the log, or when a read brings nothing (nothing more to read).
            if (next >= partition.highWatermark || data === null || data.length === 0) offsets.delete(partition.partitionIndex)
            else if (next === asked) throw new Error(`fetch of partition ${partition.partitionIndex} at ${asked} brought no whole batch`)
            else offsets.set(partition.partitionIndex, next)
          }
        }
      }
    })
    await Promise.all(lanes)
  } finally {
    for (const pipe of pipes) pipe.close()
  }
  figures.seconds = (performance.now() - started) / 1000
  figures.latencyMs = percentiles(latencies)
  return figures
}

export interface CeilingReadOptions {
  endpoint: Endpoint
  /** Bytes of the file to read back, from 0. */
  fileBytes: number
  /** Records in those bytes, to count records by bytes read. */
  fileRecords: number
  /** Lanes (connections x in flight), as the broker fetch used. */
  connections: number
  inFlight: number
  /** Bytes per read: the most one of the broker fetch's answers may carry. */
  readBytes: number
}

/** Reads the ceiling's file back: each lane reads its own contiguous stretch, `readBytes` at a time. */
export async function readAllFromCeiling(options: CeilingReadOptions): Promise<LoadFigures> {
  const pipes = await connectAll(Array.from({ length: options.connections }, () => options.endpoint))
  const laneCount = options.connections * options.inFlight
  const stretch = Math.ceil(options.fileBytes / laneCount)
  let bytesRead = 0
  const figures: LoadFigures = { records: 0, requests: 0, wireBytes: 0, seconds: 0, latencyMs: null }
  const latencies: number[] = []
  const started = performance.now()
  try {
    const lanes = Array.from({ length: laneCount }, async (_, lane) => {
      const pipe = pipes[lane % options.connections]
      const end = Math.min(options.fileBytes, (lane + 1) * stretch)
      // Bounded: every read advances by at least one byte or ends the lane.
      for (let position = lane * stretch; position < end; ) {
        const sentAt = performance.now()
        const answer = await pipe.send(encodeCeilingRead(pipe.nextCorrelationId(), position, Math.min(options.readBytes, end - position)))
        if (latencies.length < LATENCY_SAMPLES_MAX) latencies.push(performance.now() - sentAt)
        const read = answer.length - 4
        if (read <= 0) throw new Error(`the ceiling's file ended at ${position}, short of ${end}`)
        figures.requests++
        figures.wireBytes += 4 + answer.length
        bytesRead += read
        position += read
      }
    })
    await Promise.all(lanes)
  } finally {
    for (const pipe of pipes) pipe.close()
  }
  figures.seconds = (performance.now() - started) / 1000
  figures.records = Math.round((bytesRead / options.fileBytes) * options.fileRecords)
  figures.latencyMs = percentiles(latencies)
  return figures
}
