/**
 * The console's produce and consume rates: a bounded ring of samples kept on the main thread,
 * fed by the same per-topic counters as /metrics. It is kept server-side rather than by the
 * page polling, so a page opened now draws the last 15 minutes at once, and every open page
 * sees the same figures at the cost of one small message per broker every 5 s.
 *
 * Counters are cumulative per broker; a sample holds what was added since the previous one.
 * A broker restart starts its counters again from 0, so a counter that went down counts from 0,
 * as Prometheus's rate() does. A broker that did not answer a sample keeps its last counters,
 * and what it added shows in the sample it next answers.
 */
import type { NodeTraffic, TopicTraffic } from '../broker/node-metrics.js'
import { assert } from '../common/assert.js'
import { askWithin, type AdminSource } from './cluster-snapshot.js'

export const TRAFFIC_SAMPLE_INTERVAL_MS = 5_000
/** How far back the chart goes: 15 minutes of 5 s samples. */
export const TRAFFIC_SAMPLES_MAX = 180
/** Rates are averaged over the samples of the last minute, as Kafka's OneMinuteRate smooths them. */
export const RATE_WINDOW_MS = 60_000

export interface TrafficCounts {
  recordsIn: number
  bytesIn: number
  recordsOut: number
  bytesOut: number
}

/** What the whole box took in and gave out between the previous sample and `atMs`. */
export interface TrafficSample extends TrafficCounts {
  atMs: number
  intervalMs: number
}

export interface TrafficRates {
  recordsInPerSec: number
  bytesInPerSec: number
  recordsOutPerSec: number
  bytesOutPerSec: number
}

const zero = (): TrafficCounts => ({ recordsIn: 0, bytesIn: 0, recordsOut: 0, bytesOut: 0 })
const FIELDS = ['recordsIn', 'bytesIn', 'recordsOut', 'bytesOut'] as const

export class TrafficHistory {
  /** Each broker's counters at its last answer, by topic. */
  readonly #last = new Map<number, Map<string, TopicTraffic>>()
  #lastAtMs: number | null = null
  /** Oldest first. Each keeps only the topics that had traffic, so idle topics cost nothing. */
  readonly #samples: Array<TrafficSample & { topics: Map<string, TrafficCounts> }> = []

  constructor(
    readonly samplesMax = TRAFFIC_SAMPLES_MAX,
    readonly rateWindowMs = RATE_WINDOW_MS,
  ) {
    assert(samplesMax >= 1 && rateWindowMs > 0, 'a traffic history keeps at least one sample over a positive window')
  }

  /** Takes the brokers' counters read at `atMs`; brokers missing from `nodes` did not answer. */
  record(atMs: number, nodes: readonly NodeTraffic[]): void {
    if (nodes.length === 0) return
    const first = this.#lastAtMs === null
    const topics = new Map<string, TrafficCounts>()
    for (const node of nodes) {
      const before = this.#last.get(node.nodeId)
      for (const now of node.topics) {
        // A broker first seen after the first sample has started (or restarted) since.
        const delta = first ? zero() : since(before?.get(now.topic), now)
        if (FIELDS.every((f) => delta[f] === 0)) continue
        const sum = topics.get(now.topic) ?? zero()
        for (const f of FIELDS) sum[f] += delta[f]
        topics.set(now.topic, sum)
      }
      this.#last.set(node.nodeId, new Map(node.topics.map((t) => [t.topic, t])))
    }
    const previousAtMs = this.#lastAtMs
    this.#lastAtMs = atMs
    if (previousAtMs === null || atMs <= previousAtMs) return
    const total = zero()
    for (const counts of topics.values()) for (const f of FIELDS) total[f] += counts[f]
    this.#samples.push({ atMs, intervalMs: atMs - previousAtMs, ...total, topics })
    // Bounded: one over at most after a push.
    if (this.#samples.length > this.samplesMax) this.#samples.shift()
  }

  /** The whole box's samples, oldest first: at most samplesMax. */
  samples(): TrafficSample[] {
    return this.#samples.map(({ atMs, intervalMs, recordsIn, bytesIn, recordsOut, bytesOut }) => ({ atMs, intervalMs, recordsIn, bytesIn, recordsOut, bytesOut }))
  }

  /** The whole box's rates over the last rateWindowMs; zeros before there is a sample. */
  rates(): TrafficRates {
    const recent = this.#recent()
    const total = zero()
    for (const sample of recent) for (const f of FIELDS) total[f] += sample[f]
    return perSecond(total, intervalOf(recent))
  }

  /** Each topic's rates over the last rateWindowMs (topics with no traffic there are absent). */
  topicRates(): Map<string, TrafficRates> {
    const recent = this.#recent()
    const sums = new Map<string, TrafficCounts>()
    for (const sample of recent) {
      for (const [topic, counts] of sample.topics) {
        const sum = sums.get(topic) ?? zero()
        for (const f of FIELDS) sum[f] += counts[f]
        sums.set(topic, sum)
      }
    }
    const intervalMs = intervalOf(recent)
    return new Map([...sums].map(([topic, counts]) => [topic, perSecond(counts, intervalMs)]))
  }

  /** The samples ending within rateWindowMs of the latest one. */
  #recent(): ReadonlyArray<TrafficSample & { topics: Map<string, TrafficCounts> }> {
    const latest = this.#samples.at(-1)
    if (latest === undefined) return []
    return this.#samples.filter((s) => s.atMs > latest.atMs - this.rateWindowMs)
  }
}

function intervalOf(samples: ReadonlyArray<TrafficSample>): number {
  return samples.reduce((ms, s) => ms + s.intervalMs, 0)
}

export function perSecond(counts: TrafficCounts, intervalMs: number): TrafficRates {
  const rate = (n: number): number => (intervalMs <= 0 ? 0 : (n * 1000) / intervalMs)
  return { recordsInPerSec: rate(counts.recordsIn), bytesInPerSec: rate(counts.bytesIn), recordsOutPerSec: rate(counts.recordsOut), bytesOutPerSec: rate(counts.bytesOut) }
}

/** What a counter added since `before`: all of `now` when it went down (the broker restarted) or is new. */
function since(before: TopicTraffic | undefined, now: TopicTraffic): TrafficCounts {
  const reset = before === undefined || FIELDS.some((f) => now[f] < before[f])
  const delta = zero()
  for (const f of FIELDS) delta[f] = reset ? now[f] : now[f] - before[f]
  return delta
}

export interface TrafficSampler {
  readonly history: TrafficHistory
  readonly intervalMs: number
  /** Takes one sample now (the timer calls this; tests may too). */
  sample(): Promise<void>
  stop(): void
}

/** Asks every live broker for its counters every `intervalMs`, one round at a time. */
export function startTrafficSampler(source: AdminSource, intervalMs = TRAFFIC_SAMPLE_INTERVAL_MS, history = new TrafficHistory()): TrafficSampler {
  assert(intervalMs > 0, 'the traffic sample interval is positive')
  let inFlight: Promise<void> | null = null
  const sample = (): Promise<void> => {
    inFlight ??= (async () => {
      const answers = await Promise.all(source.liveBrokerIds().map((id) => askWithin<NodeTraffic>(source, id, { op: 'traffic' })))
      history.record(source.nowMs(), answers.filter((a): a is NodeTraffic => a !== null))
    })().finally(() => (inFlight = null))
    return inFlight
  }
  const timer = setInterval(() => void sample(), intervalMs)
  timer.unref()
  return { history, intervalMs, sample, stop: () => clearInterval(timer) }
}
