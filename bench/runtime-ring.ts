/**
 * The ring beside postMessage between two threads: throughput of 100-byte frames (ring,
 * postMessage one frame per message, postMessage 100 frames per message) and round-trip latency
 * of a small request/reply, idle and behind a load of 100 frames queued ahead of each request.
 *
 * Run: `npm run bench:ring` (builds first). This file is also the worker it starts. The
 * measurement functions are exported for a later bench/runtime.ts.
 */
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { RingReader, RingWriter, createRingBuffer, startReaderLoop } from '../src/runtime/ring.js'

const FRAME_BYTES = 100
const BATCH_FRAMES = 100
const LOAD_FRAMES = 100
const KIND_FILLER = 0
const KIND_REQUEST = 1
const KIND_STOP = 2

type WorkerRole =
  | { role: 'ring-sink'; sab: SharedArrayBuffer; frames: number }
  | { role: 'port-sink'; frames: number }
  | { role: 'ring-echo'; requests: SharedArrayBuffer; replies: SharedArrayBuffer; spinMicros: number }
  | { role: 'port-echo' }

export interface ThroughputFigures {
  frames: number
  seconds: number
  framesPerSecond: number
  megabytesPerSecond: number
}

export interface LatencyFigures {
  roundTrips: number
  p50Micros: number
  p99Micros: number
}

function startWorker(role: WorkerRole): Worker {
  // Under the compiled dist/bench/ this module is its own worker.
  return new Worker(fileURLToPath(import.meta.url), { workerData: role })
}

function once<T>(worker: Worker): Promise<T> {
  return new Promise((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
}

function figures(frames: number, startedMs: number): ThroughputFigures {
  const seconds = (performance.now() - startedMs) / 1000
  return { frames, seconds, framesPerSecond: frames / seconds, megabytesPerSecond: (frames * FRAME_BYTES) / seconds / 1e6 }
}

/** Ring throughput: the writer publishes every `publishEveryFrames` frames (1: every frame). */
export async function measureRingThroughput(frames = 5_000_000, publishEveryFrames = 32, ringBytes = 1 << 20): Promise<ThroughputFigures> {
  const sab = createRingBuffer(ringBytes)
  const worker = startWorker({ role: 'ring-sink', sab, frames })
  const done = once<number>(worker)
  const writer = new RingWriter(sab)
  const frame = Buffer.alloc(FRAME_BYTES, 7)
  const startedMs = performance.now()
  let sent = 0
  // Bounded: every pass writes at least one frame (the wait resolves only when one fits).
  while (sent < frames) {
    const offset = writer.tryReserve(FRAME_BYTES)
    if (offset >= 0) {
      writer.bytes.set(frame, offset)
      sent++
      writer.commit(sent % publishEveryFrames === 0)
      continue
    }
    writer.publish()
    await writer.write(frame)
    sent++
  }
  writer.publish()
  await done
  const result = figures(frames, startedMs)
  await worker.terminate()
  return result
}

/** postMessage throughput, one frame per message or `batchFrames` frames copied into one. */
export async function measurePostMessageThroughput(frames = 1_000_000, batchFrames = 1): Promise<ThroughputFigures> {
  const worker = startWorker({ role: 'port-sink', frames })
  const done = once<number>(worker)
  const frame = Buffer.alloc(FRAME_BYTES, 7)
  const startedMs = performance.now()
  for (let sent = 0; sent < frames; sent += batchFrames) {
    if (batchFrames === 1) {
      worker.postMessage(frame)
      continue
    }
    const batch = Buffer.allocUnsafe(FRAME_BYTES * batchFrames)
    for (let i = 0; i < batchFrames; i++) batch.set(frame, i * FRAME_BYTES)
    worker.postMessage(batch)
  }
  await done
  const result = figures(frames, startedMs)
  await worker.terminate()
  return result
}

function percentiles(samplesMicros: number[], roundTrips: number): LatencyFigures {
  samplesMicros.sort((a, b) => a - b)
  const at = (q: number): number => samplesMicros[Math.min(samplesMicros.length - 1, Math.floor(q * samplesMicros.length))]
  return { roundTrips, p50Micros: at(0.5), p99Micros: at(0.99) }
}

/** Round trips of a 16-byte request over two rings; with `loaded`, 100 filler frames go ahead of each. */
export async function measureRingLatency(roundTrips = 5_000, loaded = false, spinMicros = 50): Promise<LatencyFigures> {
  const requests = createRingBuffer(1 << 20)
  const replies = createRingBuffer(1 << 16)
  const worker = startWorker({ role: 'ring-echo', requests, replies, spinMicros })
  const writer = new RingWriter(requests)
  const reader = new RingReader(replies, { spinMicros })
  let answer: (() => void) | null = null
  const loop = startReaderLoop(
    reader,
    () => answer?.(),
    (error) => {
      throw error
    },
    { keepAlive: true },
  )
  const request = Buffer.alloc(16, 0)
  request[0] = KIND_REQUEST
  const filler = Buffer.alloc(FRAME_BYTES, KIND_FILLER)
  const samples: number[] = []
  for (let i = 0; i < roundTrips; i++) {
    if (loaded) for (let f = 0; f < LOAD_FRAMES; f++) await writer.write(filler)
    const answered = new Promise<void>((resolve) => (answer = resolve))
    const startedMs = performance.now()
    await writer.write(request)
    await answered
    samples.push((performance.now() - startedMs) * 1000)
  }
  await writer.write(Buffer.from([KIND_STOP]))
  await loop.stop()
  await worker.terminate()
  return percentiles(samples, roundTrips)
}

/** Round trips of a 16-byte request by postMessage; with `loaded`, one batch of 100 filler frames goes ahead of each. */
export async function measurePostMessageLatency(roundTrips = 5_000, loaded = false): Promise<LatencyFigures> {
  const worker = startWorker({ role: 'port-echo' })
  const request = Buffer.alloc(16, 0)
  request[0] = KIND_REQUEST
  const filler = Buffer.alloc(FRAME_BYTES * LOAD_FRAMES, KIND_FILLER)
  const samples: number[] = []
  let answer: (() => void) | null = null
  worker.on('message', () => answer?.())
  for (let i = 0; i < roundTrips; i++) {
    if (loaded) worker.postMessage(filler)
    const answered = new Promise<void>((resolve) => (answer = resolve))
    const startedMs = performance.now()
    worker.postMessage(request)
    await answered
    samples.push((performance.now() - startedMs) * 1000)
  }
  await worker.terminate()
  return percentiles(samples, roundTrips)
}

function runWorker(role: WorkerRole): void {
  const port = parentPort!
  switch (role.role) {
    case 'ring-sink': {
      const reader = new RingReader(role.sab)
      let received = 0
      let checksum = 0
      const loop = startReaderLoop(
        reader,
        (bytes, offset) => {
          checksum = (checksum + bytes[offset]) | 0
          received++
          if (received === role.frames) void loop.stop().then(() => port.postMessage(checksum))
        },
        (error) => {
          throw error
        },
        { framesPerTurnMax: 4096 },
      )
      return
    }
    case 'port-sink': {
      let received = 0
      port.on('message', (message: Uint8Array) => {
        received += Math.max(1, message.length / FRAME_BYTES)
        if (received >= role.frames) port.postMessage(received)
      })
      return
    }
    case 'ring-echo': {
      const reader = new RingReader(role.requests, { spinMicros: role.spinMicros })
      const writer = new RingWriter(role.replies)
      const loop = startReaderLoop(
        reader,
        (bytes, offset, length) => {
          const kind = bytes[offset]
          if (kind === KIND_STOP) void loop.stop()
          if (kind !== KIND_REQUEST) return
          const at = writer.tryReserve(length)
          if (at < 0) throw new Error('reply ring full')
          bytes.copy(writer.bytes, at, offset, offset + length)
          writer.commit()
        },
        (error) => {
          throw error
        },
      )
      return
    }
    case 'port-echo':
      port.on('message', (message: Uint8Array) => {
        if (message[0] === KIND_REQUEST) port.postMessage(message)
      })
      return
  }
}

function formatThroughput(name: string, result: ThroughputFigures): string {
  return `${name.padEnd(42)} ${(result.framesPerSecond / 1e6).toFixed(2).padStart(6)} M frames/s ${result.megabytesPerSecond.toFixed(0).padStart(6)} MB/s`
}

function formatLatency(name: string, result: LatencyFigures): string {
  return `${name.padEnd(42)} p50 ${result.p50Micros.toFixed(1).padStart(7)} µs   p99 ${result.p99Micros.toFixed(1).padStart(7)} µs`
}

/** Prints the ring's figures beside postMessage's; `npm run bench:runtime` includes them. */
export async function printRingFigures(): Promise<void> {
  const scale = Number(process.env.BENCH_SCALE ?? '1')
  console.log(`100-byte frames between two threads (${Math.round(2_000_000 * scale)} frames per figure)`)
  console.log(formatThroughput('ring, publish every 32 frames', await measureRingThroughput(Math.round(2_000_000 * scale), 32)))
  console.log(formatThroughput('ring, publish every frame', await measureRingThroughput(Math.round(2_000_000 * scale), 1)))
  console.log(formatThroughput('postMessage, 1 frame per message', await measurePostMessageThroughput(Math.round(300_000 * scale), 1)))
  console.log(formatThroughput(`postMessage, ${BATCH_FRAMES} frames per message`, await measurePostMessageThroughput(Math.round(2_000_000 * scale), BATCH_FRAMES)))
  const roundTrips = Math.round(3_000 * scale)
  console.log(`round trip of a 16-byte request (${roundTrips} each; load: ${LOAD_FRAMES} frames queued ahead of each request)`)
  console.log(formatLatency('ring, idle, 50 µs spin', await measureRingLatency(roundTrips, false)))
  console.log(formatLatency('ring, idle, no spin (the broker)', await measureRingLatency(roundTrips, false, 0)))
  console.log(formatLatency('postMessage, idle', await measurePostMessageLatency(roundTrips, false)))
  console.log(formatLatency('ring, under load, 50 µs spin', await measureRingLatency(roundTrips, true)))
  console.log(formatLatency('postMessage (batched load), under load', await measurePostMessageLatency(roundTrips, true)))
}

if (!isMainThread) runWorker(workerData as WorkerRole)
else if (process.argv[1] === fileURLToPath(import.meta.url)) await printRingFigures()
