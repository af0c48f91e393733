/**
 * What message format conversion costs per message, beside a same-run baseline of passing the
 * v2 batches through as they are (one copy, which is what a Fetch v4+ or Produce v3+ costs here):
 * - Fetch v0-3: v2 batches down-converted to magic 1 messages, from uncompressed and gzip batches;
 * - Produce v0-2: a magic 1 message set CRC-checked and up-converted to one v2 batch.
 * 100-byte values, 100 records per batch; figures are nanoseconds per message on this thread.
 *
 * Run: `npm run bench:conversions` (builds first). `BENCH_MESSAGES` sets the messages per case.
 */
import { performance } from 'node:perf_hooks'
import { compress, decompress } from '../src/records/compression.js'
import { decodeMessageSet, downConvert, encodeLegacyMessage, upConvert } from '../src/records/legacy-messages.js'
import { CompressionType, encodeBatch } from '../src/records/record-batch.js'

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 200_000)
const PER_BATCH = 100
const VALUE = Buffer.alloc(100, 'x')
const ROUNDS = 5

function batches(compression: number): Buffer {
  const parts: Buffer[] = []
  for (let base = 0; base < MESSAGES; base += PER_BATCH) {
    parts.push(
      encodeBatch({
        baseOffset: base,
        baseTimestamp: 1_700_000_000_000,
        compression,
        compress,
        records: Array.from({ length: PER_BATCH }, (_, i) => ({ key: null, value: VALUE, timestampDelta: i })),
      }),
    )
  }
  return Buffer.concat(parts)
}

function messageSets(): Buffer[] {
  const sets: Buffer[] = []
  for (let base = 0; base < MESSAGES; base += PER_BATCH) {
    sets.push(Buffer.concat(Array.from({ length: PER_BATCH }, (_, i) => encodeLegacyMessage(1, i, 1_700_000_000_000 + i, false, null, VALUE))))
  }
  return sets
}

/** Best of ROUNDS, in ns per message: the box is shared, and the best round is the least disturbed. */
function nsPerMessage(run: () => number): number {
  let best = Number.POSITIVE_INFINITY
  for (let round = 0; round < ROUNDS; round++) {
    const started = performance.now()
    const messages = run()
    const ns = ((performance.now() - started) * 1e6) / messages
    best = Math.min(best, ns)
  }
  return best
}

const plain = batches(CompressionType.NONE)
const gzip = batches(CompressionType.GZIP)
const sets = messageSets()

const rows: Array<[string, number]> = [
  ['baseline: v2 batches passed through (one copy)', nsPerMessage(() => (Buffer.from(plain), MESSAGES))],
  ['Fetch v2-3: down-convert uncompressed v2 to magic 1', nsPerMessage(() => downConvert(plain, 1, 0, Number.MAX_SAFE_INTEGER, true, decompress).messages)],
  ['Fetch v2-3: down-convert gzip v2 to magic 1', nsPerMessage(() => downConvert(gzip, 1, 0, Number.MAX_SAFE_INTEGER, true, decompress).messages)],
  ['baseline: a v2 batch per produce passed through (one copy)', nsPerMessage(() => sets.reduce((n, set) => n + (Buffer.from(set).length > 0 ? PER_BATCH : 0), 0))],
  ['Produce v2: CRC-check and up-convert a magic 1 set', nsPerMessage(() => sets.reduce((n, set) => (upConvert(decodeMessageSet(set, decompress)), n + PER_BATCH), 0))],
]
console.log(`message format conversion, ${MESSAGES} messages of ${VALUE.length} B per case, ${PER_BATCH} per batch, best of ${ROUNDS}`)
for (const [name, ns] of rows) console.log(`${name.padEnd(62)} ${ns.toFixed(0).padStart(6)} ns/message`)
