/**
 * The TCP edge's resource limits, over real sockets: max.connections, max.connections.per.ip and
 * its overrides, connections.max.idle.ms, and the per-connection in-flight bound that keeps slow
 * readers from holding the broker's memory or time. Source addresses other than 127.0.0.1 are
 * other loopback addresses (127.0.0.2, ...), which Linux routes without setup.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/common/error-codes.js'
import { ApiKey } from '../../src/protocol/index.js'
import { batchOf, overrideCore, startTestServer, type TestServer } from './helpers.js'
import type { NodeCore } from '../../src/broker/node-core.js'
import { WireClient } from './wire-client.js'

let ts: TestServer | undefined
const opened: WireClient[] = []

afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()))
  await ts?.close()
  ts = undefined
})

async function connectFrom(localAddress: string): Promise<WireClient> {
  const client = await WireClient.connect(ts!.server.port, '127.0.0.1', localAddress)
  opened.push(client)
  return client
}

/** Resolves true when the broker answers on this connection, false when it closes it instead. */
async function served(client: WireClient): Promise<boolean> {
  // A request written after the close would wait for an answer forever.
  if (client.isClosed) return false
  const answer = client.request(ApiKey.ApiVersions, 0, {}).then(
    (response) => response.errorCode === ErrorCode.NONE,
    () => false,
  )
  return Promise.race([answer, client.closed.then(() => false)])
}

/** Starts the server with a core whose fetch calls are counted; read the count with the getter. */
async function startCountingFetches(options: { inFlightRequestsMax?: number } = {}): Promise<() => number> {
  let fetchCalls = 0
  ts = await startTestServer(
    {},
    {
      ...options,
      wrapCore: (core) =>
        overrideCore(core, 'fetch', (fetch) => (...args) => {
          fetchCalls++
          return fetch(...args)
        }),
    },
  )
  return () => fetchCalls
}

/** A one-partition topic holding one batch per value, appended with acks=all. */
async function topicWith(topic: string, values: string[]): Promise<void> {
  const [created] = await ts!.core.createTopics([{ name: topic, numPartitions: 1, replicationFactor: 1, configs: {} }], false)
  expect(created.errorCode).toBe(ErrorCode.NONE)
  for (const value of values) {
    const [appended] = await ts!.core.produce([{ topic, partition: 0, records: batchOf([value]) }], -1, 5_000)
    expect(appended.errorCode).toBe(ErrorCode.NONE)
  }
}

/** A Fetch v4 body reading partition 0 of `topic` from offset 0, up to `bytesMax`, without waiting. */
function fetchFromStart(topic: string, bytesMax: number) {
  return { maxWaitMs: 0, minBytes: 0, maxBytes: bytesMax, topics: [{ topic, partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: bytesMax }] }] }
}

/** The server counts a closed connection on its next turn; wait for it (bounded). */
async function connectionCountReaches(count: number): Promise<void> {
  const deadline = Date.now() + 5_000
  while (ts!.server.connectionCount !== count) {
    if (Date.now() > deadline) throw new Error(`the server still counts ${ts!.server.connectionCount} connections, not ${count}`)
    await new Promise((resolve) => setImmediate(resolve))
  }
}

describe('connection limits', () => {
  it('closes a connection past max.connections.per.ip at once, while other addresses are still served', async () => {
    ts = await startTestServer({}, { maxConnectionsPerIp: 2 })
    const first = await connectFrom('127.0.0.1')
    const second = await connectFrom('127.0.0.1')
    expect(await served(first)).toBe(true)
    expect(await served(second)).toBe(true)
    const third = await connectFrom('127.0.0.1')
    await third.closed
    expect(await served(third)).toBe(false)
    expect(await served(await connectFrom('127.0.0.2'))).toBe(true)
    expect(ts.warnings.filter((w) => w.includes('max.connections.per.ip (2) reached for 127.0.0.1'))).toHaveLength(1)
    // A closed connection gives its slot back.
    await first.close()
    await connectionCountReaches(2)
    expect(await served(await connectFrom('127.0.0.1'))).toBe(true)
  })

  it('lets max.connections.per.ip.overrides raise or lower the limit of one address', async () => {
    ts = await startTestServer({}, { maxConnectionsPerIp: 1, maxConnectionsPerIpOverrides: { '127.0.0.3': 3, '127.0.0.4': 0 } })
    for (let i = 0; i < 3; i++) expect(await served(await connectFrom('127.0.0.3'))).toBe(true)
    expect(await served(await connectFrom('127.0.0.3'))).toBe(false)
    expect(await served(await connectFrom('127.0.0.4'))).toBe(false)
    expect(await served(await connectFrom('127.0.0.5'))).toBe(true)
    expect(await served(await connectFrom('127.0.0.5'))).toBe(false)
  })

  it('holds at most max.connections from every address together, and logs a flood of refusals in few lines', async () => {
    ts = await startTestServer({}, { maxConnections: 3 })
    const idle = [await connectFrom('127.0.0.6'), await connectFrom('127.0.0.7'), await connectFrom('127.0.0.8')]
    for (const client of idle) expect(await served(client)).toBe(true)
    const flood = await Promise.all(Array.from({ length: 50 }, (_, i) => connectFrom(`127.0.1.${i + 1}`)))
    await Promise.all(flood.map((client) => client.closed))
    expect(ts.server.connectionCount).toBe(3)
    const refusalLines = ts.warnings.filter((w) => w.includes('max.connections (3) reached'))
    expect(refusalLines.length).toBeGreaterThanOrEqual(1)
    expect(refusalLines.length).toBeLessThan(5)
    await idle[0].close()
    await connectionCountReaches(2)
    expect(await served(await connectFrom('127.0.0.9'))).toBe(true)
  })

  it('closes a connection idle for connections.max.idle.ms, which frees its slot for another client', async () => {
    ts = await startTestServer({}, { maxConnections: 1, connectionsMaxIdleMs: 200 })
    const idle = await connectFrom('127.0.0.1')
    expect(await served(idle)).toBe(true)
    expect(await served(await connectFrom('127.0.0.2'))).toBe(false)
    await idle.closed
    await connectionCountReaches(0)
    expect(await served(await connectFrom('127.0.0.2'))).toBe(true)
  })

  it('does not close a connection as idle while a request of it is in flight', async () => {
    ts = await startTestServer({}, { connectionsMaxIdleMs: 100 })
    const [created] = await ts.core.createTopics([{ name: 'long-poll', numPartitions: 1, replicationFactor: 1, configs: {} }], false)
    expect(created.errorCode).toBe(ErrorCode.NONE)
    const client = await connectFrom('127.0.0.1')
    // The fetch waits 400 ms for data that never comes: four idle periods with nothing on the wire.
    const response = await client.request(ApiKey.Fetch, 4, {
      maxWaitMs: 400,
      minBytes: 1,
      maxBytes: 1 << 20,
      topics: [{ topic: 'long-poll', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }] }],
    })
    expect(response.responses[0].partitions[0].errorCode).toBe(ErrorCode.NONE)
    // Once answered, the connection is idle again and is closed.
    await client.closed
  })

  it('keeps serving other clients while slow readers pipeline fetches and never read, holding each to the in-flight bound', async () => {
    const inFlightRequestsMax = 4
    const fetchCalls = await startCountingFetches({ inFlightRequestsMax })
    await topicWith('big', Array<string>(4).fill('x'.repeat(256 * 1024)))
    const fetchBody = fetchFromStart('big', 1 << 20)
    const readers = 8
    const requestsPerReader = 200
    for (let r = 0; r < readers; r++) {
      const slow = await connectFrom(`127.0.2.${r + 1}`)
      slow.socket.pause()
      for (let i = 0; i < requestsPerReader; i++) void slow.request(ApiKey.Fetch, 4, fetchBody).catch(() => {})
    }
    const healthy = await connectFrom('127.0.0.1')
    for (let i = 0; i < 5; i++) {
      const response = await healthy.request(ApiKey.Fetch, 4, fetchBody)
      expect(response.responses[0].partitions[0].highWatermark).toBe(4)
    }
    // Each slow reader got its first responses dispatched, then stopped being read: its answers
    // wait in its own socket buffer and nothing more of it reaches the core.
    const slowCalls = fetchCalls() - 5
    expect(slowCalls).toBeGreaterThan(0)
    expect(slowCalls).toBeLessThanOrEqual(readers * inFlightRequestsMax * 4)
  })

  it("runs a connection's fetches one at a time: the next starts only once the previous answer is written, while other requests go on", async () => {
    let releaseFirst: () => void = () => {}
    const firstParked = new Promise<void>((resolve) => (releaseFirst = resolve))
    let fetchCalls = 0
    let firstPending = false
    let overlapped = false
    ts = await startTestServer(
      {},
      {
        wrapCore: (core) =>
          overrideCore(
            overrideCore(core, 'fetch', (fetch) => async (...args) => {
              fetchCalls++
              if (fetchCalls > 1) overlapped ||= firstPending
              if (fetchCalls === 1) {
                firstPending = true
                await firstParked
              }
              const results = await fetch(...args)
              if (fetchCalls === 1) firstPending = false
              return results
            }) as NodeCore,
            'produce',
            (produce) => (...args) => {
              // The produce was sent between the two fetches: it runs while the first is parked.
              releaseFirst()
              return produce(...args)
            },
          ),
      },
    )
    await topicWith('serial', [])
    const fetchBody = fetchFromStart('serial', 1 << 20)
    const client = await connectFrom('127.0.0.1')
    // One write, so the broker reads all three together and could dispatch them in one pass.
    client.socket.cork()
    const first = client.request(ApiKey.Fetch, 4, fetchBody)
    const produced = client.request(ApiKey.Produce, 3, { transactionalId: null, acks: 1, timeoutMs: 5_000, topicData: [{ name: 'serial', partitionData: [{ index: 0, records: batchOf(['v']) }] }] })
    const second = client.request(ApiKey.Fetch, 4, fetchBody)
    client.socket.uncork()
    const [a, p, b] = await Promise.all([first, produced, second])
    expect(a.responses[0].partitions[0].errorCode).toBe(ErrorCode.NONE)
    expect(p.responses[0].partitionResponses[0].errorCode).toBe(ErrorCode.NONE)
    expect(b.responses[0].partitions[0].highWatermark).toBe(1)
    expect(fetchCalls).toBe(2)
    expect(overlapped).toBe(false)
  })

  it("holds a slow reader's pipelined fetches to one answer in memory at a time, not one per request", async () => {
    const fetchCalls = await startCountingFetches()
    await topicWith('wide', Array<string>(8).fill('x'.repeat(512 * 1024)))
    // Each answer is the whole 4 MiB log; the kernel's socket buffers can hold only a few of them.
    const fetchBody = fetchFromStart('wide', 8 << 20)
    const pipelined = 24
    const slow = await connectFrom('127.0.3.1')
    slow.socket.pause()
    slow.socket.cork()
    for (let i = 0; i < pipelined; i++) void slow.request(ApiKey.Fetch, 4, fetchBody).catch(() => {})
    slow.socket.uncork()
    // Another connection's answer shows the broker has read and served what it was sent.
    const healthy = await connectFrom('127.0.0.1')
    const response = await healthy.request(ApiKey.Fetch, 4, fetchFromStart('wide', 1024))
    expect(response.responses[0].partitions[0].highWatermark).toBe(8)
    await new Promise((resolve) => setImmediate(resolve))
    expect(fetchCalls() - 1).toBeGreaterThan(0)
    expect(fetchCalls() - 1).toBeLessThanOrEqual(6)
  })
})
