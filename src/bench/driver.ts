/**
 * What the harness needs from a system under test: a place with N partitions, producers that
 * append records and resolve once the system acknowledged them, and consumers that read them
 * back. One driver per system (Kafka protocol, Redis Streams, NATS JetStream), so every system
 * runs the very same workload loop.
 */

import type { ThreadMap } from './thread-cpu.js'

export interface BenchTarget {
  partitions: number
  recordSize: number
  acks: -1 | 0 | 1
  /** Requests outstanding per connection where the system has requests (Kafka's max.in.flight.requests.per.connection). */
  inFlight: number
}

export interface BenchProducer {
  /**
   * Appends `count` records to `partition` and resolves once acknowledged (as `acks` asks). With
   * `stampsUs`, record i's value starts with stampsUs[i] (a float64, µs on the wall clock) so
   * consumers can measure end-to-end latency; without, values are a fixed filler.
   */
  send(partition: number, count: number, stampsUs: Float64Array | null): Promise<void>
  close(): Promise<void>
}

export interface Polled {
  records: number
  /** The stamps of the records read, when the consumer was asked for them. */
  stampsUs: number[] | null
}

export interface BenchConsumer {
  /** Reads what is there (waiting a little when nothing is) and acknowledges it as the system's consumers do. */
  poll(): Promise<Polled>
  close(): Promise<void>
}

export interface BenchDriver {
  /** 'partita', 'kafka', 'redis', 'nats': the name printed beside its figures. */
  readonly system: string
  /** How the system writes to disk in this run, recorded with each result. */
  readonly flushMode: string
  /** How the harness drives it (connections, batching, pipelining, window), recorded with each result. */
  readonly driven: string
  /** The server process the harness started for the run, whose CPU it measures; null for a broker given with -b. */
  readonly server: ServedBy | null
  /** Creates the topic (or streams) with the target's partitions. */
  setup(target: BenchTarget): Promise<void>
  producer(index: number): Promise<BenchProducer>
  /** A consumer of `partitions`, from their start or their end, decoding stamps when `stamps`. */
  consumer(index: number, partitions: number[], from: 'start' | 'end', stamps: boolean): Promise<BenchConsumer>
  /** Removes what setup created and stops anything the driver started. */
  teardown(): Promise<void>
}

export interface ServedBy {
  pid: number
  /** Which of its threads are the main thread and the shards (a peer's are all 'other'). */
  threads: ThreadMap
}

/** Writes `stampUs` into the first 8 bytes of `value` (values shorter than 8 bytes carry no stamp). */
export function stampValue(value: Buffer, stampUs: number): void {
  if (value.length >= 8) value.writeDoubleLE(stampUs, 0)
}

/** The stamp at the start of a value, or null when it has none. */
export function readStamp(value: Buffer | null): number | null {
  if (value === null || value.length < 8) return null
  return value.readDoubleLE(0)
}

/** Microseconds on the wall clock, with sub-millisecond resolution. */
export function nowUs(): number {
  return (performance.timeOrigin + performance.now()) * 1000
}
