/**
 * A scripted Kafka broker on a real socket for connection tests: it decodes each request with
 * the generated codecs and hands it to the test, which answers (or holds, or misbehaves) at will.
 */
import net from 'node:net'
import { ApiKey, decodeRequest, encodeResponse, type DecodedRequest } from '../../../src/protocol/index.js'

export interface ReceivedRequest {
  request: DecodedRequest
  socket: net.Socket
  /** Encodes and writes an answer to this request at its version. */
  answer(body: object): void
}

export interface FakeBroker {
  port: number
  received: ReceivedRequest[]
  /** Resolves once `count` requests other than ApiVersions have arrived. */
  waitFor(count: number): Promise<void>
  close(): Promise<void>
}

export interface FakeBrokerOptions {
  /** Versions advertised by ApiVersions, by api key (default: Metadata 0-12). */
  versions?: Record<number, [number, number]>
  /** Answers ApiVersions above v0 with UNSUPPORTED_VERSION in v0, as a pre-KIP-511 broker does. */
  onlyApiVersionsV0?: boolean
  /** Called for every request except ApiVersions; default: hold it (no answer). */
  onRequest?: (received: ReceivedRequest) => void
  /** Splits every write into pieces of this many bytes, to exercise reassembly. */
  chunkBytes?: number
}

export async function startFakeBroker(options: FakeBrokerOptions = {}): Promise<FakeBroker> {
  const received: ReceivedRequest[] = []
  const waiters: { count: number; resolve: () => void }[] = []
  const sockets = new Set<net.Socket>()
  const versions = options.versions ?? { [ApiKey.Metadata]: [0, 12] }

  const write = (socket: net.Socket, frame: Buffer): void => {
    if (options.chunkBytes === undefined) {
      socket.write(frame)
      return
    }
    for (let at = 0; at < frame.length; at += options.chunkBytes) socket.write(frame.subarray(at, at + options.chunkBytes))
  }

  const onFrame = (socket: net.Socket, frame: Buffer): void => {
    const request = decodeRequest(frame)
    const { apiKey, apiVersion, correlationId } = request.header
    if (apiKey === ApiKey.ApiVersions) {
      const apiKeys = Object.entries(versions).map(([key, [minVersion, maxVersion]]) => ({ apiKey: Number(key), minVersion, maxVersion }))
      apiKeys.push({ apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: options.onlyApiVersionsV0 === true ? 0 : 3 })
      const unsupported = options.onlyApiVersionsV0 === true && apiVersion > 0
      write(socket, encodeResponse(ApiKey.ApiVersions, unsupported ? 0 : apiVersion, correlationId, { errorCode: unsupported ? 35 : 0, apiKeys }))
      return
    }
    const entry: ReceivedRequest = {
      request,
      socket,
      answer: (body) => write(socket, encodeResponse(request.apiKey, apiVersion, correlationId, body as never)),
    }
    received.push(entry)
    for (const waiter of waiters.filter((w) => received.length >= w.count)) {
      waiters.splice(waiters.indexOf(waiter), 1)
      waiter.resolve()
    }
    options.onRequest?.(entry)
  }

  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    let buffered = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk])
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        const size = buffered.readInt32BE(0)
        onFrame(socket, buffered.subarray(4, 4 + size))
        buffered = buffered.subarray(4 + size)
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  return {
    port,
    received,
    waitFor: (count) =>
      received.length >= count ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ count, resolve })),
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
