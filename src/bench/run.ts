/**
 * One benchmark run against one system: the same loop for every driver. Producers pace records
 * to a schedule when --throughput is set (each record's latency counts from when it was due, not
 * from when it was sent, so a stall shows in the figures instead of hiding behind it) and send
 * back to back otherwise; consumers count what arrives and, end to end, measure each record's age
 * from the stamp its producer wrote into it.
 */
import { nowUs, type BenchConsumer, type BenchDriver, type BenchProducer } from './driver.js'
import { LatencyHistogram } from './latency-histogram.js'
import { CONSUMER_HEADER, consumerLine, producerFinalLine, producerWindowLine } from './perf-output.js'
import { endPhaseCpu, startPhaseCpu, type PhaseCpu } from './run-cpu.js'

export type BenchMode = 'produce' | 'consume' | 'e2e'

export interface WorkloadSettings {
  mode: BenchMode
  records: number
  recordSize: number
  partitions: number
  acks: -1 | 0 | 1
  /** Records per second over all producers; -1 sends as fast as acknowledgements allow. */
  throughput: number
  producers: number
  consumers: number
  /** Bytes of values per batch (per send). */
  batchBytes: number
  /** Batches outstanding at once per partition and producer (see windowOf), and Kafka requests per connection. */
  inFlight: number
  reportIntervalMs: number
  /** A consumer that reads nothing for this long after the producers finished gives up. */
  idleTimeoutMs: number
  /** Records sent unmeasured and unpaced before a produce or e2e run (JIT, caches, first files). */
  warmupRecords: number
}

/** Latency figures in ms, under OpenMessaging Benchmark's suffixes. */
export interface LatencyFigures {
  Avg: number
  '50pct': number
  '75pct': number
  '95pct': number
  '99pct': number
  '999pct': number
  '9999pct': number
  Max: number
}

export function latencyFigures(h: LatencyHistogram): LatencyFigures {
  return {
    Avg: h.meanMs,
    '50pct': h.percentileMs(50),
    '75pct': h.percentileMs(75),
    '95pct': h.percentileMs(95),
    '99pct': h.percentileMs(99),
    '999pct': h.percentileMs(99.9),
    '9999pct': h.percentileMs(99.99),
    Max: h.maxMs,
  }
}

/** One reporting period's figures (OpenMessaging Benchmark's per-period series come from these). */
export interface Period {
  elapsedMs: number
  published: number
  consumed: number
  publishRate: number
  consumeRate: number
  publishLatency: LatencyFigures
  endToEndLatency: LatencyFigures
}

export interface RunResult {
  system: string
  flushMode: string
  driven: string
  settings: WorkloadSettings
  startedAtMs: number
  published: number
  publishElapsedMs: number
  consumed: number
  consumeElapsedMs: number
  publishLatency: LatencyHistogram
  endToEndLatency: LatencyHistogram
  periods: Period[]
  /** CPU of the clients and the server over the measured phase, null off Linux. */
  cpu: PhaseCpu | null
}

const MS_PER_S = 1000
/** The longest period between samples of the series. */
const PERIOD_MAX_MS = 1000

class Meter {
  readonly publish = new LatencyHistogram()
  readonly endToEnd = new LatencyHistogram()
  readonly windowPublish = new LatencyHistogram()
  readonly windowEndToEnd = new LatencyHistogram()
  published = 0
  consumed = 0
  windowPublished = 0
  windowConsumed = 0
  windowStartMs = performance.now()
  /** The printed line's window, apart from the periods: they are sampled more often than printed. */
  printed = { records: 0, latencyTotalMs: 0, latencyMaxMs: 0, startMs: performance.now() }

  recordPublished(count: number, latencyMs: number): void {
    this.published += count
    this.windowPublished += count
    this.publish.record(latencyMs, count)
    this.windowPublish.record(latencyMs, count)
    this.printed.records += count
    this.printed.latencyTotalMs += latencyMs * count
    if (latencyMs > this.printed.latencyMaxMs) this.printed.latencyMaxMs = latencyMs
  }

  /** Closes the printed window: kafka-producer-perf-test's periodic line for it. */
  printWindow(recordSize: number): string {
    const now = performance.now()
    const w = this.printed
    const line = producerWindowLine({ records: w.records, bytes: w.records * recordSize, elapsedMs: now - w.startMs, latencyTotalMs: w.latencyTotalMs, latencyMaxMs: w.latencyMaxMs })
    this.printed = { records: 0, latencyTotalMs: 0, latencyMaxMs: 0, startMs: now }
    return line
  }

  recordConsumed(count: number): void {
    this.consumed += count
    this.windowConsumed += count
  }

  recordEndToEnd(ms: number): void {
    this.endToEnd.record(ms)
    this.windowEndToEnd.record(ms)
  }

  /** Closes the window: its figures, then a fresh one. */
  period(): Period {
    const now = performance.now()
    const seconds = Math.max(now - this.windowStartMs, 1) / MS_PER_S
    const period: Period = {
      elapsedMs: now - this.windowStartMs,
      published: this.windowPublished,
      consumed: this.windowConsumed,
      publishRate: this.windowPublished / seconds,
      consumeRate: this.windowConsumed / seconds,
      publishLatency: latencyFigures(this.windowPublish),
      endToEndLatency: latencyFigures(this.windowEndToEnd),
    }
    this.windowPublish.reset()
    this.windowEndToEnd.reset()
    this.windowPublished = 0
    this.windowConsumed = 0
    this.windowStartMs = now
    return period
  }
}

export async function runWorkload(driver: BenchDriver, settings: WorkloadSettings, print: (line: string) => void): Promise<RunResult> {
  await driver.setup({ partitions: settings.partitions, recordSize: settings.recordSize, acks: settings.acks, inFlight: settings.inFlight })
  try {
    return await runPhases(driver, settings, print)
  } finally {
    await driver.teardown()
  }
}

async function runPhases(driver: BenchDriver, settings: WorkloadSettings, print: (line: string) => void): Promise<RunResult> {
  const result: RunResult = {
    system: driver.system,
    flushMode: driver.flushMode,
    driven: driver.driven,
    settings,
    startedAtMs: Date.now(),
    published: 0,
    publishElapsedMs: 0,
    consumed: 0,
    consumeElapsedMs: 0,
    publishLatency: new LatencyHistogram(),
    endToEndLatency: new LatencyHistogram(),
    periods: [],
    cpu: null,
  }
  if (settings.mode === 'consume') {
    // The records to read are written first, unmeasured and unpaced.
    await produceAll(driver, { ...settings, throughput: -1 }, new Meter(), false)
  } else if (settings.warmupRecords > 0) {
    // Before consumers open (they start at the end), so no warm-up record is counted.
    await produceAll(driver, { ...settings, records: settings.warmupRecords, throughput: -1 }, new Meter(), false)
  }
  const meter = new Meter()
  const producing = settings.mode !== 'consume'
  const consuming = settings.mode !== 'produce'
  const consumers = consuming ? await openConsumers(driver, settings, settings.mode === 'e2e') : []
  // Periods (the JSON's series and the report's rate chart) are sampled at least every second,
  // whatever the printing interval.
  const sampler = setInterval(() => result.periods.push(meter.period()), Math.min(settings.reportIntervalMs, PERIOD_MAX_MS))
  const printer = setInterval(() => {
    if (producing) print(meter.printWindow(settings.recordSize))
  }, settings.reportIntervalMs)
  const cpuStart = startPhaseCpu(driver.server)
  const startedMs = performance.now()
  const startedWallMs = Date.now()
  let producersDone = !producing
  try {
    const consumed = consuming ? consumeAll(consumers, settings, meter, () => producersDone) : Promise.resolve(0)
    if (producing) {
      await produceAll(driver, settings, meter, settings.mode === 'e2e').finally(() => (producersDone = true))
      result.publishElapsedMs = performance.now() - startedMs
    }
    await consumed
    result.consumeElapsedMs = consuming ? performance.now() - startedMs : 0
    result.cpu = endPhaseCpu(cpuStart, driver.server)
  } finally {
    clearInterval(sampler)
    clearInterval(printer)
    await Promise.all(consumers.map((c) => c.close()))
  }
  const last = meter.period()
  if (last.elapsedMs >= Math.min(settings.reportIntervalMs, PERIOD_MAX_MS) / 10 || result.periods.length === 0) result.periods.push(last)
  result.published = meter.published
  result.consumed = meter.consumed
  result.publishLatency.add(meter.publish)
  result.endToEndLatency.add(meter.endToEnd)
  printFinal(result, startedWallMs, print)
  return result
}

function printFinal(result: RunResult, startedWallMs: number, print: (line: string) => void): void {
  const { settings } = result
  if (settings.mode !== 'consume') {
    const h = result.publishLatency
    print(
      producerFinalLine({
        records: result.published,
        bytes: result.published * settings.recordSize,
        elapsedMs: result.publishElapsedMs,
        avgMs: h.meanMs,
        maxMs: h.maxMs,
        p50Ms: h.percentileMs(50),
        p95Ms: h.percentileMs(95),
        p99Ms: h.percentileMs(99),
        p999Ms: h.percentileMs(99.9),
      }),
    )
  }
  if (settings.mode === 'consume') {
    print(CONSUMER_HEADER)
    print(consumerLine({ startMs: startedWallMs, endMs: startedWallMs + result.consumeElapsedMs, bytes: result.consumed * settings.recordSize, records: result.consumed, rebalanceMs: 0 }))
  }
  if (settings.mode === 'e2e') {
    // Kafka's EndToEndLatency tool prints these two lines.
    const e = result.endToEndLatency
    print(`Avg latency: ${e.meanMs.toFixed(4)} ms`)
    print(`Percentiles: 50th = ${Math.trunc(e.percentileMs(50))}, 99th = ${Math.trunc(e.percentileMs(99))}, 99.9th = ${Math.trunc(e.percentileMs(99.9))}`)
  }
}

async function openConsumers(driver: BenchDriver, settings: WorkloadSettings, stamps: boolean): Promise<BenchConsumer[]> {
  const count = Math.min(settings.consumers, settings.partitions)
  const assignments = Array.from({ length: count }, (_, i) => Array.from({ length: settings.partitions }, (_, p) => p).filter((p) => p % count === i))
  const from = settings.mode === 'consume' ? 'start' : 'end'
  return Promise.all(assignments.map((partitions, i) => driver.consumer(i, partitions, from, stamps)))
}

async function consumeAll(consumers: BenchConsumer[], settings: WorkloadSettings, meter: Meter, producersDone: () => boolean): Promise<number> {
  let idleSinceMs: number | null = null
  const loop = async (consumer: BenchConsumer): Promise<void> => {
    // Bounded: ends when every record arrived, or when nothing arrived for idleTimeoutMs after the producers finished.
    while (meter.consumed < settings.records) {
      const polled = await consumer.poll()
      const now = nowUs()
      meter.recordConsumed(polled.records)
      if (polled.stampsUs !== null) for (const stamp of polled.stampsUs) meter.recordEndToEnd((now - stamp) / 1000)
      if (polled.records > 0) idleSinceMs = null
      else if (producersDone()) {
        idleSinceMs ??= performance.now()
        if (performance.now() - idleSinceMs > settings.idleTimeoutMs) return
      }
    }
  }
  await Promise.all(consumers.map(loop))
  return meter.consumed
}

async function produceAll(driver: BenchDriver, settings: WorkloadSettings, meter: Meter, stamps: boolean): Promise<void> {
  const producers = await Promise.all(Array.from({ length: settings.producers }, (_, i) => driver.producer(i)))
  try {
    const share = (i: number): number => Math.floor(settings.records / settings.producers) + (i < settings.records % settings.producers ? 1 : 0)
    const rate = settings.throughput > 0 ? settings.throughput / settings.producers : -1
    await Promise.all(producers.map((p, i) => produceLoop(p, i, share(i), rate, settings, meter, stamps)))
  } finally {
    await Promise.all(producers.map((p) => p.close()))
  }
}

async function produceLoop(producer: BenchProducer, index: number, quota: number, ratePerSec: number, settings: WorkloadSettings, meter: Meter, stamps: boolean): Promise<void> {
  const recordsPerBatch = Math.max(1, Math.floor(settings.batchBytes / Math.max(1, settings.recordSize)))
  const inFlight = new Set<Promise<void>>()
  let failure: unknown = null
  let scheduled = 0
  let partition = index % settings.partitions
  const startMs = performance.now()
  const dueMs = (i: number): number => startMs + (i * MS_PER_S) / ratePerSec
  // Paced: whether a batch already left in this turn of the timer. The records that fall due
  // while it is being sent wait for the next turn unless they fill a batch, as a Kafka producer's
  // wait for batch.size or linger.ms: sent at once, they made a send of a record or two after
  // nearly every batch, to the next partition, and with several leaders a request of its own.
  let sentThisTurn = false
  // Bounded: each pass sends a batch, or waits for a due record or a free in-flight slot.
  while (scheduled < quota) {
    if (failure !== null) throw failure
    const nowMs = performance.now()
    const due = ratePerSec > 0 ? Math.min(quota, Math.floor(((nowMs - startMs) * ratePerSec) / MS_PER_S) + 1) : quota
    if (due <= scheduled || (sentThisTurn && due - scheduled < recordsPerBatch)) {
      sentThisTurn = false
      await sleepMs(Math.max(1, dueMs(scheduled) - nowMs))
      continue
    }
    if (inFlight.size >= windowOf(settings)) {
      await Promise.race(inFlight)
      continue
    }
    const first = scheduled
    const count = Math.min(due - scheduled, recordsPerBatch)
    scheduled += count
    const sentMs = performance.now()
    const stampsUs = stamps ? Float64Array.from({ length: count }, (_, i) => (ratePerSec > 0 ? dueMs(first + i) : sentMs) * 1000 + performance.timeOrigin * 1000) : null
    const send = producer.send(partition, count, stampsUs).then(
      () => {
        const ackMs = performance.now()
        if (ratePerSec > 0) for (let i = 0; i < count; i++) meter.recordPublished(1, ackMs - dueMs(first + i))
        else meter.recordPublished(count, ackMs - sentMs)
      },
      (error: unknown) => {
        failure ??= error
      },
    )
    inFlight.add(send)
    void send.finally(() => inFlight.delete(send))
    partition = (partition + 1) % settings.partitions
    sentThisTurn = ratePerSec > 0
  }
  await Promise.all(inFlight)
  if (failure !== null) throw failure
}

/** Kafka's buffer.memory: the most batch bytes a producer holds unanswered. */
const BUFFER_MEMORY_BYTES = 32 * 1024 * 1024

/**
 * Sends a producer keeps unanswered, the same for every system: --in-flight per partition (a
 * Kafka producer keeps up to max.in.flight.requests.per.connection batches of each partition in
 * flight), within Kafka's buffer.memory.
 */
export function windowOf(settings: Pick<WorkloadSettings, 'inFlight' | 'partitions' | 'batchBytes'>): number {
  return Math.max(1, Math.min(settings.inFlight * settings.partitions, Math.floor(BUFFER_MEMORY_BYTES / settings.batchBytes)))
}

function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
