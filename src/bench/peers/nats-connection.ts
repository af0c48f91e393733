/**
 * A minimal NATS client (the text protocol over a socket) for the benchmark: CONNECT, PUB with a
 * reply subject, one wildcard inbox subscription that routes answers by subject, PING/PONG. No
 * dependency. Headers (HMSG) are read only for their status line, which JetStream uses to end a
 * pull request.
 */
import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'

export interface NatsMessage {
  subject: string
  replyTo: string | null
  /** The status code of an HMSG ("NATS/1.0 408 ..."), or null for a plain message. */
  status: number | null
  payload: Buffer
}

const CRLF = '\r\n'
const INBOX_SID = 1
/** Inbox routes held at once: each pending request or pull holds one. */
const ROUTES_MAX = 1_000_000

export class NatsConnection {
  readonly inbox = `_INBOX.${randomBytes(6).toString('hex')}`
  readonly #socket: Socket
  readonly #routes = new Map<string, (message: NatsMessage) => void>()
  /** Subscriptions of their own, by sid: JetStream delivers pulled messages under their stream subject, so only the sid tells whose they are. */
  readonly #subscriptions = new Map<number, (message: NatsMessage) => void>()
  #nextSid = INBOX_SID + 1
  #buffer: Buffer = Buffer.alloc(0)
  #pongs: Array<{ resolve: () => void; reject: (error: Error) => void }> = []
  #closedWith: Error | null = null
  #connected: (() => void) | null = null

  private constructor(socket: Socket) {
    this.#socket = socket
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('error', (error) => this.#fail(error))
    socket.on('close', () => this.#fail(new Error('nats connection closed')))
  }

  static async open(port: number, host = '127.0.0.1'): Promise<NatsConnection> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ port, host }, () => {
        s.off('error', reject)
        resolve(s)
      })
      s.once('error', reject)
    })
    const connection = new NatsConnection(socket)
    // The server speaks first (INFO); CONNECT, the inbox subscription and a PING follow, and the PONG says all were taken.
    await new Promise<void>((resolve) => (connection.#connected = resolve))
    const options = { verbose: false, pedantic: false, headers: true, no_responders: true, protocol: 1, name: 'partita-bench', lang: 'node', version: '0' }
    socket.write(`CONNECT ${JSON.stringify(options)}${CRLF}SUB ${connection.inbox}.* ${INBOX_SID}${CRLF}`)
    await connection.ping()
    return connection
  }

  /** Resolves when the server has processed everything written before it. */
  ping(): Promise<void> {
    if (this.#closedWith !== null) return Promise.reject(this.#closedWith)
    return new Promise((resolve, reject) => {
      this.#pongs.push({ resolve, reject })
      this.#socket.write(`PING${CRLF}`)
    })
  }

  /** PUB bytes, for pipelining many messages in one write. */
  static pub(subject: string, replyTo: string | null, payload: Buffer | string): Buffer {
    const body = typeof payload === 'string' ? Buffer.from(payload) : payload
    return Buffer.concat([Buffer.from(`PUB ${subject}${replyTo === null ? '' : ` ${replyTo}`} ${body.length}${CRLF}`), body, Buffer.from(CRLF)])
  }

  write(bytes: Buffer): void {
    if (this.#closedWith !== null) throw this.#closedWith
    this.#socket.write(bytes)
  }

  /** Routes messages on inbox subject `subject` to `handler` until the returned function is called. */
  route(subject: string, handler: (message: NatsMessage) => void): () => void {
    if (this.#routes.size >= ROUTES_MAX) throw new Error(`more than ${ROUTES_MAX} nats inbox routes`)
    this.#routes.set(subject, handler)
    return () => this.#routes.delete(subject)
  }

  /** Subscribes to `subject` on its own sid until the returned function is called. */
  subscribe(subject: string, handler: (message: NatsMessage) => void): () => void {
    const sid = this.#nextSid++
    this.#subscriptions.set(sid, handler)
    this.write(Buffer.from(`SUB ${subject} ${sid}${CRLF}`))
    return () => {
      this.#subscriptions.delete(sid)
      if (this.#closedWith === null) this.#socket.write(`UNSUB ${sid}${CRLF}`)
    }
  }

  /** A request answered once on its own inbox subject. */
  request(subject: string, payload: Buffer | string, timeoutMs = 10_000): Promise<NatsMessage> {
    const replyTo = `${this.inbox}.${randomBytes(6).toString('hex')}`
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off()
        reject(new Error(`nats request to ${subject} got no answer in ${timeoutMs} ms`))
      }, timeoutMs)
      const off = this.route(replyTo, (message) => {
        clearTimeout(timer)
        off()
        resolve(message)
      })
      this.write(NatsConnection.pub(subject, replyTo, payload))
    })
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#socket.destroyed) return resolve()
      this.#socket.once('close', () => resolve())
      this.#socket.end()
    })
  }

  #onData(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk])
    let pos = 0
    // Bounded by the buffer: every parsed operation advances pos.
    for (;;) {
      const next = this.#parseOne(pos)
      if (next === null) break
      pos = next
    }
    this.#buffer = this.#buffer.subarray(pos)
  }

  /** Handles one protocol operation at `pos`; returns where the next starts, or null if incomplete. */
  #parseOne(pos: number): number | null {
    const buf = this.#buffer
    const lineEnd = buf.indexOf(CRLF, pos)
    if (lineEnd === -1) return null
    const line = buf.toString('latin1', pos, lineEnd)
    const afterLine = lineEnd + 2
    const op = line.slice(0, line.indexOf(' ') === -1 ? line.length : line.indexOf(' ')).toUpperCase()
    switch (op) {
      case 'MSG':
      case 'HMSG': {
        // The server may put two spaces where the reply subject is absent.
        const parts = line.split(' ').filter((part) => part !== '')
        const headers = op === 'HMSG'
        const total = Number(parts.at(-1))
        const headerBytes = headers ? Number(parts.at(-2)) : 0
        const fixed = headers ? 5 : 4
        if (afterLine + total + 2 > buf.length) return null
        const message: NatsMessage = {
          subject: parts[1],
          replyTo: parts.length > fixed ? parts[3] : null,
          status: headers ? statusOf(buf.toString('latin1', afterLine, afterLine + headerBytes)) : null,
          payload: buf.subarray(afterLine + headerBytes, afterLine + total),
        }
        const sid = Number(parts[2])
        if (sid === INBOX_SID) this.#routes.get(message.subject)?.(message)
        else this.#subscriptions.get(sid)?.(message)
        return afterLine + total + 2
      }
      case 'INFO':
        this.#connected?.()
        this.#connected = null
        return afterLine
      case 'PING':
        this.#socket.write(`PONG${CRLF}`)
        return afterLine
      case 'PONG':
        this.#pongs.shift()?.resolve()
        return afterLine
      case '+OK':
        return afterLine
      case '-ERR':
        this.#fail(new Error(`nats: ${line}`))
        return afterLine
      default:
        this.#fail(new Error(`nats sent an unknown operation: ${line.slice(0, 80)}`))
        return null
    }
  }

  #fail(error: Error): void {
    this.#closedWith ??= error
    for (const pong of this.#pongs.splice(0)) pong.reject(error)
    this.#socket.destroy()
  }
}

function statusOf(headers: string): number | null {
  const match = /^NATS\/1\.0 (\d{3})/.exec(headers)
  return match === null ? null : Number(match[1])
}
