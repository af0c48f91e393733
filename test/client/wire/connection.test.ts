import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { Connection } from '../../../src/client/wire/connection.js'
import { ApiKey } from '../../../src/protocol/index.js'
import { startFakeBroker, type FakeBroker, type FakeBrokerOptions } from './fake-broker.js'

let broker: FakeBroker | null = null
let connection: Connection | null = null

afterEach(async () => {
  connection?.close()
  connection = null
  await broker?.close()
  broker = null
})

async function setup(options: FakeBrokerOptions, connectionOptions: Partial<Parameters<typeof Connection.connect>[0]> = {}): Promise<Connection> {
  broker = await startFakeBroker(options)
  connection = await Connection.connect({ host: '127.0.0.1', port: broker.port, ...connectionOptions })
  return connection
}

// Answers a Metadata request with its own controllerId set to a marker, so replies can be told apart.
function metadataAnswer(marker: number): object {
  return { brokers: [{ nodeId: 7, host: 'h', port: 9 }], controllerId: marker, topics: [] }
}

describe('Connection', () => {
  it('picks the highest version inside both its own range and the broker’s', async () => {
    const c = await setup({ versions: { [ApiKey.Metadata]: [0, 5], [ApiKey.Produce]: [0, 11], [ApiKey.Fetch]: [0, 3] } })
    expect(c.version(ApiKey.Metadata)).toBe(5)
    expect(c.version(ApiKey.Produce)).toBe(7)
    expect(() => c.version(ApiKey.Fetch)).toThrow(expect.objectContaining({ code: 'PARTITA_UNSUPPORTED_VERSION' }))
    expect(() => c.version(ApiKey.ListOffsets)).toThrow(/does not serve ListOffsets/)
  })

  it('falls back to ApiVersions v0 when the broker answers UNSUPPORTED_VERSION', async () => {
    const c = await setup({ onlyApiVersionsV0: true, versions: { [ApiKey.Metadata]: [0, 7] } })
    expect(c.version(ApiKey.Metadata)).toBe(7)
  })

  it('sends at the negotiated version and decodes the answer', async () => {
    const c = await setup({ versions: { [ApiKey.Metadata]: [0, 9] }, onRequest: (r) => r.answer(metadataAnswer(42)) })
    const response = await c.send(ApiKey.Metadata, { topics: null })
    expect(response.controllerId).toBe(42)
    expect(response.brokers).toEqual([{ nodeId: 7, host: 'h', port: 9, rack: null }])
    expect(broker!.received[0].request.header.apiVersion).toBe(9)
    expect(broker!.received[0].request.header.clientId).toBe('partita')
  })

  it('keeps at most maxInFlight requests written and sends the rest as answers come', async () => {
    const c = await setup({}, { maxInFlight: 2 })
    const replies = [0, 1, 2, 3, 4].map(() => c.send(ApiKey.Metadata, { topics: [] }))
    await broker!.waitFor(2)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(broker!.received).toHaveLength(2)
    expect(c.inFlight).toBe(2)
    // Answer each request as it arrives, in order, marking the reply with its arrival index.
    let answered = 0
    const answerArrived = async (): Promise<void> => {
      while (answered < 5) {
        await broker!.waitFor(answered + 1)
        broker!.received[answered].answer(metadataAnswer(answered))
        answered++
      }
    }
    await answerArrived()
    expect((await Promise.all(replies)).map((r) => r.controllerId)).toEqual([0, 1, 2, 3, 4])
  })

  it('reassembles frames split into single bytes and frames sharing one read', async () => {
    const c = await setup({ chunkBytes: 1, onRequest: (r) => r.answer(metadataAnswer(r.request.header.correlationId)) })
    const replies = await Promise.all([0, 1, 2, 3].map(() => c.send(ApiKey.Metadata, { topics: [] })))
    expect(replies.map((r) => r.controllerId)).toEqual(broker!.received.map((r) => r.request.header.correlationId))
  })

  it('refuses requests beyond the queue bound with PARTITA_CLIENT_QUEUE_FULL', async () => {
    const c = await setup({}, { maxInFlight: 1, maxQueued: 1 })
    const first = c.send(ApiKey.Metadata, { topics: [] })
    const second = c.send(ApiKey.Metadata, { topics: [] })
    await expect(c.send(ApiKey.Metadata, { topics: [] })).rejects.toMatchObject({ code: 'PARTITA_CLIENT_QUEUE_FULL' })
    c.close()
    await expect(first).rejects.toMatchObject({ code: 'PARTITA_CONNECTION' })
    await expect(second).rejects.toMatchObject({ code: 'PARTITA_CONNECTION' })
  })

  it('fails a request that gets no answer in time and closes the connection under the others', async () => {
    const c = await setup({})
    const slow = c.send(ApiKey.Metadata, { topics: [] }, { timeoutMs: 60_000 })
    const timed = c.send(ApiKey.Metadata, { topics: [] }, { timeoutMs: 50 })
    await expect(timed).rejects.toMatchObject({ code: 'PARTITA_REQUEST_TIMEOUT', message: expect.stringMatching(/Metadata .* within 50 ms/) })
    await expect(slow).rejects.toMatchObject({ code: 'PARTITA_CONNECTION' })
    expect(c.closed).toBe(true)
    await expect(c.send(ApiKey.Metadata, { topics: [] })).rejects.toMatchObject({ code: 'PARTITA_CONNECTION' })
  })

  it('closes the stream on an answer whose correlation id is not the oldest in flight', async () => {
    const c = await setup({
      onRequest: (r) => {
        // Answer with a correlation id nobody asked for.
        r.socket.write(Buffer.from([0, 0, 0, 4, 0x7f, 0, 0, 0]))
      },
    })
    await expect(c.send(ApiKey.Metadata, { topics: [] })).rejects.toMatchObject({ code: 'PARTITA_PROTOCOL' })
    expect(c.closed).toBe(true)
  })

  it('fails every waiting request when the broker drops the connection', async () => {
    const c = await setup({ onRequest: (r) => r.socket.destroy() })
    await expect(c.send(ApiKey.Metadata, { topics: [] })).rejects.toMatchObject({ code: 'PARTITA_CONNECTION', message: expect.stringContaining('closed') })
  })

  it('reports a refused connection as PARTITA_CONNECTION naming the address', async () => {
    const server = net.createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as net.AddressInfo).port
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await expect(Connection.connect({ host: '127.0.0.1', port })).rejects.toMatchObject({
      code: 'PARTITA_CONNECTION',
      message: `cannot connect to 127.0.0.1:${port}: ECONNREFUSED`,
    })
  })

  it('resolves a request that expects no answer once it is written', async () => {
    const c = await setup({ versions: { [ApiKey.Produce]: [0, 9] } })
    await c.sendNoResponse(ApiKey.Produce, { acks: 0, timeoutMs: 1000, topicData: [] })
    await broker!.waitFor(1)
    expect(broker!.received[0].request.apiKey).toBe(ApiKey.Produce)
    expect(c.inFlight).toBe(0)
  })
})
