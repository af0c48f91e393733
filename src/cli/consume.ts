/**
 * `partita consume`: kafka-console-consumer. Prints each record's value (and key with
 * --print-key), one per line. Without --group it reads every partition of the topic (or the one
 * given) from the start or the end; with --group it joins the group, starts from the committed
 * offsets (reset to the start or end when none), and commits what it printed after each fetch.
 * It stops after --max-messages, after --timeout-ms without a record, or on SIGINT/SIGTERM.
 */
import type { Command } from 'commander'
import { ErrorCode } from '../common/error-codes.js'
import { decodeFetched } from '../client/fetch-decoder.js'
import { OffsetSpec, type KafkaClient, type TopicPartition } from '../client/wire/kafka-client.js'
import { addBootstrapOption, check, CliError, parseInteger, withClient, type ClientCommandOptions } from './common.js'
import { GroupMember } from './group-member.js'

interface ConsumeOptions extends ClientCommandOptions {
  topic: string
  fromBeginning?: boolean
  group?: string
  maxMessages?: string
  timeoutMs?: string
  printKey?: boolean
  keySeparator: string
  partition?: string
  offset?: string
}

interface Settings {
  topic: string
  fromBeginning: boolean
  maxMessages: number
  timeoutMs: number | null
  printKey: boolean
  keySeparator: string
}

const FETCH_WAIT_MS_MAX = 500

export function registerConsume(program: Command): void {
  addBootstrapOption(program.command('consume').description('print records of a topic, one per line'))
    .requiredOption('--topic <name>', 'the topic to read')
    .option('--from-beginning', 'start at the earliest offset when there is no committed one')
    .option('--group <id>', 'consume as a member of this consumer group, committing offsets')
    .option('--max-messages <n>', 'exit after this many records')
    .option('--timeout-ms <ms>', 'exit when no record arrives for this long')
    .option('--print-key', 'print the key before the value')
    .option('--key-separator <sep>', 'between key and value with --print-key', '\t')
    .option('--partition <p>', 'read only this partition (no group)')
    .option('--offset <o>', 'with --partition: an offset, earliest or latest')
    .action(async (options: ConsumeOptions) => {
      const settings: Settings = {
        topic: options.topic,
        fromBeginning: options.fromBeginning === true,
        maxMessages: options.maxMessages === undefined ? Number.POSITIVE_INFINITY : parseInteger('max-messages', options.maxMessages, 1),
        timeoutMs: options.timeoutMs === undefined ? null : parseInteger('timeout-ms', options.timeoutMs, 0),
        printKey: options.printKey === true,
        keySeparator: options.keySeparator,
      }
      const partition = options.partition === undefined ? null : parseInteger('partition', options.partition, 0, 2 ** 31 - 1)
      if (options.offset !== undefined && partition === null) throw new CliError('--offset needs --partition')
      if (options.group !== undefined && partition !== null) throw new CliError('--partition cannot be used with --group')
      const stop = stopSignal()
      try {
        await withClient(options, async (client) => {
          const consumer = new PrintingConsumer(client, settings, stop)
          if (options.group !== undefined) await consumer.runGroup(options.group)
          else await consumer.runPartitions(partition, options.offset)
          process.stderr.write(`Processed a total of ${consumer.printed} messages\n`)
        })
      } finally {
        stop.dispose()
      }
    })
}

interface StopSignal {
  readonly stopped: boolean
  dispose(): void
}

function stopSignal(): StopSignal {
  const state = { stopped: false }
  const onSignal = (): void => {
    state.stopped = true
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return {
    get stopped() {
      return state.stopped
    },
    dispose() {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    },
  }
}

function parseStartOffset(value: string): number {
  if (value === 'earliest') return OffsetSpec.EARLIEST
  if (value === 'latest') return OffsetSpec.LATEST
  return -1000 - parseInteger('offset', value, 0)
}

class PrintingConsumer {
  printed = 0
  #lastRecordAt = Date.now()

  constructor(
    private readonly client: KafkaClient,
    private readonly settings: Settings,
    private readonly stop: StopSignal,
  ) {}

  /** Every partition (or one), from explicit, earliest or latest offsets. */
  async runPartitions(partition: number | null, offset: string | undefined): Promise<void> {
    const topic = await this.client.topic(this.settings.topic)
    const partitions = partition === null ? topic.partitions.map((p) => p.partition) : [partition]
    if (partition !== null && !topic.partitions.some((p) => p.partition === partition)) {
      throw new CliError(`partition ${partition} of '${this.settings.topic}': ${'UNKNOWN_TOPIC_OR_PARTITION'}`)
    }
    const spec = offset === undefined ? this.#resetSpec() : parseStartOffset(offset)
    // An explicit offset is encoded below -1000 so one path handles all three starts.
    const positions =
      spec <= -1000
        ? new Map(partitions.map((p) => [p, -1000 - spec]))
        : await this.#resolve(partitions.map((p) => ({ topic: this.settings.topic, partition: p })), spec)
    while (!this.#done()) await this.#fetchOnce(positions)
  }

  /** As a group member: committed offsets, commits after every fetch, rejoins on rebalance. */
  async runGroup(groupId: string): Promise<void> {
    await this.client.topic(this.settings.topic)
    const member = new GroupMember(this.client, groupId, [this.settings.topic])
    try {
      while (!this.#done()) {
        const assigned = await member.join()
        const positions = await this.#groupStart(member, assigned)
        // Bounded by the stop conditions and by a rebalance, after which the outer loop rejoins.
        while (!this.#done() && !member.needsRejoin) {
          member.throwIfHeartbeatFailed()
          const before = new Map(positions)
          await this.#fetchOnce(positions)
          const moved = [...positions].filter(([p, o]) => before.get(p) !== o)
          await member.commit(moved.map(([p, o]) => ({ topic: this.settings.topic, partition: p, offset: o })))
        }
      }
    } finally {
      await member.leave().catch(() => undefined)
    }
  }

  async #groupStart(member: GroupMember, assigned: TopicPartition[]): Promise<Map<number, number>> {
    const mine = assigned.filter((tp) => tp.topic === this.settings.topic)
    const committed = await member.committed(mine)
    const positions = new Map<number, number>()
    const missing: TopicPartition[] = []
    for (const tp of mine) {
      const offset = committed.get(`${tp.topic}-${tp.partition}`) ?? -1
      if (offset >= 0) positions.set(tp.partition, offset)
      else missing.push(tp)
    }
    for (const [p, o] of await this.#resolve(missing, this.#resetSpec())) positions.set(p, o)
    return positions
  }

  #resetSpec(): number {
    return this.settings.fromBeginning ? OffsetSpec.EARLIEST : OffsetSpec.LATEST
  }

  async #resolve(partitions: TopicPartition[], spec: number): Promise<Map<number, number>> {
    const out = new Map<number, number>()
    if (partitions.length === 0) return out
    const results = await this.client.listOffsets(partitions.map((tp) => ({ ...tp, timestamp: spec })))
    for (const r of results) {
      check(r.errorCode, `list offsets of ${r.topic}-${r.partition}`)
      out.set(r.partition, r.offset)
    }
    return out
  }

  #done(): boolean {
    if (this.stop.stopped || this.printed >= this.settings.maxMessages) return true
    return this.settings.timeoutMs !== null && Date.now() - this.#lastRecordAt >= this.settings.timeoutMs
  }

  // One fetch over all positions: prints what came back and moves the positions past it.
  async #fetchOnce(positions: Map<number, number>): Promise<void> {
    if (positions.size === 0) {
      await new Promise((resolve) => setTimeout(resolve, FETCH_WAIT_MS_MAX))
      return
    }
    const remainingMs = this.settings.timeoutMs === null ? FETCH_WAIT_MS_MAX : this.settings.timeoutMs - (Date.now() - this.#lastRecordAt)
    const maxWaitMs = Math.max(0, Math.min(FETCH_WAIT_MS_MAX, remainingMs))
    const inputs = [...positions].map(([partition, fetchOffset]) => ({ topic: this.settings.topic, partition, fetchOffset }))
    const results = await this.client.fetch(inputs, { maxWaitMs })
    const lines: string[] = []
    for (const r of results) {
      if (r.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
        const reset = await this.#resolve([{ topic: r.topic, partition: r.partition }], this.#resetSpec())
        positions.set(r.partition, reset.get(r.partition)!)
        continue
      }
      if (r.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER || r.errorCode === ErrorCode.LEADER_NOT_AVAILABLE) continue
      check(r.errorCode, `fetch from ${r.topic}-${r.partition}`)
      const from = positions.get(r.partition)!
      const decoded = decodeFetched(r.records, from)
      let next = decoded.nextOffset
      for (const message of decoded.messages) {
        if (this.printed >= this.settings.maxMessages) {
          next = Number(message.offset)
          break
        }
        lines.push(this.#format(message.key, message.value))
        this.printed++
      }
      positions.set(r.partition, next)
    }
    if (lines.length > 0) {
      this.#lastRecordAt = Date.now()
      process.stdout.write(lines.join('\n') + '\n')
    }
  }

  #format(key: Buffer | null, value: Buffer | null): string {
    const v = value === null ? 'null' : value.toString('utf8')
    if (!this.settings.printKey) return v
    return `${key === null ? 'null' : key.toString('utf8')}${this.settings.keySeparator}${v}`
  }
}
