/**
 * `npm run bench:runtime`: the actor runtime's figures in one run.
 * 1. Ring frames/s and MB/s beside postMessage of the same frames (unbatched and batched), and
 *    the round trip of a small request over each.
 * 2. Embedded produce of 100-byte records over 8 partitions at acks=1 (one broker) and acks=all
 *    (three brokers, replication factor 3).
 * 3. The round-trip latency p50/p99 of one small produce.
 * BENCH_SCALE scales every count (default 1).
 */
import { formatProduce, measureEmbeddedProduce, measureProduceLatency } from './embedded-produce.js'
import { printRingFigures } from './runtime-ring.js'

const scale = Number(process.env.BENCH_SCALE ?? '1')

await printRingFigures()
console.log('embedded produce, 100-byte records, 8 partitions')
const total = Math.round(4_000_000 * scale)
console.log(formatProduce(await measureEmbeddedProduce({ label: 'acks=1, 1 broker', brokers: 1, replicationFactor: 1, acks: 1, total })))
console.log(
  formatProduce(
    await measureEmbeddedProduce({ label: 'acks=all, 3 brokers, RF 3', brokers: 3, replicationFactor: 3, acks: -1, total: Math.round(total / 2) }),
  ),
)
const latency = await measureProduceLatency(Math.round(3_000 * scale))
console.log(`one small produce, acks=1, round trip: p50 ${latency.p50Us.toFixed(0)} µs  p99 ${latency.p99Us.toFixed(0)} µs`)
