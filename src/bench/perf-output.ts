/**
 * The lines Kafka's own perf tools print, character for character, so results paste beside
 * theirs: kafka-producer-perf-test's periodic window line and final line (ProducerPerformance's
 * printf formats; latencies in whole milliseconds for the percentiles, as it prints them), and
 * kafka-consumer-perf-test's header and result line.
 */

const MB = 1024 * 1024

export interface Window {
  records: number
  bytes: number
  elapsedMs: number
  latencyTotalMs: number
  latencyMaxMs: number
}

/** `%d records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms max latency.` */
export function producerWindowLine(w: Window): string {
  const recordsPerSec = (1000 * w.records) / Math.max(w.elapsedMs, 1)
  const mbPerSec = (1000 * w.bytes) / Math.max(w.elapsedMs, 1) / MB
  const avg = w.records === 0 ? 0 : w.latencyTotalMs / w.records
  return `${w.records} records sent, ${recordsPerSec.toFixed(1)} records/sec (${mbPerSec.toFixed(2)} MB/sec), ${avg.toFixed(1)} ms avg latency, ${w.latencyMaxMs.toFixed(1)} ms max latency.`
}

export interface Summary {
  records: number
  bytes: number
  elapsedMs: number
  avgMs: number
  maxMs: number
  p50Ms: number
  p95Ms: number
  p99Ms: number
  p999Ms: number
}

/** `%d records sent, %f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max latency, %d ms 50th, %d ms 95th, %d ms 99th, %d ms 99.9th.` */
export function producerFinalLine(s: Summary): string {
  const recordsPerSec = (1000 * s.records) / Math.max(s.elapsedMs, 1)
  const mbPerSec = (1000 * s.bytes) / Math.max(s.elapsedMs, 1) / MB
  const ms = (v: number): number => Math.trunc(v)
  return (
    `${s.records} records sent, ${recordsPerSec.toFixed(6)} records/sec (${mbPerSec.toFixed(2)} MB/sec), ` +
    `${s.avgMs.toFixed(2)} ms avg latency, ${s.maxMs.toFixed(2)} ms max latency, ` +
    `${ms(s.p50Ms)} ms 50th, ${ms(s.p95Ms)} ms 95th, ${ms(s.p99Ms)} ms 99th, ${ms(s.p999Ms)} ms 99.9th.`
  )
}

export const CONSUMER_HEADER = 'start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec'

/** kafka-consumer-perf-test's result line (its default date format, yyyy-MM-dd HH:mm:ss:SSS). */
export function consumerLine(c: { startMs: number; endMs: number; bytes: number; records: number; rebalanceMs: number }): string {
  const seconds = Math.max(c.endMs - c.startMs, 1) / 1000
  const fetchSeconds = Math.max(c.endMs - c.startMs - c.rebalanceMs, 1) / 1000
  const mb = c.bytes / MB
  return [
    timestamp(c.startMs),
    timestamp(c.endMs),
    mb.toFixed(4),
    (mb / seconds).toFixed(4),
    String(c.records),
    (c.records / seconds).toFixed(4),
    String(Math.round(c.rebalanceMs)),
    String(Math.round(c.endMs - c.startMs - c.rebalanceMs)),
    (mb / fetchSeconds).toFixed(4),
    (c.records / fetchSeconds).toFixed(4),
  ].join(', ')
}

function timestamp(ms: number): string {
  const d = new Date(ms)
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}:${pad(d.getMilliseconds(), 3)}`
}
