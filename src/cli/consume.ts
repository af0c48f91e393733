/**
 * `partita consume TOPIC...`: rpk consume, kcat -C and kafka-console-consumer. Without -g it reads
 * every partition of the topics (or those of -p) from -o; with -g it joins the group (through the
 * same member and heartbeat loop as the embedded consumer), starts from the committed offsets (or
 * -o where there are none) and commits what it printed after each fetch. It stops after -n
 * records, at the end of the log with -e, after --timeout-ms without a record, or on SIGINT/SIGTERM.
 */
import type { Command } from 'commander'
import { ErrorCode } from '../common/error-codes.js'
import { decodeFetched } from '../client/fetch-decoder.js'
import { GroupMember, JoinAborted, partitionKey, PartitionAssigners } from '../client/group-member.js'
import type { KafkaMessage } from '../client/messages.js'
import { resolveRetry } from '../client/retry.js'
import { WireCluster } from '../client/wire-cluster.js'
import type { KafkaClient, TopicPartition } from '../client/wire/kafka-client.js'
import { addBootstrapOption, check, CliError, parseInteger, withClient, type ClientCommandOptions } from './common.js'
import { parseOffsetSpec, resolveOffsets, type OffsetSpecValue } from './offsets.js'

interface ConsumeOptions extends ClientCommandOptions {
  topic?: string
  offset?: string
  fromBeginning?: boolean
  num?: string
  maxMessages?: string
  group?: string
  partitions?: string
  partition?: string
  format: string
  exitAtEnd?: boolean
  timeoutMs?: string
  printKey?: boolean
  keySeparator: string
}

interface Settings {
  maxMessages: number
  timeoutMs: number | null
  exitAtEnd: boolean
  render: (topic: string, partition: number, message: KafkaMessage) => string
}

const FETCH_WAIT_MS_MAX = 500
const SESSION_TIMEOUT_MS = 10_000
const HEARTBEAT_INTERVAL_MS = 3_000

export function registerConsume(program: Command): void {
  addBootstrapOption(program.command('consume').argument('[topics...]').description('print records of topics'))
    .option('--topic <name>', 'a topic to read (as an argument is the same)')
    .option('-o, --offset <where>', 'start, end, an offset, -N (N before the end) or @TIMESTAMP (ms or ISO 8601); with -g, where a partition without a committed offset starts', 'start')
    .option('--from-beginning', 'the same as -o start')
    .option('-n, --num <n>', 'exit after this many records')
    .option('--max-messages <n>', 'the same as --num')
    .option('-g, --group <id>', 'consume as a member of this consumer group, committing offsets')
    .option('-p, --partitions <list>', 'read only these partitions, comma-separated (not with -g)')
    .option('--partition <p>', 'the same as --partitions, one partition (the earlier form)')
    .option('-f, --format <format>', "text (the value), json (one object per record) or a format string: %t topic, %k key, %v value, %p partition, %o offset, %T timestamp, %h headers, \\n, \\t", 'text')
    .option('-e, --exit-at-end', 'exit once every partition is read to its end')
    .option('--timeout-ms <ms>', 'exit when no record arrives for this long')
    .option('--print-key', 'with text: print the key before the value')
    .option('--key-separator <sep>', 'with --print-key: between key and value', '\t')
    .action(async (names: string[], options: ConsumeOptions) => {
      const topics = [...names, ...(options.topic === undefined ? [] : [options.topic])]
      if (topics.length === 0) throw new CliError('name a topic to consume')
      const count = options.num ?? options.maxMessages
      const settings: Settings = {
        maxMessages: count === undefined ? Number.POSITIVE_INFINITY : parseInteger('num', count, 1),
        timeoutMs: options.timeoutMs === undefined ? null : parseInteger('timeout-ms', options.timeoutMs, 0),
        exitAtEnd: options.exitAtEnd === true,
        render: renderer(options),
      }
      const start = parseOffsetSpec(options.fromBeginning === true ? 'start' : (options.offset ?? 'start'))
      const listed = [options.partitions, options.partition].filter((p) => p !== undefined).join(',')
      const partitions = listed === '' ? null : parsePartitions(listed)
      if (options.group !== undefined && partitions !== null) throw new CliError('--partitions cannot be used with --group')
      const stop = stopSignal()
      try {
        await withClient(options, async (client) => {
          const consumer = new PrintingConsumer(client, settings, stop)
          if (options.group !== undefined) await consumer.runGroup(options.group, topics, start)
          else await consumer.runPartitions(topics, partitions, start)
          process.stderr.write(`Processed a total of ${consumer.printed} messages\n`)
        })
      } finally {
        stop.dispose()
      }
    })
}

function parsePartitions(list: string): number[] {
  const out = list.split(',').map((p) => p.trim()).filter((p) => p !== '').map((p) => parseInteger('partitions', p, 0, 2 ** 31 - 1))
  if (out.length === 0) throw new CliError(`--partitions must list partition numbers, got '${list}'`)
  return [...new Set(out)]
}

/** How one record prints, from --format (and --print-key for text). */
export function renderer(options: { format: string; printKey?: boolean; keySeparator: string }): Settings['render'] {
  const text = (b: Buffer | null): string => (b === null ? 'null' : b.toString('utf8'))
  if (options.format === 'json') {
    return (topic, partition, m) =>
      JSON.stringify({
        topic,
        partition,
        offset: Number(m.offset),
        timestamp: Number(m.timestamp),
        key: m.key === null ? null : m.key.toString('utf8'),
        value: m.value === null ? null : m.value.toString('utf8'),
        headers: Object.fromEntries(headerPairs(m).map(([k, v]) => [k, v])),
      }) + '\n'
  }
  if (options.format === 'text') {
    if (options.printKey === true) return (_t, _p, m) => `${text(m.key)}${options.keySeparator}${text(m.value)}\n`
    return (_t, _p, m) => `${text(m.value)}\n`
  }
  if (!options.format.includes('%')) throw new CliError(`--format must be text, json or a format string with %v and the like, got '${options.format}'`)
  const format = options.format.replace(/\\(.)/g, (_, c: string) => ({ n: '\n', t: '\t', r: '\r', '\\': '\\' })[c] ?? `\\${c}`)
  return (topic, partition, m) =>
    format.replace(/%(.)/g, (whole, c: string) => {
      switch (c) {
        case 't':
          return topic
        case 'k':
          return text(m.key)
        case 'v':
          return text(m.value)
        case 'p':
          return String(partition)
        case 'o':
          return m.offset
        case 'T':
          return m.timestamp
        case 'h':
          return headerPairs(m).map(([k, v]) => `${k}=${v}`).join(',')
        case '%':
          return '%'
        default:
          return whole
      }
    })
}

function headerPairs(m: KafkaMessage): [string, string][] {
  return Object.entries(m.headers).flatMap(([k, v]) => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((b): [string, string] => [k, b.toString('utf8')])))
}

interface StopSignal {
  readonly stopped: boolean
  /** Aborts on SIGINT or SIGTERM: a group join in progress gives up at once. */
  readonly signal: AbortSignal
  dispose(): void
}

function stopSignal(): StopSignal {
  const state = { stopped: false }
  const aborter = new AbortController()
  const onSignal = (): void => {
    state.stopped = true
    aborter.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return {
    get stopped() {
      return state.stopped
    },
    signal: aborter.signal,
    dispose() {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    },
  }
}

/** A partition being read: where the next fetch starts, and whether -e finds it at its end. */
interface Position extends TopicPartition {
  offset: number
  atEnd: boolean
}

class PrintingConsumer {
  printed = 0
  #lastRecordAt = Date.now()

  constructor(
    private readonly client: KafkaClient,
    private readonly settings: Settings,
    private readonly stop: StopSignal,
  ) {}

  /** Every partition of the topics (or those listed), from `start`. */
  async runPartitions(topics: string[], only: number[] | null, start: OffsetSpecValue): Promise<void> {
    const tps: TopicPartition[] = []
    for (const name of topics) {
      const topic = await this.client.topic(name)
      for (const p of only ?? topic.partitions.map((tp) => tp.partition)) {
        if (!topic.partitions.some((tp) => tp.partition === p)) throw new CliError(`partition ${p} of '${name}': UNKNOWN_TOPIC_OR_PARTITION`)
        tps.push({ topic: name, partition: p })
      }
    }
    const offsets = await resolveOffsets(this.client, tps, start)
    const positions = tps.map((tp) => ({ ...tp, offset: offsets.get(partitionKey(tp.topic, tp.partition))!, atEnd: false }))
    while (!this.#done(positions)) await this.#fetchOnce(positions, start)
  }

  /** As a group member: committed offsets, commits after every fetch, rejoins on rebalance. */
  async runGroup(groupId: string, topics: string[], start: OffsetSpecValue): Promise<void> {
    for (const name of topics) await this.client.topic(name)
    const member = new GroupMember(new WireCluster(this.client), {
      groupId,
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      rebalanceTimeoutMs: 30_000,
      assigners: [PartitionAssigners.range],
      clientId: 'partita-cli',
      allowAutoTopicCreation: false,
      retry: resolveRetry({}),
    })
    const state = { rejoin: false }
    try {
      while (!this.stop.stopped && this.printed < this.settings.maxMessages) {
        state.rejoin = false
        const outcome = await member.join(topics, this.stop.signal).catch((error: unknown) => {
          // Stopped while joining: nothing was read, so there is nothing to commit.
          if (error instanceof JoinAborted) return null
          throw error
        })
        if (outcome === null) break
        member.startHeartbeats(HEARTBEAT_INTERVAL_MS, {
          paused: () => state.rejoin,
          onAnswer: (errorCode) => {
            if (errorCode === ErrorCode.NONE) return
            if (errorCode === ErrorCode.UNKNOWN_MEMBER_ID) member.forgetMemberId()
            state.rejoin = true
          },
        })
        const positions = await this.#groupStart(member, outcome.assignment, start)
        // Bounded by the stop conditions and by a rebalance, after which the outer loop rejoins.
        while (!this.#done(positions) && !state.rejoin) {
          const before = positions.map((p) => p.offset)
          await this.#fetchOnce(positions, start)
          const moved = positions.filter((p, i) => p.offset !== before[i])
          if (moved.length === 0) continue
          const results = await member.commit(moved.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.offset })))
          for (const r of results) {
            if (r.errorCode === ErrorCode.REBALANCE_IN_PROGRESS || r.errorCode === ErrorCode.ILLEGAL_GENERATION || r.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) state.rejoin = true
            else check(r.errorCode, `commit offset of group '${groupId}' for ${r.topic}-${r.partition}`)
          }
        }
        if (this.#done(positions)) break
      }
    } finally {
      member.stopHeartbeats()
      await member.leave()
    }
  }

  async #groupStart(member: GroupMember, assignment: Record<string, number[]>, start: OffsetSpecValue): Promise<Position[]> {
    const committed = await member.committed(assignment)
    const tps = Object.entries(assignment).flatMap(([topic, partitions]) => partitions.map((partition) => ({ topic, partition })))
    const missing = tps.filter((tp) => (committed.get(partitionKey(tp.topic, tp.partition)) ?? -1) < 0)
    const reset = await resolveOffsets(this.client, missing, start)
    return tps.map((tp) => {
      const key = partitionKey(tp.topic, tp.partition)
      const offset = committed.get(key) ?? -1
      return { ...tp, offset: offset >= 0 ? offset : reset.get(key)!, atEnd: false }
    })
  }

  #done(positions: readonly Position[]): boolean {
    if (this.stop.stopped || this.printed >= this.settings.maxMessages) return true
    if (this.settings.exitAtEnd && positions.every((p) => p.atEnd)) return true
    return this.settings.timeoutMs !== null && Date.now() - this.#lastRecordAt >= this.settings.timeoutMs
  }

  // One fetch over the partitions still to read: prints what came back and moves the positions.
  async #fetchOnce(positions: Position[], start: OffsetSpecValue): Promise<void> {
    const reading = positions.filter((p) => !(this.settings.exitAtEnd && p.atEnd))
    if (reading.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, FETCH_WAIT_MS_MAX))
      return
    }
    const remainingMs = this.settings.timeoutMs === null ? FETCH_WAIT_MS_MAX : this.settings.timeoutMs - (Date.now() - this.#lastRecordAt)
    // With -e a partition's end is known from any answer, so there is nothing to wait for.
    const maxWaitMs = this.settings.exitAtEnd ? 0 : Math.max(0, Math.min(FETCH_WAIT_MS_MAX, remainingMs))
    const results = await this.client.fetch(
      reading.map((p) => ({ topic: p.topic, partition: p.partition, fetchOffset: p.offset })),
      { maxWaitMs },
    )
    let out = ''
    for (const r of results) {
      const position = reading.find((p) => p.topic === r.topic && p.partition === r.partition)!
      if (r.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
        const reset = await resolveOffsets(this.client, [r], start.kind === 'offset' ? { kind: 'start' } : start)
        position.offset = reset.get(partitionKey(r.topic, r.partition))!
        continue
      }
      if (r.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER || r.errorCode === ErrorCode.LEADER_NOT_AVAILABLE) continue
      check(r.errorCode, `fetch from ${r.topic}-${r.partition}`)
      const decoded = decodeFetched(r.records, position.offset)
      let next = decoded.nextOffset
      for (const message of decoded.messages) {
        if (this.printed >= this.settings.maxMessages) {
          next = Number(message.offset)
          break
        }
        out += this.settings.render(r.topic, r.partition, message)
        this.printed++
      }
      position.offset = next
      position.atEnd = next >= r.highWatermark
    }
    if (out !== '') {
      this.#lastRecordAt = Date.now()
      process.stdout.write(out)
    }
  }
}
