/**
 * Embedded produce throughput and latency: the kafkajs-shaped producer against a broker in this
 * process, records crossing to the partition actors through the shard rings.
 *
 * Figures printed: records/s and MB/s of 100-byte records over 8 partitions at acks=1 (one
 * broker) and acks=all (three brokers, replication factor 3), and the round-trip latency
 * p50/p99 of one small produce on an idle broker.
 */
import { startBroker } from '../src/start-broker.js'
import type { Message } from '../src/client/messages.js'

export interface ProduceFigures {
  label: string
  records: number
  seconds: number
  recordsPerSecond: number
  megabytesPerSecond: number
}

const RECORD_BYTES = 100
const PARTITIONS = 8

function messages(count: number, seed: number): Message[] {
  const value = Buffer.alloc(RECORD_BYTES, 0x61)
  const list: Message[] = []
  for (let i = 0; i < count; i++) list.push({ value, partition: (seed + i) % PARTITIONS })
  return list
}

/**
 * Keeps `inFlight` sends of `perSend` records each outstanding until `total` records are acked.
 * Messages carry explicit partitions so the measurement is the broker path, not the partitioner.
 */
export async function measureEmbeddedProduce(options: {
  label: string
  brokers: number
  replicationFactor: number
  acks: 1 | -1
  total: number
  perSend?: number
  inFlight?: number
}): Promise<ProduceFigures> {
  const perSend = options.perSend ?? 32_000
  const inFlight = options.inFlight ?? 8
  await using broker = await startBroker({ port: 0, brokers: options.brokers })
  await broker.admin.createTopic({ name: 'bench', partitions: PARTITIONS, replicationFactor: options.replicationFactor })
  const producer = broker.producer({ acks: options.acks })
  const batch = messages(perSend, 0)
  // Warm the path (JIT, segment files) before timing.
  await producer.send({ topic: 'bench', messages: batch })
  let sent = 0
  const started = process.hrtime.bigint()
  const lanes = Array.from({ length: inFlight }, async () => {
    // Bounded by total / perSend iterations across all lanes.
    while (sent < options.total) {
      sent += perSend
      await producer.send({ topic: 'bench', messages: batch })
    }
  })
  await Promise.all(lanes)
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  await producer.disconnect()
  return {
    label: options.label,
    records: sent,
    seconds,
    recordsPerSecond: sent / seconds,
    megabytesPerSecond: (sent * RECORD_BYTES) / seconds / 1e6,
  }
}

/** Latency of one small produce at a time (acks=1), after warm-up. */
export async function measureProduceLatency(samples: number): Promise<{ p50Us: number; p99Us: number }> {
  await using broker = await startBroker({ port: 0, brokers: 1 })
  await broker.admin.createTopic({ name: 'latency', partitions: 1 })
  const producer = broker.producer({ acks: 1 })
  const one: Message[] = [{ value: Buffer.alloc(RECORD_BYTES, 0x62), partition: 0 }]
  for (let i = 0; i < 200; i++) await producer.send({ topic: 'latency', messages: one })
  const timesUs: number[] = []
  for (let i = 0; i < samples; i++) {
    const t0 = process.hrtime.bigint()
    await producer.send({ topic: 'latency', messages: one })
    timesUs.push(Number(process.hrtime.bigint() - t0) / 1e3)
  }
  timesUs.sort((a, b) => a - b)
  await producer.disconnect()
  return { p50Us: timesUs[Math.floor(samples * 0.5)], p99Us: timesUs[Math.floor(samples * 0.99)] }
}

export function formatProduce(f: ProduceFigures): string {
  return `${f.label.padEnd(34)} ${(f.recordsPerSecond / 1e6).toFixed(2).padStart(6)} M records/s  ${f.megabytesPerSecond.toFixed(0).padStart(5)} MB/s  (${f.records} records in ${f.seconds.toFixed(2)} s)`
}
