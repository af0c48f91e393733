/**
 * What /metrics counting costs on a shard's hot path, beside a same-run baseline: per produce
 * request the broker records its latency and adds the batches' record counts read from their
 * headers (NodeMetrics.requestDone + produced); the baseline is the CRC-32C the broker computes
 * over the same batch anyway. Figures are ns per request and per record, for 1-, 100- and
 * 1,000-record batches of 100 B values.
 */
import { NodeMetrics } from '../src/broker/node-metrics.js'
import { crc32c } from '../src/records/crc32c.js'
import { encodeBatch } from '../src/records/record-batch.js'

const ROUNDS = 200_000
const CRC_OFFSET = 21

function nsPer(rounds: number, work: () => void): number {
  for (let i = 0; i < 10_000; i++) work()
  const started = process.hrtime.bigint()
  for (let i = 0; i < rounds; i++) work()
  return Number(process.hrtime.bigint() - started) / rounds
}

const metrics = new NodeMetrics()
console.log('records/batch  counting ns/request  ns/record  baseline CRC-32C ns/request  counting/baseline')
for (const records of [1, 100, 1000]) {
  const batch = encodeBatch({ records: Array.from({ length: records }, () => ({ key: null, value: Buffer.alloc(100, 7) })), baseTimestamp: Date.now() })
  let sink = 0
  const counting = nsPer(ROUNDS, () => {
    metrics.requestDone(0, 0.2)
    metrics.produced('orders', batch)
  })
  const baseline = nsPer(Math.max(1000, ROUNDS / records), () => {
    sink ^= crc32c(batch, CRC_OFFSET)
  })
  console.log(
    `${String(records).padStart(13)}  ${counting.toFixed(0).padStart(19)}  ${(counting / records).toFixed(2).padStart(9)}  ${baseline.toFixed(0).padStart(27)}  ${(counting / baseline).toFixed(3).padStart(17)}${sink === 0.5 ? '' : ''}`,
  )
}
metrics.close()
