/**
 * What incremental fetch sessions (KIP-227) save a consumer of many partitions, against
 * `partita start` in its own process: one consumer of a 1,000-partition topic fetches at Fetch v12,
 * once without a session (epoch -1: every request names every partition, every answer carries
 * every partition, as librdkafka and kafka-python do) and once with one (only partitions whose
 * fetch offset moved are named, only partitions with news are answered, as the Java consumer does).
 * Both run in the same process against the same broker, in two workloads:
 * - idle: nothing is produced, so every fetch finds nothing (maxWaitMs 0);
 * - moving: before each fetch one record is produced to each of 10 partitions (1%), and the consumer
 *   takes it; the produce costs the broker the same in both modes and is included.
 * Figures per fetch: request bytes, response bytes, and the broker's CPU (its whole process, from
 * /proc/<pid>/task/<tid>/stat, main thread and shard), with the box's busy CPU beside it.
 *
 * Run: `npm run build && node dist/bench/fetch-sessions.js` (BENCH_FETCHES per phase, default 1000;
 * BENCH_PARTITIONS, default 1000).
 */
import { connect, type Socket } from 'node:net'
import { ApiKey, decodeResponse, encodeRequest, type Input, type RequestApiKey, type RequestByKey, type ResponseByKey } from '../src/protocol/index.js'
import { encodeBatch } from '../src/records/record-batch.js'
import { FrameReader } from '../src/protocol/frame-reader.js'
import { startBrokerProcess, type ServerProcess } from './protocol/servers.js'
import { cpuBetween, snapshotCpu } from './protocol/thread-cpu.js'

const FETCHES = Number(process.env.BENCH_FETCHES ?? 1_000)
const PARTITIONS = Number(process.env.BENCH_PARTITIONS ?? 1_000)
const MOVING = 10
const TOPIC = 'sessions'
const FETCH_VERSION = 12
const PARTITION_MAX_BYTES = 1 << 20

/** One connection, one request at a time, counting the bytes each way. */
class RawConnection {
  sentBytes = 0
  receivedBytes = 0
  readonly #socket: Socket
  readonly #reader = new FrameReader(1 << 30)
  #correlationId = 1
  #waiting: ((frame: Buffer) => void) | null = null

  private constructor(socket: Socket) {
    this.#socket = socket
    socket.on('data', (chunk: Buffer) => {
      this.receivedBytes += chunk.length
      this.#reader.push(chunk)
      for (let frame = this.#reader.next(); frame !== null; frame = this.#reader.next()) {
        const waiting = this.#waiting
        this.#waiting = null
        waiting?.(frame)
      }
    })
  }

  static open(hostPort: string): Promise<RawConnection> {
    // The broker's ready line may end its address with a comma.
    const [host, port] = hostPort.replace(/,$/, '').split(':')
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), host, () => resolve(new RawConnection(socket)))
      socket.once('error', reject)
    })
  }

  request<K extends RequestApiKey>(apiKey: K, version: number, body: Input<RequestByKey[K]>): Promise<ResponseByKey[K]> {
    const frame = encodeRequest(apiKey, version, this.#correlationId++, 'bench', body)
    this.sentBytes += frame.length
    return new Promise((resolve) => {
      this.#waiting = (response) => resolve(decodeResponse(apiKey, version, response).body)
      this.#socket.write(frame)
    })
  }

  close(): void {
    this.#socket.destroy()
  }
}

interface Phase {
  mode: 'sessionless' | 'session'
  workload: 'idle' | 'moving'
  requestBytes: number
  responseBytes: number
  brokerCpuUs: number
  shardCpuUs: number
  boxBusyUs: number
  recordsSeen: number
}

/** A consumer's view: each partition's next offset, and which moved since the last request. */
class Consumer {
  readonly offsets = new Array<number>(PARTITIONS).fill(0)
  readonly moved = new Set<number>()
  sessionId = 0
  epoch = 0

  constructor(
    readonly connection: RawConnection,
    readonly useSession: boolean,
  ) {}

  async fetch(): Promise<number> {
    const incremental = this.useSession && this.sessionId !== 0
    const named = incremental ? [...this.moved] : this.offsets.map((_, p) => p)
    const response = await this.connection.request(ApiKey.Fetch, FETCH_VERSION, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 50 << 20,
      isolationLevel: 0,
      sessionId: this.useSession ? this.sessionId : 0,
      sessionEpoch: this.useSession ? this.epoch : -1,
      topics: named.length === 0 ? [] : [{ topic: TOPIC, partitions: named.map((partition) => ({ partition, fetchOffset: this.offsets[partition], partitionMaxBytes: PARTITION_MAX_BYTES })) }],
      forgottenTopicsData: [],
    })
    if (response.errorCode !== 0) throw new Error(`fetch answered error ${response.errorCode}`)
    this.moved.clear()
    if (this.useSession) {
      this.sessionId = response.sessionId
      this.epoch = this.sessionId === 0 ? 0 : this.epoch + 1
      if (this.sessionId === 0) throw new Error('the broker opened no fetch session')
    }
    let records = 0
    for (const topic of response.responses) {
      for (const p of topic.partitions) {
        if (p.errorCode !== 0) throw new Error(`partition ${p.partitionIndex} answered error ${p.errorCode}`)
        if (p.highWatermark > this.offsets[p.partitionIndex] && (p.records?.length ?? 0) > 0) {
          records += p.highWatermark - this.offsets[p.partitionIndex]
          this.offsets[p.partitionIndex] = p.highWatermark
          this.moved.add(p.partitionIndex)
        }
      }
    }
    return records
  }
}

async function produceMoving(producer: RawConnection, round: number): Promise<void> {
  const partitions = Array.from({ length: MOVING }, (_, i) => (round * MOVING + i) % PARTITIONS)
  const response = await producer.request(ApiKey.Produce, 9, {
    acks: 1,
    timeoutMs: 5_000,
    topicData: [{ name: TOPIC, partitionData: partitions.map((index) => ({ index, records: encodeBatch({ baseTimestamp: Date.now(), records: [{ key: null, value: Buffer.alloc(100, 'x') }] }) })) }],
  })
  for (const p of response.responses[0].partitionResponses) if (p.errorCode !== 0) throw new Error(`produce answered error ${p.errorCode}`)
}

async function runPhase(broker: ServerProcess, mode: Phase['mode'], workload: Phase['workload'], warm: Consumer | null): Promise<{ phase: Phase; consumer: Consumer }> {
  const consumer = warm ?? new Consumer(await RawConnection.open(broker.bootstrap), mode === 'session')
  const producer = await RawConnection.open(broker.bootstrap)
  // The first fetch (the session's full one) is not measured: a long-lived consumer makes it once.
  if (warm === null) await consumer.fetch()
  const sentBefore = consumer.connection.sentBytes
  const receivedBefore = consumer.connection.receivedBytes
  const before = snapshotCpu(broker.pid)
  let recordsSeen = 0
  for (let round = 0; round < FETCHES; round++) {
    if (workload === 'moving') await produceMoving(producer, round)
    recordsSeen += await consumer.fetch()
  }
  const usage = cpuBetween(before, snapshotCpu(broker.pid), broker.threads)
  producer.close()
  return {
    consumer,
    phase: {
      mode,
      workload,
      requestBytes: (consumer.connection.sentBytes - sentBefore) / FETCHES,
      responseBytes: (consumer.connection.receivedBytes - receivedBefore) / FETCHES,
      brokerCpuUs: usage.totalUs / FETCHES,
      shardCpuUs: usage.shardsUs.reduce((a, b) => a + b, 0) / FETCHES,
      boxBusyUs: usage.boxBusyUs / FETCHES,
      recordsSeen,
    },
  }
}

async function main(): Promise<void> {
  const broker = await startBrokerProcess({ brokers: 1 })
  try {
    const admin = await RawConnection.open(broker.bootstrap)
    const created = await admin.request(ApiKey.CreateTopics, 4, {
      topics: [{ name: TOPIC, numPartitions: PARTITIONS, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 60_000,
      validateOnly: false,
    })
    if (created.topics[0].errorCode !== 0) throw new Error(`CreateTopics answered ${created.topics[0].errorCode}`)
    admin.close()
    const phases: Phase[] = []
    for (const mode of ['sessionless', 'session'] as const) {
      const idle = await runPhase(broker, mode, 'idle', null)
      phases.push(idle.phase)
      const moving = await runPhase(broker, mode, 'moving', idle.consumer)
      phases.push(moving.phase)
      idle.consumer.connection.close()
    }
    console.log(`fetch sessions: one consumer of ${PARTITIONS} partitions, Fetch v${FETCH_VERSION}, ${FETCHES} fetches per phase, ${broker.command}`)
    console.log('workload  mode         request B/fetch  response B/fetch  broker CPU us/fetch (shard)  box busy us/fetch  records')
    for (const p of phases) {
      console.log(
        `${p.workload.padEnd(8)}  ${p.mode.padEnd(11)}  ${p.requestBytes.toFixed(0).padStart(15)}  ${p.responseBytes.toFixed(0).padStart(16)}  ${p.brokerCpuUs.toFixed(0).padStart(19)} (${p.shardCpuUs.toFixed(0)})  ${p.boxBusyUs.toFixed(0).padStart(17)}  ${p.recordsSeen}`,
      )
    }
    for (const workload of ['idle', 'moving'] as const) {
      const off = phases.find((p) => p.workload === workload && p.mode === 'sessionless')!
      const on = phases.find((p) => p.workload === workload && p.mode === 'session')!
      console.log(
        `${workload}: sessions cut request bytes ${(off.requestBytes / on.requestBytes).toFixed(1)}x, response bytes ${(off.responseBytes / on.responseBytes).toFixed(1)}x, broker CPU per fetch ${(off.brokerCpuUs / on.brokerCpuUs).toFixed(1)}x`,
      )
    }
  } finally {
    await broker.stop()
  }
}

await main()
