/**
 * A minimal Redis (RESP2) client for the benchmark: commands are encoded by hand and pipelined,
 * and replies are matched to senders in order, as Redis answers them. No dependency.
 */
import { connect, type Socket } from 'node:net'

export type RespValue = string | number | Buffer | null | RespValue[] | RespError

export class RespError extends Error {}

interface Pending {
  remaining: number
  values: RespValue[]
  resolve: (values: RespValue[]) => void
  reject: (error: Error) => void
}

/** Replies a connection may owe at once: more is a harness bug, not load. */
const PENDING_REPLIES_MAX = 10_000_000
const CRLF = Buffer.from('\r\n')

/** One command as RESP: an array of bulk strings. */
export function command(...args: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg) : arg
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF)
  }
  return Buffer.concat(parts)
}

export class RespConnection {
  readonly #socket: Socket
  readonly #pending: Pending[] = []
  #pendingReplies = 0
  #buffer: Buffer = Buffer.alloc(0)
  #closedWith: Error | null = null

  private constructor(socket: Socket) {
    this.#socket = socket
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('error', (error) => this.#fail(error))
    socket.on('close', () => this.#fail(new Error('redis connection closed')))
  }

  static open(port: number, host = '127.0.0.1'): Promise<RespConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host }, () => {
        socket.off('error', reject)
        resolve(new RespConnection(socket))
      })
      socket.once('error', reject)
    })
  }

  /** Writes pipelined commands and resolves with their `replies` answers, in order; an error answer rejects. */
  send(commands: Buffer, replies: number): Promise<RespValue[]> {
    if (this.#closedWith !== null) return Promise.reject(this.#closedWith)
    if (this.#pendingReplies + replies > PENDING_REPLIES_MAX) return Promise.reject(new Error(`more than ${PENDING_REPLIES_MAX} redis replies outstanding`))
    this.#pendingReplies += replies
    const answer = new Promise<RespValue[]>((resolve, reject) => this.#pending.push({ remaining: replies, values: [], resolve, reject }))
    this.#socket.write(commands)
    return answer.then((values) => {
      const error = values.find((v): v is RespError => v instanceof RespError)
      if (error !== undefined) throw error
      return values
    })
  }

  call(...args: Array<string | Buffer>): Promise<RespValue> {
    return this.send(command(...args), 1).then((values) => values[0])
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
    // Bounded by the buffer: every parsed value advances pos.
    for (;;) {
      const parsed = parseValue(this.#buffer, pos)
      if (parsed === null) break
      pos = parsed.next
      this.#deliver(parsed.value)
    }
    this.#buffer = this.#buffer.subarray(pos)
  }

  #deliver(value: RespValue): void {
    const head = this.#pending[0]
    if (head === undefined) {
      this.#fail(new Error('redis sent a reply nobody asked for'))
      return
    }
    head.values.push(value)
    this.#pendingReplies--
    if (--head.remaining === 0) {
      this.#pending.shift()
      head.resolve(head.values)
    }
  }

  #fail(error: Error): void {
    this.#closedWith ??= error
    for (const pending of this.#pending.splice(0)) pending.reject(error)
    this.#socket.destroy()
  }
}

/** One RESP2 value at `pos`, or null when the buffer does not hold all of it yet. */
function parseValue(buf: Buffer, pos: number): { value: RespValue; next: number } | null {
  if (pos >= buf.length) return null
  const lineEnd = buf.indexOf('\r\n', pos)
  if (lineEnd === -1) return null
  const type = buf[pos]
  const next = lineEnd + 2
  switch (type) {
    case 0x2b: // '+'
      return { value: buf.toString('latin1', pos + 1, lineEnd), next }
    case 0x2d: // '-'
      return { value: new RespError(buf.toString('latin1', pos + 1, lineEnd)), next }
    case 0x3a: // ':'
      return { value: integerAt(buf, pos + 1, lineEnd), next }
    case 0x24: {
      // '$'
      const length = integerAt(buf, pos + 1, lineEnd)
      if (length < 0) return { value: null, next }
      if (next + length + 2 > buf.length) return null
      return { value: buf.subarray(next, next + length), next: next + length + 2 }
    }
    case 0x2a: {
      // '*'
      const count = integerAt(buf, pos + 1, lineEnd)
      if (count < 0) return { value: null, next }
      const items: RespValue[] = []
      let at = next
      for (let i = 0; i < count; i++) {
        const item = parseValue(buf, at)
        if (item === null) return null
        items.push(item.value)
        at = item.next
      }
      return { value: items, next: at }
    }
    default:
      throw new Error(`unexpected RESP type byte ${type} at ${pos}`)
  }
}

/**
 * The decimal integer in buf[start, end), read from the bytes: a pipelined producer reads one
 * length line per XADD answer, and making a string of each cost the client more than Redis spent
 * on the XADD. NaN for anything but an optional '-' and digits, as Number() of the line would be.
 */
function integerAt(buf: Buffer, start: number, end: number): number {
  const negative = buf[start] === 0x2d
  let at = negative ? start + 1 : start
  if (at >= end) return NaN
  let value = 0
  for (; at < end; at++) {
    const digit = buf[at] - 0x30
    if (digit < 0 || digit > 9) return NaN
    value = value * 10 + digit
  }
  return negative ? -value : value
}
