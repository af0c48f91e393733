/**
 * Tests of src/runtime/ring.ts. The two-thread test runs compiled workers from dist/, so run
 * `npm run build` first (`npm test` does).
 */
import { readFileSync } from 'node:fs'
import { Worker } from 'node:worker_threads'
import fc from 'fast-check'
import { describe, expect, it, vi } from 'vitest'
import { PartitaError } from '../../src/common/errors.js'
import { Doorbell, createDoorbells } from '../../src/runtime/doorbell.js'
import { RingReader, RingWriter, createRingBuffer, maxFrameBytes, startMultiReaderLoop } from '../../src/runtime/ring.js'
import { checkFrame } from '../../src/runtime/testing/ring-test-worker.js'
import type { RingTestSummary, RingTestWorkerData } from '../../src/runtime/testing/ring-test-worker.js'

const workerUrl = new URL('../../dist/src/runtime/testing/ring-test-worker.js', import.meta.url)

function runWorker(data: RingTestWorkerData): Promise<RingTestSummary> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerUrl, { workerData: data })
    worker.once('message', (summary: RingTestSummary) => {
      resolve(summary)
      void worker.terminate()
    })
    worker.once('error', reject)
  })
}

function frameOf(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length)
  for (let i = 0; i < length; i++) bytes[i] = (seed * 31 + i * 7) & 0xff
  return bytes
}

/** This process's resident set, in bytes, from /proc (Linux). */
function residentBytes(): number {
  const rssKb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))
  if (rssKb === null) throw new Error('no VmRSS in /proc/self/status')
  return Number(rssKb[1]) * 1024
}

describe('ring memory', () => {
  it('is resident from the moment the ring is created, not as the write position first reaches each page', () => {
    const capacityBytes = 64 * 1024 * 1024
    const before = residentBytes()
    const sab = createRingBuffer(capacityBytes)
    // Untouched, a fresh 64 MiB mapping adds nothing resident; touched, all of it. GC or other
    // allocations in this process move RSS by a few MiB at most either way.
    expect(residentBytes() - before).toBeGreaterThan(capacityBytes * 0.75)
    expect(sab.byteLength).toBeGreaterThan(capacityBytes)
  })
})

describe('ring between two real worker threads', () => {
  it('delivers every seeded frame once, intact and in order, through wrap-arounds and a full ring', async () => {
    const sab = createRingBuffer(4096)
    const common = { sab, seed: 42, frames: 20_000, bodyBytesMax: 600, pauseMs: 2, pauseEveryFrames: 2_000 }
    const [consumed, produced] = await Promise.all([
      runWorker({ ...common, role: 'consumer' }),
      runWorker({ ...common, role: 'producer' }),
    ])
    expect(consumed.firstProblem).toBeNull()
    expect(consumed.fullOrBad).toBe(0)
    expect(consumed.frames).toBe(20_000)
    expect(consumed.bytes).toBe(produced.bytes)
    // The data went round the 4 KiB ring over a thousand times, and the writer had to wait.
    expect(produced.bytes).toBeGreaterThan(1000 * 4096)
    expect(produced.fullOrBad).toBeGreaterThan(0)
  })
})

describe('many rings read by one thread on its doorbell', () => {
  it('delivers every frame of three producer threads in order per ring, waking the sleeping reader each time', async () => {
    const doorbells = createDoorbells(1)
    const rings = [createRingBuffer(4096), createRingBuffer(4096), createRingBuffer(4096)]
    const frames = 3_000
    const expectedSeq = [0, 0, 0]
    const problems: string[] = []
    let received = 0
    let sleeps = 0
    const doorbell = new Doorbell(doorbells, 0)
    const sleep = doorbell.sleep.bind(doorbell)
    doorbell.sleep = (...args: Parameters<Doorbell['sleep']>) => {
      sleeps++
      return sleep(...args)
    }
    const allRead = new Promise<void>((resolve) => {
      const loop = startMultiReaderLoop(doorbell, (error) => problems.push(String(error)), { spinMicros: 0 })
      rings.forEach((sab, ring) =>
        loop.add(ring, {
          reader: new RingReader(sab),
          visit: (bytes, offset, length) => {
            const problem = checkFrame(bytes, offset, length, expectedSeq[ring]++)
            if (problem !== null) problems.push(`ring ${ring}: ${problem}`)
            if (++received === frames * rings.length) void loop.stop().then(resolve)
          },
        }),
      )
    })
    const produced = await Promise.all(
      rings.map((sab, ring) =>
        runWorker({ role: 'producer', sab, seed: ring + 1, frames, bodyBytesMax: 300, pauseMs: 0, pauseEveryFrames: 500, producerPauseMs: 20, doorbell: { sab: doorbells, index: 0 } }),
      ),
    )
    await allRead
    expect(problems).toEqual([])
    expect(expectedSeq).toEqual([frames, frames, frames])
    expect(produced.every((p) => p.firstProblem === null)).toBe(true)
    // The producers paused, so the reader slept and each wake-up came from a doorbell.
    expect(sleeps).toBeGreaterThan(0)
  })

  it('sleeps on its doorbell with no timer per sleep, and one interval finds frames whose ring was lost', async () => {
    const doorbell = new Doorbell(createDoorbells(1), 0)
    const sleep = doorbell.sleep.bind(doorbell)
    let sleeps = 0
    let asleep: () => void = () => {}
    const slept = new Promise<void>((resolve) => (asleep = resolve))
    doorbell.sleep = (...args: Parameters<Doorbell['sleep']>) => {
      // The first sleep comes before the ring is added, and add() wakes it: wait for the next.
      if (++sleeps === 2) asleep()
      return sleep(...args)
    }
    const timeouts = vi.spyOn(globalThis, 'setTimeout')
    const intervals = vi.spyOn(globalThis, 'setInterval')
    try {
      const sab = createRingBuffer(256)
      const seen: Buffer[] = []
      let visited: () => void = () => {}
      const arrived = new Promise<void>((resolve) => (visited = resolve))
      const loop = startMultiReaderLoop(doorbell, () => {}, { spinMicros: 0, idleWaitMs: 20 })
      loop.add(0, {
        reader: new RingReader(sab),
        visit: (bytes, offset, length) => {
          seen.push(Buffer.from(bytes.subarray(offset, offset + length)))
          visited()
        },
      })
      await slept
      // A writer with no doorbell publishes without ringing: only the loop's interval can find it.
      const writer = new RingWriter(sab)
      expect(writer.tryWrite(frameOf(10, 1))).toBe(true)
      await arrived
      await loop.stop()
      expect(seen).toEqual([frameOf(10, 1)])
      expect(sleeps).toBeGreaterThanOrEqual(2)
      // Other code of this process (the test runner's) may set timers of its own: count the loop's.
      expect(timeouts.mock.calls.filter(([, delayMs]) => delayMs === 20)).toEqual([])
      expect(intervals.mock.calls.filter(([, delayMs]) => delayMs === 20)).toHaveLength(1)
    } finally {
      timeouts.mockRestore()
      intervals.mockRestore()
    }
  })
})

describe('ring in one thread', () => {
  it('keeps frames of any size (0, 1, exactly to the end, the maximum) whole and in order', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('write' as const), size: fc.oneof(fc.constantFrom('zero', 'one', 'toEnd', 'toEndPlus1', 'max'), fc.nat(300)) }),
      fc.record({ kind: fc.constant('read' as const), count: fc.integer({ min: 1, max: 8 }) }),
    )
    fc.assert(
      fc.property(fc.constantFrom(64, 128, 512), fc.array(op, { maxLength: 200 }), (capacity, ops) => {
        const sab = createRingBuffer(capacity)
        const writer = new RingWriter(sab)
        const reader = new RingReader(sab)
        const expected: Buffer[] = []
        const read: Buffer[] = []
        const readAll = (count: number): void => {
          for (let i = 0; i < count; i++) {
            const frame = reader.tryRead()
            if (frame === null) break
            read.push(frame)
          }
        }
        let seed = 0
        for (const step of ops) {
          if (step.kind === 'read') {
            readAll(step.count)
            continue
          }
          const max = maxFrameBytes(capacity)
          const size =
            step.size === 'zero' ? 0
            : step.size === 'one' ? 1
            : step.size === 'toEnd' ? Math.max(0, writer.bytesBeforeWrap - 8)
            : step.size === 'toEndPlus1' ? Math.min(max, Math.max(0, writer.bytesBeforeWrap - 7))
            : step.size === 'max' ? max
            : Math.min(max, step.size)
          const frame = frameOf(size, seed++)
          if (writer.tryWrite(frame)) {
            expected.push(frame)
            continue
          }
          // A refused frame fits once the reader has caught up (the pad may need a round of its own).
          readAll(Infinity)
          expect(writer.tryWrite(frame) || (readAll(Infinity), writer.tryWrite(frame))).toBe(true)
          expected.push(frame)
        }
        readAll(Infinity)
        expect(read.length).toBe(expected.length)
        for (let i = 0; i < expected.length; i++) expect(read[i].equals(expected[i])).toBe(true)
      }),
      { seed: 42, numRuns: 300 },
    )
  })

  it("starts every frame's bytes on an 8-byte boundary of the shared memory, across wrap-arounds", () => {
    const sab = createRingBuffer(256)
    const writer = new RingWriter(sab)
    const reader = new RingReader(sab)
    const offsets: number[] = []
    // Bounded: 200 frames of 0-37 bytes.
    for (let i = 0; i < 200; i++) {
      expect(writer.tryWrite(Buffer.alloc(i % 38, i))).toBe(true)
      reader.drain((bytes, offset, length) => {
        expect(bytes.subarray(offset, offset + length).equals(Buffer.alloc(i % 38, i))).toBe(true)
        offsets.push(bytes.byteOffset + offset)
      })
    }
    expect(offsets).toHaveLength(200)
    for (const offset of offsets) expect(offset % 8).toBe(0)
  })

  it('refuses a frame bigger than the ring with PARTITA_FRAME_TOO_LARGE', () => {
    const sab = createRingBuffer(64)
    const writer = new RingWriter(sab)
    // Each frame has an 8-byte header (see ring.ts).
    expect(() => writer.tryWrite(Buffer.alloc(57))).toThrow(PartitaError)
    try {
      writer.tryWrite(Buffer.alloc(57))
    } catch (error) {
      expect((error as PartitaError).code).toBe('PARTITA_FRAME_TOO_LARGE')
    }
    expect(writer.tryWrite(Buffer.alloc(56))).toBe(true)
  })

  it('makes write wait for space, woken by the reader, and keeps call order', async () => {
    const sab = createRingBuffer(64)
    const writer = new RingWriter(sab)
    const reader = new RingReader(sab)
    expect(writer.tryWrite(frameOf(40, 1))).toBe(true)
    const second = writer.write(frameOf(40, 2))
    // Queued writes go first: a later tryWrite must not overtake the waiting one.
    expect(writer.tryWrite(frameOf(4, 3))).toBe(false)
    const third = writer.write(frameOf(4, 3))
    expect(writer.waitingWrites).toBe(2)
    expect(reader.tryRead()?.equals(frameOf(40, 1))).toBe(true)
    await second
    expect(reader.tryRead()?.equals(frameOf(40, 2))).toBe(true)
    await third
    expect(reader.tryRead()?.equals(frameOf(4, 3))).toBe(true)
    expect(reader.tryRead()).toBeNull()
  })

  it('rejects a write that waits past its timeout with PARTITA_RING_FULL', async () => {
    const sab = createRingBuffer(64)
    const writer = new RingWriter(sab)
    expect(writer.tryWrite(frameOf(40, 1))).toBe(true)
    await expect(writer.write(frameOf(40, 2), { timeoutMs: 20 })).rejects.toMatchObject({ code: 'PARTITA_RING_FULL' })
  })

  it('lets a reader sleep and wakes it when a frame is published', async () => {
    const sab = createRingBuffer(64)
    const writer = new RingWriter(sab)
    const reader = new RingReader(sab, { spinMicros: 0 })
    const woken = reader.waitForData(10_000)
    setImmediate(() => writer.tryWrite(frameOf(3, 9)))
    const startedMs = Date.now()
    await woken
    expect(Date.now() - startedMs).toBeLessThan(5_000)
    expect(reader.tryRead()?.equals(frameOf(3, 9))).toBe(true)
  })
})
