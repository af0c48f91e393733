/**
 * NATS JetStream as a bench peer: one file-backed stream whose subjects are the partitions
 * (`<stream>.<p>`); a producer publishes each record with a reply subject and resolves once
 * JetStream acknowledged every one (the stored sequence comes back); consumers share one durable
 * pull consumer with explicit acks, pull up to READ_COUNT messages at a time and ack each message
 * read, in one write before their next pull.
 */
import { randomBytes } from 'node:crypto'
import { readStamp, stampValue, type BenchConsumer, type BenchDriver, type BenchProducer, type BenchTarget, type Polled, type ServedBy } from '../driver.js'
import { NatsConnection, type NatsMessage } from './nats-connection.js'

/** Printed and recorded with each result: how fair the comparison is. */
const DRIVEN = "one connection per producer; each send publishes every record with a reply subject in one write (async publish), a window of --in-flight sends per partition (as every system gets); a send resolves when JetStream acknowledged each record"
const DURABLE = 'bench'
const READ_COUNT = 1000
const PULL_EXPIRES_MS = 100
/** Beyond the pull's own expiry, how long the client waits for the server's end-of-pull status. */
const PULL_SLACK_MS = 200
const NS_PER_MS = 1_000_000
/** A JetStream publish answer carries this field only when it refused the message. */
const ERROR_FIELD = '"error"'

export class NatsDriver implements BenchDriver {
  readonly system = 'nats'
  readonly flushMode: string
  readonly driven = DRIVEN
  readonly server: ServedBy
  readonly #port: number
  readonly #onTeardown: () => Promise<void>
  readonly #stream = `BENCH_${randomBytes(3).toString('hex').toUpperCase()}`
  #target: BenchTarget | null = null
  #admin: NatsConnection | null = null
  #durable: Promise<void> | null = null

  constructor(port: number, flushMode: string, server: ServedBy, onTeardown: () => Promise<void>) {
    this.#port = port
    this.flushMode = flushMode
    this.server = server
    this.#onTeardown = onTeardown
  }

  async setup(target: BenchTarget): Promise<void> {
    this.#target = target
    this.#admin = await NatsConnection.open(this.#port)
    const config = { name: this.#stream, subjects: [`${this.#stream}.*`], storage: 'file', retention: 'limits', num_replicas: 1, discard: 'old' }
    await jsApi(this.#admin, `$JS.API.STREAM.CREATE.${this.#stream}`, config)
  }

  async producer(): Promise<BenchProducer> {
    const target = this.#target!
    const connection = await NatsConnection.open(this.#port)
    const filler = randomBytes(target.recordSize)
    let batchNo = 0
    return {
      send: async (partition, count, stampsUs) => {
        const subject = `${this.#stream}.${partition}`
        if (target.acks === 0) {
          connection.write(publishes(subject, null, filler, count, stampsUs))
          return
        }
        const replyTo = `${connection.inbox}.p${batchNo++}`
        let answered = 0
        const done = new Promise<void>((resolve, reject) => {
          const off = connection.route(replyTo, (message) => {
            // Only a refusal is read: a stored publish's answer ({"stream":...,"seq":N}) needs no decoding.
            const reply = message.payload.includes(ERROR_FIELD) ? (JSON.parse(message.payload.toString()) as { error?: { description?: string } }) : {}
            if (reply.error !== undefined) {
              off()
              reject(new Error(`jetstream refused a publish: ${reply.error.description ?? JSON.stringify(reply.error)}`))
            } else if (++answered === count) {
              off()
              resolve()
            }
          })
        })
        connection.write(publishes(subject, replyTo, filler, count, stampsUs))
        await done
      },
      close: () => connection.close(),
    }
  }

  async consumer(_index: number, _partitions: number[], from: 'start' | 'end', stamps: boolean): Promise<BenchConsumer> {
    // Partitions are subjects of one stream: consumers share one durable and split its messages.
    this.#durable ??= jsApi(this.#admin!, `$JS.API.CONSUMER.DURABLE.CREATE.${this.#stream}.${DURABLE}`, {
      stream_name: this.#stream,
      config: { durable_name: DURABLE, ack_policy: 'explicit', deliver_policy: from === 'start' ? 'all' : 'new', max_ack_pending: -1, max_waiting: 512 },
    }).then(() => undefined)
    await this.#durable
    const connection = await NatsConnection.open(this.#port)
    // Outside the `<inbox>.*` wildcard, so pulled messages arrive once, on this subscription only.
    const inbox = `${connection.inbox}-pull`
    let arrived: NatsMessage[] = []
    let pullEnded: (() => void) | null = null
    const off = connection.subscribe(inbox, (message) => {
      if (message.status !== null) pullEnded?.()
      else {
        arrived.push(message)
        if (arrived.length >= READ_COUNT) pullEnded?.()
      }
    })
    let acks: Buffer[] = []
    const next = `$JS.API.CONSUMER.MSG.NEXT.${this.#stream}.${DURABLE}`
    const pull = JSON.stringify({ batch: READ_COUNT, expires: PULL_EXPIRES_MS * NS_PER_MS })
    return {
      poll: async (): Promise<Polled> => {
        const ended = new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, PULL_EXPIRES_MS + PULL_SLACK_MS)
          pullEnded = () => {
            clearTimeout(timer)
            resolve()
          }
        })
        connection.write(Buffer.concat([...acks, NatsConnection.pub(next, inbox, pull)]))
        acks = []
        await ended
        pullEnded = null
        const messages = arrived
        arrived = []
        const polled: Polled = { records: messages.length, stampsUs: stamps ? [] : null }
        for (const message of messages) {
          if (message.replyTo !== null) acks.push(NatsConnection.pub(message.replyTo, null, ''))
          const stamp = readStamp(message.payload)
          if (stamp !== null) polled.stampsUs?.push(stamp)
        }
        return polled
      },
      close: async () => {
        if (acks.length > 0) connection.write(Buffer.concat(acks))
        await connection.ping().catch(() => undefined)
        off()
        await connection.close()
      },
    }
  }

  async teardown(): Promise<void> {
    try {
      if (this.#admin !== null) await jsApi(this.#admin, `$JS.API.STREAM.DELETE.${this.#stream}`, {}).catch(() => undefined)
      await this.#admin?.close()
    } finally {
      await this.#onTeardown()
    }
  }
}

/** `count` PUBs of the filler (stamped when asked) in one buffer; unstamped, one PUB is encoded and repeated. */
function publishes(subject: string, replyTo: string | null, filler: Buffer, count: number, stampsUs: Float64Array | null): Buffer {
  if (stampsUs === null) {
    const one = NatsConnection.pub(subject, replyTo, filler)
    return Buffer.concat(Array.from({ length: count }, () => one))
  }
  return Buffer.concat(Array.from({ length: count }, (_, i) => NatsConnection.pub(subject, replyTo, stamped(filler, stampsUs, i))))
}

function stamped(filler: Buffer, stampsUs: Float64Array | null, i: number): Buffer {
  if (stampsUs === null) return filler
  const value = Buffer.from(filler)
  stampValue(value, stampsUs[i])
  return value
}

/** A JetStream API request; an answer carrying `error` rejects with its description. */
async function jsApi(connection: NatsConnection, subject: string, body: unknown): Promise<unknown> {
  const reply = await connection.request(subject, JSON.stringify(body))
  const parsed = JSON.parse(reply.payload.toString() || '{}') as { error?: { description?: string; code?: number } }
  if (parsed.error !== undefined) throw new Error(`${subject}: ${parsed.error.description ?? JSON.stringify(parsed.error)}`)
  return parsed
}
