/**
 * Tests of src/runtime/shard-pool.ts with real shard workers. Workers load compiled JS from
 * dist/ (the echo actor and the shard entry), so run `npm run build` first (`npm test` does).
 */
import { once } from 'node:events'
import fs from 'node:fs'
import os, { availableParallelism } from 'node:os'
import path from 'node:path'
import { Worker, type ResourceLimits } from 'node:worker_threads'
import { afterEach, describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/common/error-codes.js'
import { KafkaError, PartitaError } from '../../src/common/errors.js'
import { ManualClock, type Clock } from '../../src/common/clock.js'
import { compiledUrl } from '../../src/runtime/compiled-url.js'
import { poolThreadsPerShard } from '../../src/runtime/cpu-pool.js'
import { MAIN_THREAD, ShardPool, type ActorEvent, type ShardExit } from '../../src/runtime/shard-pool.js'

const echoUrl = compiledUrl(import.meta.url, '../../src/runtime/testing/echo-actor.js')
let pool: ShardPool | null = null

async function startPool(options: { shards?: number; cpuPoolThreadsMax?: number; clock?: Clock; heartbeatIntervalMs?: number; requestTimeoutMs?: number; ringBytes?: number; oldGenerationSizeMb?: number; youngGenerationSizeMb?: number } = {}): Promise<ShardPool> {
  pool = await ShardPool.start({ actorModules: { echo: echoUrl }, shards: 2, ringBytes: 1 << 16, ...options })
  return pool
}

/** The resource limits a shard of a pool started with `options` runs under; the pool is stopped after. */
async function shardResourceLimits(options: { oldGenerationSizeMb?: number; youngGenerationSizeMb?: number } = {}): Promise<ResourceLimits> {
  const shards = await startPool(options)
  await shards.spawn(0, 'echo', 'limits')
  const limits = await shards.request<ResourceLimits>({ shard: 0, id: 'limits' }, { op: 'resourceLimits' })
  await shards.stop()
  return limits.message
}

/** What a worker started with no resource limits gets as its young generation on this Node. */
async function plainWorkerYoungGenerationMb(): Promise<number> {
  const worker = new Worker("require('node:worker_threads').parentPort.postMessage(require('node:worker_threads').resourceLimits.maxYoungGenerationSizeMb)", { eval: true })
  const [mb] = (await once(worker, 'message')) as [number]
  await worker.terminate()
  return mb
}

afterEach(async () => {
  await pool?.stop()
  pool = null
})

function nextEvent<T>(subscribe: (handler: (value: T) => void) => () => void): Promise<T> {
  return new Promise((resolve) => {
    const unsubscribe = subscribe((value) => {
      unsubscribe()
      resolve(value)
    })
  })
}

describe('ShardPool', () => {
  it('writes a heap snapshot of each running shard, named as Node names its own with the shard after', async () => {
    const shards = await startPool({ shards: 2 })
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'partita-heap-'))
    try {
      const files = await shards.writeHeapSnapshots(dir)
      expect(files).toHaveLength(2)
      expect(fs.readdirSync(dir).sort()).toEqual(files.map((f) => path.basename(f)).sort())
      for (const [index, file] of files.entries()) {
        expect(path.basename(file)).toMatch(new RegExp(`^Heap\\.\\d{8}\\.\\d{6}\\.${process.pid}\\.\\d+\\.\\d+\\.shard-${index}\\.heapsnapshot$`))
        const snapshot = JSON.parse(fs.readFileSync(file, 'utf8')) as { snapshot: { node_count: number; meta: { node_fields: string[] } } }
        expect(snapshot.snapshot.meta.node_fields).toContain('self_size')
        expect(snapshot.snapshot.node_count).toBeGreaterThan(1000)
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('round-trips requests with payloads to actors on two shards', async () => {
    const shards = await startPool()
    await shards.spawn(0, 'echo', 'a', { name: 'first' })
    await shards.spawn(1, 'echo', 7, { name: 'second' })
    const payload = Buffer.from(Array.from({ length: 3000 }, (_, i) => i & 0xff))
    const a = await shards.request({ shard: 0, id: 'a' }, { op: 'echo', value: { n: 1 } }, payload)
    expect(a.message).toEqual({ value: { n: 1 }, name: 'first', at: { shard: 0, id: 'a' } })
    expect(a.payload?.equals(payload)).toBe(true)
    const b = await shards.request({ shard: 1, id: 7 }, { op: 'echo', value: 'x' })
    expect(b.message).toEqual({ value: 'x', name: 'second', at: { shard: 1, id: 7 } })
    expect(b.payload).toBeUndefined()
    // Many requests in flight at once, more bytes than the 64 KiB rings hold: all answered, in order per actor.
    const answers = await Promise.all(Array.from({ length: 200 }, () => shards.request<{ count: number }>({ shard: 1, id: 7 }, { op: 'count' })))
    expect(answers.map((answer) => answer.message.count)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1))
    const big = Buffer.alloc(40_000, 9)
    const echoed = await Promise.all(Array.from({ length: 20 }, () => shards.request({ shard: 0, id: 'a' }, { op: 'echo' }, big)))
    for (const answer of echoed) expect(answer.payload?.equals(big)).toBe(true)
  })

  it('carries actor-to-actor requests and tells between shards over their own rings, never through the main thread', async () => {
    const shards = await startPool()
    await shards.spawn(0, 'echo', 'left')
    await shards.spawn(1, 'echo', 'right', { name: 'right' })
    await shards.spawn(0, 'echo', 'near', { name: 'near' })
    const payload = Buffer.from('record batch bytes')
    const across = await shards.request({ shard: 0, id: 'left' }, { op: 'forward', to: { shard: 1, id: 'right' }, value: 5 }, payload)
    expect(across.message).toEqual({ forwarded: { value: 5, name: 'right', at: { shard: 1, id: 'right' } }, lent: false })
    expect(across.payload?.equals(payload)).toBe(true)
    const near = await shards.request({ shard: 0, id: 'left' }, { op: 'forward', to: { shard: 0, id: 'near' }, value: 6 })
    expect(near.message).toEqual({ forwarded: { value: 6, name: 'near', at: { shard: 0, id: 'near' } }, lent: false })
    await shards.request({ shard: 0, id: 'left' }, { op: 'tell', to: { shard: 1, id: 'right' }, value: 'one' })
    await shards.request({ shard: 0, id: 'left' }, { op: 'tell', to: { shard: 1, id: 'right' }, value: 'two' })
    // The tells were relayed before this request was sent from the same shard; poll the ordered log.
    const log = await shards.request({ shard: 0, id: 'left' }, { op: 'forward', to: { shard: 1, id: 'right' } })
    expect(log.message).toEqual({ forwarded: { value: undefined, name: 'right', at: { shard: 1, id: 'right' } }, lent: false })
    expect((await shards.request({ shard: 1, id: 'right' }, { op: 'log' })).message).toEqual(['one', 'two'])
    // An actor asking a missing actor on another shard gets the error back.
    await expect(shards.request({ shard: 0, id: 'left' }, { op: 'forward', to: { shard: 1, id: 'nobody' } })).rejects.toMatchObject({
      code: 'PARTITA_NO_SUCH_ACTOR',
    })
    // Fifty requests from shard 0 to shard 1 with a payload each: the main thread reads only the
    // one reply to its own request.
    const before = shards.framesFromShards
    const many = await shards.request<{ forwarded: unknown }>({ shard: 0, id: 'left' }, { op: 'forwardMany', to: { shard: 1, id: 'right' }, count: 50 }, payload)
    expect(many.message).toEqual({ forwarded: 50 })
    expect(shards.framesFromShards - before).toBe(1)
  })

  it('answers a shard\'s request to the main thread with the handler it registered', async () => {
    const shards = await startPool()
    shards.onRequest(({ fromShard, id, message, payload }) => ({ message: { fromShard, id, message }, payload }))
    await shards.spawn(1, 'echo', 'asker')
    const answer = await shards.request({ shard: 1, id: 'asker' }, { op: 'forward', to: { shard: MAIN_THREAD, id: 'controller' }, value: 'create topic' }, Buffer.from('x'))
    expect(answer.message).toEqual({ forwarded: { fromShard: 1, id: 'controller', message: { op: 'echo', value: 'create topic' } }, lent: false })
    expect(answer.payload?.toString()).toBe('x')
  })

  it('rethrows a handler error on the caller side with its code', async () => {
    const shards = await startPool()
    await shards.spawn(1, 'echo', 'e')
    const kafka = shards.request({ shard: 1, id: 'e' }, { op: 'fail', errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, message: 'not here' })
    await expect(kafka).rejects.toBeInstanceOf(KafkaError)
    await expect(kafka).rejects.toMatchObject({ errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, message: 'not here' })
    const partita = shards.request({ shard: 1, id: 'e' }, { op: 'fail', code: 'PARTITA_CUSTOM', message: 'broken' })
    await expect(partita).rejects.toBeInstanceOf(PartitaError)
    await expect(partita).rejects.toMatchObject({ code: 'PARTITA_CUSTOM', message: 'broken' })
    await expect(shards.spawn(0, 'echo', 'bad', { failToStart: 'no disk' })).rejects.toMatchObject({ code: 'PARTITA_TEST_START' })
    await expect(shards.spawn(1, 'echo', 'e')).rejects.toMatchObject({ code: 'PARTITA_ACTOR_EXISTS' })
    await expect(shards.spawn(1, 'nope', 'x')).rejects.toMatchObject({ code: 'PARTITA_UNKNOWN_ACTOR_KIND' })
    // The actor still works after its handler threw.
    expect((await shards.request<{ count: number }>({ shard: 1, id: 'e' }, { op: 'count' })).message.count).toBe(1)
  })

  it("gives a read buffer lent from the shard's pool back to it once the ring copied the answer, and the asker keeps an intact copy", async () => {
    // Rings that hold a whole read of the pool's smallest size class (64 KiB) and more.
    const shards = await startPool({ ringBytes: 1 << 20 })
    await shards.spawn(0, 'echo', 'a')
    const bytes = 128 * 1024
    const first = await shards.request({ shard: 0, id: 'a' }, { op: 'lendRead', bytes, fill: 1 })
    const retained = await shards.request<{ retainedBytes: number }>({ shard: 0, id: 'a' }, { op: 'readPoolRetained' })
    expect(retained.message.retainedBytes).toBe(bytes)
    // The next read reuses the same memory: the first answer must not change under it.
    const second = await shards.request({ shard: 0, id: 'a' }, { op: 'lendRead', bytes, fill: 2 })
    expect(first.payload?.equals(Buffer.alloc(bytes, 1))).toBe(true)
    expect(second.payload?.equals(Buffer.alloc(bytes, 2))).toBe(true)
  })

  it("copies a cross-shard answer into a buffer lent from the pool its asker names, and into a buffer of its own otherwise", async () => {
    const shards = await startPool({ ringBytes: 1 << 20 })
    await shards.spawn(0, 'echo', 'asker')
    await shards.spawn(1, 'echo', 'answerer')
    const forward = (payload: Buffer, lendReplyPayload: boolean) =>
      shards.request<{ lent: boolean }>({ shard: 0, id: 'asker' }, { op: 'forward', to: { shard: 1, id: 'answerer' }, lendReplyPayload }, payload)
    const big = Buffer.alloc(100 * 1024, 7)
    const lent = await forward(big, true)
    expect(lent.message.lent).toBe(true)
    expect(lent.payload?.equals(big)).toBe(true)
    // The asker answered with the lent buffer, and the ring to the main thread copied it: it is
    // back in shard 0's pool (its 128 KiB class), for the next answer to reuse.
    const retained = await shards.request<{ retainedBytes: number }>({ shard: 0, id: 'asker' }, { op: 'readPoolRetained' })
    expect(retained.message.retainedBytes).toBe(128 * 1024)
    // Below the pool's smallest class (64 KiB) an answer gets a buffer of its own.
    const small = Buffer.alloc(5000, 3)
    const smallCopy = await forward(small, true)
    expect(smallCopy.message.lent).toBe(false)
    expect(smallCopy.payload?.equals(small)).toBe(true)
    const plain = await forward(big, false)
    expect(plain.message.lent).toBe(false)
    expect(plain.payload?.equals(big)).toBe(true)
  })

  it('answers a request whose answer is larger than the ring, carried across in fragments', async () => {
    const shards = await startPool({ requestTimeoutMs: 60_000 })
    await shards.spawn(0, 'echo', 'a')
    // 128 KiB of payload does not fit one frame of a 64 KiB ring.
    const answer = await shards.request({ shard: 0, id: 'a' }, { op: 'lendRead', bytes: 128 * 1024, fill: 1 })
    expect(answer.payload).toEqual(Buffer.alloc(128 * 1024, 1))
    expect((await shards.request<{ count: number }>({ shard: 0, id: 'a' }, { op: 'count' })).message.count).toBe(1)
  })

  it('lets a parked reply answer later while the mailbox moves on', async () => {
    const shards = await startPool()
    await shards.spawn(0, 'echo', 'p')
    const parked = shards.request({ shard: 0, id: 'p' }, { op: 'park' })
    expect((await shards.request<{ count: number }>({ shard: 0, id: 'p' }, { op: 'count' })).message.count).toBe(1)
    await shards.request({ shard: 0, id: 'p' }, { op: 'release', value: 'data arrived' })
    expect((await parked).message).toEqual({ released: 'data arrived' })
  })

  it('refuses a request with PARTITA_MAILBOX_FULL once the mailbox bound is reached', async () => {
    const shards = await startPool()
    await shards.spawn(0, 'echo', 'slow', undefined, { mailboxCapacity: 2 })
    const sleeping = nextEvent<ActorEvent>((handler) => shards.onEvent(handler))
    const busy = shards.request({ shard: 0, id: 'slow' }, { op: 'sleep', ms: 300 })
    // Once the first message is being handled, the next two fill the mailbox.
    expect((await sleeping).event).toEqual({ sleeping: 300 })
    const queued = [shards.request({ shard: 0, id: 'slow' }, { op: 'count' }), shards.request({ shard: 0, id: 'slow' }, { op: 'count' })]
    await expect(shards.request({ shard: 0, id: 'slow' }, { op: 'count' })).rejects.toMatchObject({ code: 'PARTITA_MAILBOX_FULL' })
    await busy
    expect((await Promise.all(queued)).map((answer) => (answer.message as { count: number }).count)).toEqual([1, 2])
  })

  it('delivers actor events to the main thread', async () => {
    const shards = await startPool()
    await shards.spawn(1, 'echo', 'emitter')
    const event = nextEvent<ActorEvent>((handler) => shards.onEvent(handler))
    await shards.request({ shard: 1, id: 'emitter' }, { op: 'emit', value: 'isr changed' }, Buffer.from([1, 2, 3]))
    const got = await event
    expect(got.from).toEqual({ shard: 1, id: 'emitter' })
    expect(got.event).toEqual({ value: 'isr changed' })
    expect([...(got.payload ?? [])]).toEqual([1, 2, 3])
  })

  it('rejects pending requests with PARTITA_SHARD_DIED when a shard is killed, and restarts it fresh', async () => {
    const shards = await startPool()
    await shards.spawn(0, 'echo', 'victim')
    await shards.spawn(1, 'echo', 'asker')
    const exited = nextEvent<ShardExit>((handler) => shards.onShardExit(handler))
    const parked = shards.request({ shard: 0, id: 'victim' }, { op: 'park' }).catch((error: unknown) => error)
    const relayed = shards.request({ shard: 1, id: 'asker' }, { op: 'forward', to: { shard: 0, id: 'victim' }, message: { op: 'park' } }).catch((error: unknown) => error)
    await shards.request({ shard: 0, id: 'victim' }, { op: 'count' })
    await shards.killShard(0)
    expect(await parked).toMatchObject({ code: 'PARTITA_SHARD_DIED' })
    // The other shard's request to the dead one fails the same way, at once.
    expect(await relayed).toMatchObject({ code: 'PARTITA_SHARD_DIED' })
    expect(await exited).toMatchObject({ shard: 0, killed: true })
    expect(shards.isAlive(0)).toBe(false)
    await expect(shards.request({ shard: 0, id: 'victim' }, { op: 'count' })).rejects.toMatchObject({ code: 'PARTITA_SHARD_DIED' })
    await shards.restartShard(0)
    expect(shards.isAlive(0)).toBe(true)
    await expect(shards.request({ shard: 0, id: 'victim' }, { op: 'count' })).rejects.toMatchObject({ code: 'PARTITA_NO_SUCH_ACTOR' })
    await shards.spawn(0, 'echo', 'victim')
    expect((await shards.request<{ count: number }>({ shard: 0, id: 'victim' }, { op: 'count' })).message.count).toBe(1)
    // The surviving shard was untouched, and reaches the restarted one over fresh rings.
    expect((await shards.request<{ count: number }>({ shard: 1, id: 'asker' }, { op: 'count' })).message.count).toBe(1)
    const across = await shards.request({ shard: 1, id: 'asker' }, { op: 'forward', to: { shard: 0, id: 'victim' }, message: { op: 'count' } })
    expect(across.message).toEqual({ forwarded: { count: 2 }, lent: false })
  })

  it('reports a shard that stops sending heartbeats as unresponsive', async () => {
    const shards = await startPool({ heartbeatIntervalMs: 50 })
    await shards.spawn(1, 'echo', 'blocker')
    // On a loaded machine the healthy shard may be late too; only the blocked one must be reported.
    const unresponsive = new Promise<number>((resolve) => {
      const unsubscribe = shards.onShardUnresponsive((shard) => {
        if (shard !== 1) return
        unsubscribe()
        resolve(shard)
      })
    })
    const blocked = shards.request({ shard: 1, id: 'blocker' }, { op: 'block', ms: 1_000 })
    expect(await unresponsive).toBe(1)
    await blocked
  })

  it("measures a shard's silence afresh after this thread stalled, so a paused process declares no shard dead when it resumes", async () => {
    // Time moves only when the test says; the shards' own heartbeats (every minute) never come.
    const clock = new ManualClock()
    const jumpThenFire = (ms: number): void => {
      clock.jump(ms)
      clock.advance(0)
    }
    const shards = await startPool({ heartbeatIntervalMs: 60_000, clock })
    const reported: number[] = []
    shards.onShardUnresponsive((shard) => reported.push(shard))
    // The whole process stood still for five intervals: the first check after it is late.
    jumpThenFire(5 * 60_000)
    expect(reported).toEqual([])
    // One interval on, the shards have been silent one interval since the stall, not six.
    jumpThenFire(60_000)
    expect(reported).toEqual([])
    // Left silent past missedHeartbeatsMax (3) intervals, they are reported.
    for (let i = 0; i < 3; i++) jumpThenFire(60_000)
    expect(reported.sort()).toEqual([0, 1])
  })

  it('does not judge a shard silent while its heap snapshot is written, and judges it again after', async () => {
    // Time moves only when the test says; the shard's own heartbeats (every minute) never come.
    const clock = new ManualClock()
    const jumpThenFire = (ms: number): void => {
      clock.jump(ms)
      clock.advance(0)
    }
    const shards = await startPool({ shards: 1, heartbeatIntervalMs: 60_000, clock })
    const reported: number[] = []
    shards.onShardUnresponsive((shard) => reported.push(shard))
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'partita-heap-'))
    try {
      const written = shards.writeHeapSnapshots(dir)
      // Past missedHeartbeatsMax (3) intervals while the snapshot is being taken.
      for (let i = 0; i < 4; i++) jumpThenFire(60_000)
      expect(reported).toEqual([])
      expect(await written).toHaveLength(1)
      for (let i = 0; i < 4; i++) jumpThenFire(60_000)
      expect(reported).toEqual([0])
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('names each live shard by its own OS thread id, and a restarted shard by its new thread', async () => {
    const shards = await startPool()
    const { main, shards: [first, second] } = shards.threadIds()
    expect(main).toBe(process.pid)
    // Linux threads of this process are listed under /proc/self/task; the main thread's id is the pid.
    const threads = fs.readdirSync('/proc/self/task').map(Number)
    for (const tid of [first, second]) {
      expect(threads).toContain(tid)
      expect(tid).not.toBe(process.pid)
    }
    expect(first).not.toBe(second)
    await shards.killShard(0)
    expect(shards.threadIds().shards).toEqual([-1, second])
    await shards.restartShard(0)
    const [restarted] = shards.threadIds().shards
    expect(fs.readdirSync('/proc/self/task').map(Number)).toContain(restarted)
    expect(restarted).not.toBe(first)
  })

  it('runs restarts of one shard asked for at once as one, leaving no worker behind', async () => {
    const shards = await startPool()
    await shards.restartShard(1)
    const threadsBefore = fs.readdirSync('/proc/self/task').length
    for (let round = 0; round < 5; round++) await Promise.all([shards.restartShard(1), shards.restartShard(1), shards.restartShard(1)])
    expect(fs.readdirSync('/proc/self/task').length).toBe(threadsBefore)
    await shards.spawn(1, 'echo', 'after')
    expect((await shards.request({ shard: 1, id: 'after' }, { op: 'echo', value: 1 })).message).toMatchObject({ value: 1 })
  })

  it("sets each shard's young generation when asked, and leaves a worker's own otherwise", async () => {
    expect((await shardResourceLimits({ youngGenerationSizeMb: 24 })).maxYoungGenerationSizeMb).toBe(24)
    expect((await shardResourceLimits()).maxYoungGenerationSizeMb).toBe(await plainWorkerYoungGenerationMb())
  })

  it("caps each shard's old generation when asked, and leaves V8's own limit otherwise", async () => {
    expect((await shardResourceLimits({ oldGenerationSizeMb: 300 })).maxOldGenerationSizeMb).toBe(300)
    expect((await shardResourceLimits()).maxOldGenerationSizeMb).toBeGreaterThan(300)
  })

  it("gives each shard's CPU pool the threads it was told, and by default a share of half the cores", async () => {
    const poolThreadsMax = async (shards: ShardPool): Promise<number> => {
      await shards.spawn(1, 'echo', 'pool')
      return (await shards.request<{ threadsMax: number }>({ shard: 1, id: 'pool' }, { op: 'cpuPoolThreadsMax' })).message.threadsMax
    }
    expect(await poolThreadsMax(await startPool({ cpuPoolThreadsMax: 3 }))).toBe(3)
    await pool?.stop()
    expect(await poolThreadsMax(await startPool({ shards: 3 }))).toBe(poolThreadsPerShard(availableParallelism(), 3))
  })

  it('times out a request nobody answers with PARTITA_REQUEST_TIMEOUT', async () => {
    const shards = await startPool()
    await shards.spawn(0, 'echo', 'quiet')
    await expect(shards.request({ shard: 0, id: 'quiet' }, { op: 'park' }, undefined, { timeoutMs: 50 })).rejects.toMatchObject({
      code: 'PARTITA_REQUEST_TIMEOUT',
    })
  })
})
