import { afterEach, describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/common/error-codes.js'
import { ApiKey } from '../../src/protocol/index.js'
import { HANDLERS } from '../../src/server/handlers/index.js'
import { batchOf, overrideCore, startTestServer, type TestServer } from './helpers.js'
import { rawFrame } from './wire-client.js'
import { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import { Connection } from '../../src/server/connection.js'
import { encodeRequest } from '../../src/protocol/index.js'

let ts: TestServer | undefined

afterEach(async () => {
  await ts?.close()
  ts = undefined
})

async function createTopic(name: string, numPartitions = 1): Promise<void> {
  const [result] = await ts!.core.createTopics([{ name, numPartitions, replicationFactor: 1, configs: {} }], false)
  expect(result.errorCode).toBe(ErrorCode.NONE)
}

describe('ApiVersions', () => {
  it('advertises exactly the versions the handlers declare, at every version it serves', async () => {
    ts = await startTestServer()
    const client = await ts.connect()
    const declared = HANDLERS.map((h) => ({ apiKey: h.apiKey, minVersion: h.minVersion, maxVersion: h.maxVersion })).sort((a, b) => a.apiKey - b.apiKey)
    for (let version = 0; version <= 3; version++) {
      const response = await client.request(ApiKey.ApiVersions, version, { clientSoftwareName: 'test', clientSoftwareVersion: '1.0' })
      expect(response.errorCode).toBe(ErrorCode.NONE)
      expect(response.apiKeys).toEqual(declared)
    }
    const byKey = new Map<number, (typeof declared)[number]>(declared.map((d) => [d.apiKey, d]))
    expect(byKey.get(ApiKey.ApiVersions)).toEqual({ apiKey: 18, minVersion: 0, maxVersion: 3 })
    // librdkafka 2.0.x compresses with gzip, snappy and lz4 only when Produce v0 is listed.
    expect(byKey.get(ApiKey.Produce)).toEqual({ apiKey: 0, minVersion: 0, maxVersion: 9 })
    expect(byKey.get(ApiKey.Fetch)).toEqual({ apiKey: 1, minVersion: 0, maxVersion: 12 })
    expect(byKey.has(ApiKey.SaslHandshake)).toBe(false)
    // Transactions: AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, WriteTxnMarkers, TxnOffsetCommit.
    for (const transactional of [24, 25, 26, 27, 28]) expect(byKey.get(transactional)).toMatchObject({ minVersion: 0 })
  })

  it('answers an ApiVersions version it does not serve with UNSUPPORTED_VERSION in a v0 body', async () => {
    ts = await startTestServer()
    const client = await ts.connect()
    const response = await client.request(ApiKey.ApiVersions, 4, {}, { responseVersion: 0 })
    expect(response.errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION)
    expect(response.apiKeys).toEqual([{ apiKey: 18, minVersion: 0, maxVersion: 3 }])
    // A version beyond any grammar we know is answered the same way, and the connection stays up.
    const flexibleHeader = Buffer.concat([rawFrame(18, 99, 77, Buffer.from([0, 0])).subarray(0, 14), Buffer.from([0, 0, 0])])
    flexibleHeader.writeInt32BE(flexibleHeader.length - 4, 0)
    client.writeRaw(flexibleHeader)
    const retried = await client.request(ApiKey.ApiVersions, 0, {})
    expect(retried.errorCode).toBe(ErrorCode.NONE)
    expect(client.arrivals).toContain(77)
  })
})

describe('connection handling', () => {
  it('closes the connection on an unsupported version of another API', async () => {
    ts = await startTestServer()
    const client = await ts.connect()
    void client.request(ApiKey.Metadata, 10, { topics: null }).catch(() => {})
    await client.closed
    expect(ts.warnings.some((w) => w.includes('unsupported version 10 of api key 3'))).toBe(true)
  })

  it('closes the connection on an api key it does not serve', async () => {
    ts = await startTestServer()
    const client = await ts.connect()
    // CreateAcls (30) is not served.
    client.writeRaw(rawFrame(30, 0, 1, Buffer.alloc(8)))
    await client.closed
    expect(ts.warnings.some((w) => w.includes('unsupported api key 30'))).toBe(true)
  })

  it('closes the connection on a frame size above socket.request.max.bytes or below zero', async () => {
    ts = await startTestServer({}, { socketRequestMaxBytes: 1024 })
    for (const size of [1025, -1, -2147483648]) {
      const client = await ts.connect()
      const prefix = Buffer.alloc(4)
      prefix.writeInt32BE(size, 0)
      client.writeRaw(prefix)
      await client.closed
    }
    expect(ts.warnings.filter((w) => w.includes('socket.request.max.bytes'))).toHaveLength(3)
    // A frame at the limit is still read (and answered).
    const client = await ts.connect()
    const response = await client.request(ApiKey.Metadata, 1, { topics: [{ name: 'x'.repeat(900) }] })
    expect(response.topics[0].errorCode).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION)
  })

  it('closes only the connection that sent an unparsable request', async () => {
    ts = await startTestServer()
    const good = await ts.connect()
    const bad = await ts.connect()
    // Metadata v1 claiming 1,000,000 topics and then ending.
    bad.writeRaw(rawFrame(ApiKey.Metadata, 1, 5, Buffer.from([0x00, 0x0f, 0x42, 0x40])))
    await bad.closed
    const badHeader = await ts.connect()
    badHeader.writeRaw(Buffer.from([0, 0, 0, 3, 0, 3, 0]))
    await badHeader.closed
    const response = await good.request(ApiKey.ApiVersions, 2, {})
    expect(response.errorCode).toBe(ErrorCode.NONE)
    expect(ts.warnings.filter((w) => w.includes('unparsable request') || w.includes('unreadable request header'))).toHaveLength(2)
  })

  it('closes only the connection whose request failed inside the broker, and keeps serving', async () => {
    ts = await startTestServer(
      {},
      {
        wrapCore: (core) => overrideCore(core, 'listOffsets', () => async () => Promise.reject(new Error('disk on fire'))),
      },
    )
    const failing = await ts.connect()
    const healthy = await ts.connect()
    void failing.request(ApiKey.ListOffsets, 1, { replicaId: -1, topics: [{ name: 't', partitions: [{ partitionIndex: 0, timestamp: -1 }] }] }).catch(() => {})
    await failing.closed
    expect(ts.warnings).toEqual([expect.stringContaining('failed in the broker: disk on fire')])
    const response = await healthy.request(ApiKey.Metadata, 1, { topics: null })
    expect(response.brokers).toHaveLength(1)
  })

  it('reassembles frames split across TCP segments and answers frames sent back to back', async () => {
    ts = await startTestServer()
    const client = await ts.connect()
    const first = client.request(ApiKey.ApiVersions, 0, {})
    await first
    // Three frames in one write, then one frame a byte at a time.
    const frames = Buffer.concat([rawFrame(18, 0, 100, Buffer.alloc(0)), rawFrame(18, 1, 101, Buffer.alloc(0)), rawFrame(18, 2, 102, Buffer.alloc(0))])
    client.writeRaw(frames)
    const slow = rawFrame(3, 1, 103, Buffer.from([0xff, 0xff, 0xff, 0xff]))
    for (const byte of slow) client.writeRaw(Buffer.from([byte]))
    const deadline = Date.now() + 5000
    while (client.arrivals.length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    expect(client.arrivals).toEqual([first.correlationId, 100, 101, 102, 103])
  })

  it('answers in request order when a slow long-poll fetch precedes a fast metadata request', async () => {
    ts = await startTestServer()
    await createTopic('orders')
    const client = await ts.connect()
    const started = Date.now()
    const fetch = client.request(ApiKey.Fetch, 11, {
      maxWaitMs: 300,
      minBytes: 1,
      maxBytes: 1 << 20,
      topics: [{ topic: 'orders', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }] }],
    })
    const metadata = client.request(ApiKey.Metadata, 9, { topics: null })
    const [fetched, meta] = await Promise.all([fetch, metadata])
    expect(Date.now() - started).toBeGreaterThanOrEqual(250)
    expect(client.arrivals).toEqual([fetch.correlationId, metadata.correlationId])
    expect(fetched.responses[0].partitions[0].records?.length).toBe(0)
    expect(meta.topics.map((t) => t.name).filter((name) => name !== null && !name.startsWith('__'))).toEqual(['orders'])
  })

  it('sends no response to an acks=0 produce and still answers the next request', async () => {
    ts = await startTestServer()
    await createTopic('fire')
    const client = await ts.connect()
    const silent = client.send(ApiKey.Produce, 7, {
      acks: 0,
      timeoutMs: 1000,
      topicData: [{ name: 'fire', partitionData: [{ index: 0, records: batchOf(['a', 'b']) }] }],
    })
    const offsets = client.request(ApiKey.ListOffsets, 5, {
      replicaId: -1,
      topics: [{ name: 'fire', partitions: [{ partitionIndex: 0, timestamp: -1 }] }],
    })
    const response = await offsets
    expect(response.topics[0].partitions[0].offset).toBe(2)
    expect(client.arrivals).toEqual([offsets.correlationId])
    expect(client.arrivals).not.toContain(silent)
  })

  it('holds a connection unread until the server is told to serve, then answers it', async () => {
    ts = await startTestServer({}, { serving: false })
    const client = await ts.connect()
    let answered = false
    const answer = client.request(ApiKey.ApiVersions, 0, {}).then((response) => {
      answered = true
      return response
    })
    // Proving an absence takes a wait: a held connection is not read, so nothing answers it.
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(answered).toBe(false)
    ts.server.serve()
    expect((await answer).errorCode).toBe(ErrorCode.NONE)
  })

  it('sends the answers that complete in one turn of the event loop in one write', async () => {
    ts = await startTestServer()
    const socket = new FakeSocket()
    new Connection(socket as unknown as Socket, { core: ts.core, logger: { warn: () => {} }, frameBytesMax: 1 << 20, inFlightRequestsMax: 64, idleMs: 600_000 })
    const frames = Array.from({ length: 4 }, (_, i) => encodeRequest(ApiKey.ApiVersions, 0, i + 1, 'batcher', {}))
    socket.emit('data', Buffer.concat(frames))
    // Bounded by the deadline; the answers come within a turn or two.
    const deadline = Date.now() + 5_000
    while (socket.written < 4 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve))
    expect(socket.written).toBe(4)
    // One send system call for the four, where a flush per answer made four.
    expect(socket.sends).toBe(1)
  })

  it('runs every acks=0 produce that fully arrived before the client closed', async () => {
    ts = await startTestServer()
    await createTopic('fire-and-close')
    // The first produce is held in the core, so the rest wait in the connection when the close comes.
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    let entered!: () => void
    const firstEntered = new Promise<void>((resolve) => (entered = resolve))
    let calls = 0
    const core = overrideCore(ts.core, 'produce', (produce) => async (...args) => {
      if (calls++ === 0) {
        entered()
        await held
      }
      return produce(...args)
    })
    const socket = new FakeSocket()
    new Connection(socket as unknown as Socket, { core, logger: { warn: () => {} }, frameBytesMax: 1 << 20, inFlightRequestsMax: 64, idleMs: 600_000 })
    const produces = 50
    const frames = Array.from({ length: produces }, (_, i) =>
      encodeRequest(ApiKey.Produce, 7, i + 1, 'closer', {
        acks: 0,
        timeoutMs: 1000,
        topicData: [{ name: 'fire-and-close', partitionData: [{ index: 0, records: batchOf([`r${i}`]) }] }],
      }),
    )
    socket.emit('data', Buffer.concat(frames))
    await firstEntered
    socket.emit('end')
    socket.emit('close', false)
    release()
    const deadline = Date.now() + 10_000
    let latest = -1
    // Bounded by the deadline; each round asks the partition once.
    while (latest < produces && Date.now() < deadline) {
      const [offsets] = await ts.core.listOffsets([{ topic: 'fire-and-close', partition: 0, timestamp: -1 }])
      latest = offsets.offset
      if (latest < produces) await new Promise((resolve) => setImmediate(resolve))
    }
    expect(latest).toBe(produces)
    expect(socket.written).toBe(0)
  })

  it('closes the connection after a failed acks=0 produce, as Kafka does', async () => {
    ts = await startTestServer({ autoCreateTopics: false })
    const client = await ts.connect()
    const before = client.request(ApiKey.Metadata, 1, { topics: null })
    client.send(ApiKey.Produce, 3, { acks: 0, timeoutMs: 1000, topicData: [{ name: 'missing', partitionData: [{ index: 0, records: batchOf(['a']) }] }] })
    await client.closed
    // The answer written before the failure still arrives; nothing after it does.
    expect((await before).brokers).toHaveLength(1)
    expect(client.arrivals).toEqual([before.correlationId])
    expect(ts.warnings).toHaveLength(1)
    expect(ts.warnings[0]).toContain('api key 0 v3 (correlation id 2) failed and has no response')
  })

  it('keeps at most inFlightRequestsMax requests of a connection in the core at once', async () => {
    const sent = 8
    let calls = 0
    let inCore = 0
    let inCoreMax = 0
    let open: () => void = () => {}
    let gate = new Promise<void>((resolve) => (open = resolve))
    ts = await startTestServer(
      {},
      {
        inFlightRequestsMax: 3,
        // Each produce waits in the core until as many as the bound allows are there, or the last has come.
        wrapCore: (core) =>
          overrideCore(core, 'produce', (produce) => async (...args) => {
            calls++
            inCore++
            inCoreMax = Math.max(inCoreMax, inCore)
            const waited = gate
            if (inCore === 3 || calls === sent) {
              open()
              gate = new Promise<void>((resolve) => (open = resolve))
            }
            await waited
            try {
              return await produce(...args)
            } finally {
              inCore--
            }
          }),
      },
    )
    await createTopic('bounded')
    const client = await ts.connect()
    const requests = Array.from({ length: sent }, (_, i) =>
      client.request(ApiKey.Produce, 3, { transactionalId: null, acks: 1, timeoutMs: 5_000, topicData: [{ name: 'bounded', partitionData: [{ index: 0, records: batchOf([`v${i}`]) }] }] }),
    )
    const responses = await Promise.all(requests)
    expect(responses.map((r) => r.responses[0].partitionResponses[0].errorCode)).toEqual(Array(sent).fill(ErrorCode.NONE))
    expect(inCoreMax).toBe(3)
    expect(client.arrivals).toEqual(requests.map((r) => r.correlationId))
  })

  it('close() ends every connection and waits for the handlers in flight', async () => {
    ts = await startTestServer()
    await createTopic('closing')
    const client = await ts.connect()
    let fetchSettled = false
    void client
      .request(ApiKey.Fetch, 4, {
        maxWaitMs: 200,
        minBytes: 1,
        maxBytes: 1 << 20,
        topics: [{ topic: 'closing', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }] }],
      })
      .catch(() => {})
    // Wait until the fetch is parked in the router, then close.
    const deadline = Date.now() + 5000
    while (ts.partitions.partition('closing', 0)!.parked.size === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
    const parked = [...ts.partitions.partition('closing', 0)!.parked][0]
    const wake = parked.wake
    parked.wake = () => {
      fetchSettled = true
      wake()
    }
    await ts.server.close()
    expect(fetchSettled).toBe(true)
    await client.closed
  })
})

/** Just enough of a net.Socket for a Connection, so a test decides when data and the close arrive. */
class FakeSocket extends EventEmitter {
  readonly remoteAddress = '127.0.0.1'
  readonly remotePort = 1
  readonly writableNeedDrain = false
  written = 0
  /** Sends the socket would make: an uncork with writes buffered, or a write while uncorked. */
  sends = 0
  #corked = 0
  #buffered = 0
  setNoDelay(): void {}
  setTimeout(): void {}
  pause(): void {}
  resume(): void {}
  cork(): void {
    this.#corked++
  }
  uncork(): void {
    if (this.#corked > 0) this.#corked--
    if (this.#corked === 0 && this.#buffered > 0) {
      this.sends++
      this.#buffered = 0
    }
  }
  write(): boolean {
    this.written++
    if (this.#corked > 0) this.#buffered++
    else this.sends++
    return true
  }
  end(): void {}
  destroy(): void {}
}
