/**
 * Redis Streams as a bench peer: one stream per partition; a producer pipelines one XADD per
 * record and resolves when Redis answered them all; consumers read with XREADGROUP (one group, a
 * consumer name each) and acknowledge what they read with XACK, sent with their next read.
 */
import { randomBytes } from 'node:crypto'
import { stampValue, readStamp, type BenchConsumer, type BenchDriver, type BenchProducer, type BenchTarget, type Polled, type ServedBy } from '../driver.js'
import { command, RespConnection, RespError, type RespValue } from './resp.js'

/** Printed and recorded with each result: how fair the comparison is. */
const DRIVEN = "one connection per producer; each send pipelines one XADD per record in one write, a window of --in-flight sends per partition (as every system gets), answers read in order"
const GROUP = 'bench'
const READ_COUNT = 1000
const READ_BLOCK_MS = 100

export class RedisDriver implements BenchDriver {
  readonly system = 'redis'
  readonly flushMode: string
  readonly driven = DRIVEN
  readonly server: ServedBy
  readonly #port: number
  readonly #onTeardown: () => Promise<void>
  readonly #prefix = `bench-${randomBytes(3).toString('hex')}`
  #target: BenchTarget | null = null

  constructor(port: number, flushMode: string, server: ServedBy, onTeardown: () => Promise<void>) {
    this.#port = port
    this.flushMode = flushMode
    this.server = server
    this.#onTeardown = onTeardown
  }

  #key(partition: number): string {
    return `${this.#prefix}-${partition}`
  }

  async setup(target: BenchTarget): Promise<void> {
    this.#target = target
  }

  async producer(): Promise<BenchProducer> {
    const target = this.#target!
    const connection = await RespConnection.open(this.#port)
    const filler = randomBytes(target.recordSize)
    const fixed = new Map<number, Buffer>()
    return {
      send: async (partition, count, stampsUs) => {
        let commands: Buffer
        if (stampsUs === null) {
          let one = fixed.get(partition)
          if (one === undefined) fixed.set(partition, (one = command('XADD', this.#key(partition), '*', 'v', filler)))
          commands = Buffer.concat(Array.from({ length: count }, () => one))
        } else {
          commands = Buffer.concat(
            Array.from({ length: count }, (_, i) => {
              const value = Buffer.from(filler)
              stampValue(value, stampsUs[i])
              return command('XADD', this.#key(partition), '*', 'v', value)
            }),
          )
        }
        const answered = connection.send(commands, count)
        // acks=0: the write is the end of it; the answers are read and dropped.
        if (target.acks === 0) answered.catch(() => undefined)
        else await answered
      },
      close: () => connection.close(),
    }
  }

  async consumer(index: number, partitions: number[], from: 'start' | 'end', stamps: boolean): Promise<BenchConsumer> {
    const connection = await RespConnection.open(this.#port)
    const keys = partitions.map((p) => this.#key(p))
    for (const key of keys) {
      try {
        await connection.call('XGROUP', 'CREATE', key, GROUP, from === 'start' ? '0' : '$', 'MKSTREAM')
      } catch (error) {
        if (!(error instanceof RespError && error.message.startsWith('BUSYGROUP'))) throw error
      }
    }
    const name = `c${index}`
    const read = command('XREADGROUP', 'GROUP', GROUP, name, 'COUNT', String(READ_COUNT), 'BLOCK', String(READ_BLOCK_MS), 'STREAMS', ...keys, ...keys.map(() => '>'))
    let acks: Buffer[] = []
    return {
      poll: async (): Promise<Polled> => {
        const sending = [...acks, read]
        acks = []
        const replies = await connection.send(Buffer.concat(sending), sending.length)
        const polled: Polled = { records: 0, stampsUs: stamps ? [] : null }
        for (const stream of asArray(replies.at(-1))) {
          const [key, entries] = asArray(stream)
          const ids: Buffer[] = []
          for (const entry of asArray(entries)) {
            const [id, fields] = asArray(entry)
            ids.push(id as Buffer)
            polled.records++
            const stamp = readStamp((asArray(fields)[1] as Buffer | undefined) ?? null)
            if (stamp !== null) polled.stampsUs?.push(stamp)
          }
          if (ids.length > 0) acks.push(command('XACK', key as Buffer, GROUP, ...ids))
        }
        return polled
      },
      close: async () => {
        if (acks.length > 0) await connection.send(Buffer.concat(acks), acks.length)
        await connection.close()
      },
    }
  }

  async teardown(): Promise<void> {
    await this.#onTeardown()
  }
}

function asArray(value: RespValue | undefined): RespValue[] {
  return Array.isArray(value) ? value : []
}
