/**
 * The Kafka TCP edge: a listener whose connections speak the Kafka wire protocol to a broker
 * core. `startServer` resolves once the port is bound (port 0 picks a free one). Every listener and
 * every accepted socket is set up here and only here: this is where a TLS socket and a SASL
 * authentication step slot in per listener, before a Connection reads its first request.
 */
import { createServer } from 'node:net'
import type { Socket } from 'node:net'
import type { BrokerCore } from './core.js'
import { Connection } from './connection.js'
import type { ServerLogger } from './connection.js'

export type { ServerLogger } from './connection.js'

export interface ServerOptions {
  core: BrokerCore
  /** Default 127.0.0.1. */
  host?: string
  port: number
  /** socket.request.max.bytes: a larger (or negative) frame size closes the connection. Default 100 MiB. */
  socketRequestMaxBytes?: number
  /** Unanswered requests per connection before it stops reading. Default 64. */
  inFlightRequestsMax?: number
  /**
   * How long close() waits for handlers in flight: a parked fetch waits out its maxWaitMs and a
   * JoinGroup its rebalance, and the core offers no way to cut either short. Default 5 s.
   */
  closeTimeoutMs?: number
  /** One line per dropped connection or failed request (a broker's: to the main thread's logger). */
  logger: ServerLogger
  /** Called once per answered request with its API key and the time the broker took (request latency metrics). */
  onRequestDone?: (apiKey: number, durationMs: number) => void
}

export interface Server {
  readonly port: number
  /**
   * Stops accepting and drops every connection, at once: a client sees its connection close
   * and reconnects. Handlers in flight run on, answering no one.
   */
  stopAccepting(): void
  /** stopAccepting, then waits (bounded) for the handlers in flight. */
  close(): Promise<void>
}

export async function startServer(options: ServerOptions): Promise<Server> {
  const connectionOptions = {
    core: options.core,
    logger: options.logger,
    frameBytesMax: options.socketRequestMaxBytes ?? 104_857_600,
    inFlightRequestsMax: options.inFlightRequestsMax ?? 64,
    onRequestDone: options.onRequestDone,
  }
  const closeTimeoutMs = options.closeTimeoutMs ?? 5_000
  const connections = new Set<Connection>()
  const listener = createServer((socket: Socket) => {
    const connection = new Connection(socket, connectionOptions)
    connections.add(connection)
    socket.on('close', () => connections.delete(connection))
  })
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject)
    listener.listen(options.port, options.host ?? '127.0.0.1', () => {
      listener.off('error', reject)
      resolve()
    })
  })
  // After listening, an error (e.g. EMFILE on accept) is logged, never thrown.
  listener.on('error', (error) => connectionOptions.logger.warn(`listener error: ${error.message}`))
  const address = listener.address()
  const port = typeof address === 'object' && address !== null ? address.port : options.port

  const inFlight: Promise<void>[] = []
  let closed: Promise<void> | null = null
  const stopAccepting = (): void => {
    if (closed !== null) return
    closed = new Promise<void>((resolve) => listener.close(() => resolve()))
    for (const connection of connections) {
      inFlight.push(...connection.inFlight())
      connection.destroy()
    }
  }
  let closing: Promise<void> | null = null
  const close = (): Promise<void> => {
    closing ??= (async () => {
      stopAccepting()
      await settledWithin(inFlight, closeTimeoutMs)
      await closed
    })()
    return closing
  }
  return { port, stopAccepting, close }
}

async function settledWithin(promises: Promise<void>[], timeoutMs: number): Promise<void> {
  if (promises.length === 0) return
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs)
    timer.unref()
  })
  await Promise.race([Promise.allSettled(promises), timeout])
  clearTimeout(timer)
}
