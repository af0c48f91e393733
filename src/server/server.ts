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
import { ConnectionQuotas, UNLIMITED_CONNECTIONS } from './connection-quotas.js'

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
  /** max.connections: open connections on this listener; past it a new one is closed at once. Default unlimited. */
  maxConnections?: number
  /** max.connections.per.ip: open connections from one address. Default unlimited. */
  maxConnectionsPerIp?: number
  /** max.connections.per.ip.overrides: per-address limits, by IP address. */
  maxConnectionsPerIpOverrides?: Readonly<Record<string, number>>
  /** connections.max.idle.ms: a connection with no traffic and nothing in flight this long is closed. Default 10 minutes. */
  connectionsMaxIdleMs?: number
  /**
   * How long close() waits for handlers in flight: a parked fetch waits out its maxWaitMs and a
   * JoinGroup its rebalance, and the core offers no way to cut either short. Default 5 s.
   */
  closeTimeoutMs?: number
  /**
   * False holds every accepted connection unread until serve(): a broker that restarts binds its
   * port first (its advertised endpoint needs it) but answers nothing before its partitions are
   * led again, as Kafka enables its socket server last. Default true.
   */
  serving?: boolean
  /** One line per dropped connection or failed request (a broker's: to the main thread's logger). */
  logger: ServerLogger
  /** Called once per answered request with its API key and the time the broker took (request latency metrics). */
  onRequestDone?: (apiKey: number, durationMs: number) => void
}

export interface Server {
  readonly port: number
  /** Connections open now (each took a slot under max.connections). */
  readonly connectionCount: number
  /** Starts reading the connections held so far, and every later one at once. */
  serve(): void
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
    idleMs: options.connectionsMaxIdleMs ?? 600_000,
    onRequestDone: options.onRequestDone,
  }
  const closeTimeoutMs = options.closeTimeoutMs ?? 5_000
  const connections = new Set<Connection>()
  const quotas = new ConnectionQuotas({
    maxConnections: options.maxConnections ?? UNLIMITED_CONNECTIONS,
    maxConnectionsPerIp: options.maxConnectionsPerIp ?? UNLIMITED_CONNECTIONS,
    maxConnectionsPerIpOverrides: options.maxConnectionsPerIpOverrides ?? {},
  })
  const refusals = new RefusalLog(connectionOptions.logger)
  const listener = createServer((socket: Socket) => {
    // A socket that closed before it was handed over has no address; there is nothing to count.
    const address = socket.remoteAddress
    if (address === undefined) {
      socket.destroy()
      return
    }
    const refused = quotas.tryAcquire(address)
    if (refused !== null) {
      refusals.refused(refused)
      socket.on('error', () => {})
      socket.destroy()
      return
    }
    if (held !== null) {
      // Bounded by max.connections, like the connections it will become.
      socket.pause()
      held.add(socket)
      socket.on('error', () => {})
      socket.once('close', () => {
        if (held?.delete(socket) === true) quotas.release(address)
      })
      return
    }
    open(socket, address)
  })
  /** Accepted sockets not yet read (null once serving). */
  let held: Set<Socket> | null = options.serving === false ? new Set() : null
  const open = (socket: Socket, address: string): void => {
    const connection = new Connection(socket, connectionOptions)
    connections.add(connection)
    socket.on('close', () => {
      connections.delete(connection)
      quotas.release(address)
    })
  }
  const serve = (): void => {
    if (held === null) return
    const waiting = held
    held = null
    for (const socket of waiting) {
      if (socket.destroyed || socket.remoteAddress === undefined) continue
      open(socket, socket.remoteAddress)
      socket.resume()
    }
  }
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
    for (const socket of held ?? []) socket.destroy()
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
  return {
    port,
    get connectionCount() {
      return quotas.total
    },
    serve,
    stopAccepting,
    close,
  }
}

/**
 * A flood of refused connections must not become a flood of log lines: the first refusal is
 * logged, then at most one line a second saying how many followed.
 */
class RefusalLog {
  static readonly INTERVAL_MS = 1_000
  readonly #logger: ServerLogger
  #lastLoggedMs = -Infinity
  #unlogged = 0

  constructor(logger: ServerLogger) {
    this.#logger = logger
  }

  refused(reason: string): void {
    const nowMs = performance.now()
    if (nowMs - this.#lastLoggedMs < RefusalLog.INTERVAL_MS) {
      this.#unlogged++
      return
    }
    const more = this.#unlogged === 0 ? '' : ` (and ${this.#unlogged} more refused since the last such line)`
    this.#logger.warn(`refused a connection: ${reason}${more}`)
    this.#lastLoggedMs = nowMs
    this.#unlogged = 0
  }
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
