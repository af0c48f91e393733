/**
 * A worker for the ring tests (compiled to dist/ so a real worker thread can load it): it either
 * produces seeded frames into a ring or consumes and checks them, and posts a summary.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { setTimeout as sleep } from 'node:timers/promises'
import { Doorbell } from '../doorbell.js'
import { RingReader, RingWriter, startReaderLoop } from '../ring.js'

export interface RingTestWorkerData {
  role: 'producer' | 'consumer'
  sab: SharedArrayBuffer
  seed: number
  frames: number
  /** Largest frame body the producer makes (at least 12 bytes of header are added). */
  bodyBytesMax: number
  /** The consumer pauses this long every `pauseEveryFrames` frames, to fill the ring. */
  pauseMs: number
  pauseEveryFrames: number
  /** Producer: the reading thread's doorbell, when it reads many rings (index into the shared doorbells). */
  doorbell?: { sab: SharedArrayBuffer; index: number }
  /** Producer: sleeps this long every `pauseEveryFrames` frames, so the reader empties its rings and sleeps. */
  producerPauseMs?: number
}

export interface RingTestSummary {
  frames: number
  bytes: number
  /** Producer: writes that found the ring full. Consumer: frames that failed a check. */
  fullOrBad: number
  firstProblem: string | null
}

/** xorshift32: the same sequence on both sides from the same seed. */
export function nextRandom(state: number): number {
  let x = state | 0
  x ^= x << 13
  x ^= x >>> 17
  x ^= x << 5
  return x >>> 0
}

/** Frame i: [seq u32][body length u32][checksum u32][body], the body derived from seed and seq. */
export function fillFrame(target: Buffer, offset: number, seq: number, bodyBytes: number): void {
  let state = (seq * 2654435761) >>> 0 || 1
  let sum = 0
  for (let i = 0; i < bodyBytes; i++) {
    state = nextRandom(state)
    const byte = state & 0xff
    target[offset + 12 + i] = byte
    sum = (sum * 31 + byte) >>> 0
  }
  target.writeUInt32LE(seq, offset)
  target.writeUInt32LE(bodyBytes, offset + 4)
  target.writeUInt32LE(sum, offset + 8)
}

/** Null when frame `expectedSeq` is intact, else what is wrong with it. */
export function checkFrame(bytes: Buffer, offset: number, length: number, expectedSeq: number): string | null {
  if (length < 12) return `frame ${expectedSeq} is ${length} bytes`
  const seq = bytes.readUInt32LE(offset)
  const bodyBytes = bytes.readUInt32LE(offset + 4)
  if (seq !== expectedSeq) return `expected frame ${expectedSeq}, got ${seq}`
  if (bodyBytes + 12 !== length) return `frame ${seq}: body ${bodyBytes} in a ${length}-byte frame`
  let state = (seq * 2654435761) >>> 0 || 1
  let sum = 0
  for (let i = 0; i < bodyBytes; i++) {
    state = nextRandom(state)
    if (bytes[offset + 12 + i] !== (state & 0xff)) return `frame ${seq}: byte ${i} differs`
    sum = (sum * 31 + bytes[offset + 12 + i]) >>> 0
  }
  if (sum !== bytes.readUInt32LE(offset + 8)) return `frame ${seq}: checksum differs`
  return null
}

async function produce(data: RingTestWorkerData): Promise<RingTestSummary> {
  const doorbell = data.doorbell === undefined ? undefined : new Doorbell(data.doorbell.sab, data.doorbell.index)
  const writer = new RingWriter(data.sab, { doorbell })
  let state = data.seed >>> 0 || 1
  let full = 0
  let bytes = 0
  for (let seq = 0; seq < data.frames; seq++) {
    state = nextRandom(state)
    const bodyBytes = state % (data.bodyBytesMax + 1)
    const length = bodyBytes + 12
    bytes += length
    if (data.producerPauseMs !== undefined && seq > 0 && seq % data.pauseEveryFrames === 0) await sleep(data.producerPauseMs)
    const offset = writer.tryReserve(length)
    if (offset >= 0) {
      fillFrame(writer.bytes, offset, seq, bodyBytes)
      writer.commit()
      continue
    }
    full++
    await writer.writeWith(length, (target, at) => fillFrame(target, at, seq, bodyBytes), { timeoutMs: 30_000 })
  }
  return { frames: data.frames, bytes, fullOrBad: full, firstProblem: null }
}

async function consume(data: RingTestWorkerData): Promise<RingTestSummary> {
  const reader = new RingReader(data.sab)
  let seq = 0
  let bytes = 0
  let bad = 0
  let firstProblem: string | null = null
  await new Promise<void>((resolve) => {
    const loop = startReaderLoop(
      reader,
      (buffer, offset, length) => {
        const problem = checkFrame(buffer, offset, length, seq)
        if (problem !== null) {
          bad++
          firstProblem ??= problem
        }
        seq++
        bytes += length
        if (data.pauseEveryFrames > 0 && seq % data.pauseEveryFrames === 0) busyWait(data.pauseMs)
        if (seq === data.frames) void loop.stop().then(resolve)
      },
      (error) => {
        bad++
        firstProblem ??= String(error)
      },
      { framesPerTurnMax: 64 },
    )
  })
  return { frames: seq, bytes, fullOrBad: bad, firstProblem }
}

/** A slow reader: holding the thread (and the frames' space) so the producer finds the ring full. */
function busyWait(ms: number): void {
  const untilMs = Date.now() + ms
  while (Date.now() < untilMs) {
    // Busy on purpose: nothing else may run on this thread meanwhile.
  }
}

// Imported by tests for its frame helpers, it runs only as a worker.
if (workerData !== null) {
  const data = workerData as RingTestWorkerData
  const run = data.role === 'producer' ? produce : consume
  run(data).then(
    (summary) => parentPort?.postMessage(summary),
    (error: unknown) => parentPort?.postMessage({ frames: -1, bytes: 0, fullOrBad: 1, firstProblem: String(error) }),
  )
}
