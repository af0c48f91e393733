/**
 * `partita produce TOPIC`: rpk produce and kafka-console-producer. Reads stdin, one record a line
 * (the key before --key-separator when given, or -k for every record), partitions keyed records
 * with Kafka's murmur2 and unkeyed ones with the sticky partitioner (or -p), and sends one v2
 * batch per partition when it fills, after a short linger, or at the end of input. Requests are
 * pipelined up to a bound; the first error stops the command with its Kafka error name.
 */
import readline from 'node:readline'
import type { Command } from 'commander'
import { defaultPartition, StickyPartitioner } from '../client/partitioner.js'
import type { KafkaClient, ProduceResult } from '../client/wire/kafka-client.js'
import { compress } from '../records/compression.js'
import { CompressionType, encodeBatch, type RecordHeader, type RecordInput } from '../records/record-batch.js'
import { addBootstrapOption, check, CliError, collect, parseInteger, printLines, withClient, type ClientCommandOptions } from './common.js'
import { Progress } from './progress.js'

interface ProduceOptions extends ClientCommandOptions {
  topic?: string
  key?: string
  keySeparator?: string
  header?: string[]
  partition?: string
  acks: string
  compression: string
  tombstone?: boolean
  verbose?: boolean
  batchBytes: string
  lingerMs: string
}

const COMPRESSIONS: Record<string, number> = {
  none: CompressionType.NONE,
  gzip: CompressionType.GZIP,
  snappy: CompressionType.SNAPPY,
  lz4: CompressionType.LZ4,
  zstd: CompressionType.ZSTD,
}

const REQUESTS_OUTSTANDING_MAX = 8
// Per-record framing in a v2 batch is at most this many bytes beyond key and value.
const RECORD_OVERHEAD_BYTES = 21

export function parseAcks(value: string): -1 | 0 | 1 {
  if (value === 'all' || value === '-1') return -1
  if (value === '1') return 1
  if (value === '0') return 0
  throw new CliError(`--acks must be all, -1, 1 or 0, got '${value}'`)
}

export function parseCompression(value: string): number {
  const code = COMPRESSIONS[value]
  if (code === undefined) throw new CliError(`--compression must be one of ${Object.keys(COMPRESSIONS).join(', ')}, got '${value}'`)
  return code
}

/** `-H key=value` pairs as record headers, in the order given. */
export function parseHeaders(pairs: readonly string[] | undefined): RecordHeader[] {
  return (pairs ?? []).map((pair) => {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw new CliError(`malformed --header '${pair}', expected key=value`)
    return { key: pair.slice(0, eq), value: Buffer.from(pair.slice(eq + 1), 'utf8') }
  })
}

export function registerProduce(program: Command): void {
  addBootstrapOption(program.command('produce').argument('[topic]').description('send lines from stdin as records, one per line'))
    .option('--topic <name>', 'the topic (as an argument is the same)')
    .option('-k, --key <key>', 'the key of every record')
    .option('--key-separator <sep>', 'split each line into key and value at the first <sep>')
    .option('-H, --header <key=value>', 'a header on every record (repeatable)', collect)
    .option('-p, --partition <p>', 'send every record to this partition')
    .option('--acks <acks>', 'all (-1), 1 or 0', 'all')
    .option('-z, --compression <codec>', 'none, gzip, snappy, lz4 or zstd', 'none')
    .option('--tombstone', 'an empty value is sent as null (a tombstone)')
    .option('-v, --verbose', 'print the partition, offset and timestamp of each record')
    .option('--batch-bytes <n>', 'send a partition’s batch once it holds this many bytes', '65536')
    .option('--linger-ms <ms>', 'send a partial batch after this long', '100')
    .action(async (topicArgument: string | undefined, options: ProduceOptions) => {
      const topicName = topicArgument ?? options.topic
      if (topicName === undefined) throw new CliError('name the topic to produce to')
      const acks = parseAcks(options.acks)
      const compression = parseCompression(options.compression)
      const batchBytes = parseInteger('batch-bytes', options.batchBytes, 1, 64 * 1024 * 1024)
      const lingerMs = parseInteger('linger-ms', options.lingerMs, 0, 3_600_000)
      const headers = parseHeaders(options.header)
      const partition = options.partition === undefined ? null : parseInteger('partition', options.partition, 0, 2 ** 31 - 1)
      if (options.keySeparator === '') throw new CliError('--key-separator must not be empty')
      if (options.key !== undefined && options.keySeparator !== undefined) throw new CliError('--key and --key-separator cannot be used together')
      if (options.verbose === true && acks === 0) throw new CliError('--verbose needs --acks 1 or all: with acks 0 the broker says nowhere where records landed')
      await withClient(options, async (client) => {
        const topic = await client.topic(topicName, { allowAutoTopicCreation: true })
        if (partition !== null && partition >= topic.partitions.length) {
          throw new CliError(`partition ${partition} of '${topicName}': UNKNOWN_TOPIC_OR_PARTITION (it has ${topic.partitions.length})`)
        }
        const progress = new Progress('produced', 'records')
        const producer = new LineProducer(client, topicName, topic.partitions.length, { acks, compression, batchBytes, lingerMs, verbose: options.verbose === true })
        const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
        let lineNumber = 0
        try {
          for await (const line of lines) {
            lineNumber++
            const record = splitLine(line, options, lineNumber)
            await producer.add({ ...record, headers, partition })
            progress.add(1)
          }
          await producer.finish()
        } finally {
          progress.done()
        }
      })
    })
}

function splitLine(line: string, options: ProduceOptions, lineNumber: number): { key: Buffer | null; value: Buffer | null } {
  const value = (text: string): Buffer | null => (text === '' && options.tombstone === true ? null : Buffer.from(text, 'utf8'))
  if (options.key !== undefined) return { key: Buffer.from(options.key, 'utf8'), value: value(line) }
  const separator = options.keySeparator
  if (separator === undefined) return { key: null, value: value(line) }
  const at = line.indexOf(separator)
  if (at < 0) throw new CliError(`no key separator '${separator}' on line ${lineNumber}`)
  return { key: Buffer.from(line.slice(0, at), 'utf8'), value: value(line.slice(at + separator.length)) }
}

interface Accumulator {
  records: RecordInput[]
  bytes: number
  baseTimestamp: number
}

interface LineProducerOptions {
  acks: -1 | 0 | 1
  compression: number
  batchBytes: number
  lingerMs: number
  verbose: boolean
}

interface LineRecord {
  key: Buffer | null
  value: Buffer | null
  headers: RecordHeader[]
  /** null: chosen by key (murmur2) or, without one, by the sticky partitioner. */
  partition: number | null
}

/** Batches records per partition and keeps a bounded number of produce requests outstanding. */
class LineProducer {
  readonly #accumulators = new Map<number, Accumulator>()
  readonly #outstanding: Promise<void>[] = []
  readonly #sticky = new StickyPartitioner()
  #linger: NodeJS.Timeout | null = null
  #failure: unknown = null

  constructor(
    private readonly client: KafkaClient,
    private readonly topic: string,
    private readonly partitionCount: number,
    private readonly options: LineProducerOptions,
  ) {}

  async add(record: LineRecord): Promise<void> {
    this.#throwIfFailed()
    const partition = record.partition ?? (record.key === null ? this.#sticky.partition(this.topic, this.partitionCount) : defaultPartition(record.key, this.partitionCount))
    const now = Date.now()
    let acc = this.#accumulators.get(partition)
    if (acc === undefined) {
      acc = { records: [], bytes: 0, baseTimestamp: now }
      this.#accumulators.set(partition, acc)
    }
    acc.records.push({ key: record.key, value: record.value, headers: record.headers, timestampDelta: now - acc.baseTimestamp })
    acc.bytes += (record.key?.length ?? 0) + (record.value?.length ?? 0) + RECORD_OVERHEAD_BYTES
    if (acc.bytes >= this.options.batchBytes) {
      await this.#send([partition])
    } else if (this.#linger === null) {
      this.#linger = setTimeout(() => {
        this.#linger = null
        this.#send([...this.#accumulators.keys()]).catch((error: unknown) => (this.#failure ??= error))
      }, this.options.lingerMs)
    }
  }

  async finish(): Promise<void> {
    if (this.#linger !== null) clearTimeout(this.#linger)
    this.#linger = null
    await this.#send([...this.#accumulators.keys()])
    await Promise.all(this.#outstanding)
    this.#throwIfFailed()
  }

  #throwIfFailed(): void {
    if (this.#failure !== null) throw this.#failure
  }

  async #send(partitions: number[]): Promise<void> {
    const inputs = []
    const sent = new Map<number, Accumulator>()
    for (const partition of partitions) {
      const acc = this.#accumulators.get(partition)
      if (acc === undefined || acc.records.length === 0) continue
      this.#accumulators.delete(partition)
      sent.set(partition, acc)
      const records = encodeBatch({ records: acc.records, baseTimestamp: acc.baseTimestamp, compression: this.options.compression, compress })
      inputs.push({ topic: this.topic, partition, records })
      if (partition === this.#sticky.partition(this.topic, this.partitionCount)) this.#sticky.onNewBatch(this.topic, this.partitionCount)
    }
    if (inputs.length === 0) return
    // Bounded pipelining: wait for the oldest request before starting one past the bound.
    while (this.#outstanding.length >= REQUESTS_OUTSTANDING_MAX) await this.#outstanding.shift()
    const request = this.client.produce(inputs, { acks: this.options.acks }).then(
      (results) => this.#check(results, sent),
      (error: unknown) => {
        this.#failure ??= error
      },
    )
    this.#outstanding.push(request)
    this.#throwIfFailed()
  }

  #check(results: ProduceResult[], sent: Map<number, Accumulator>): void {
    const landed: string[] = []
    for (const r of results) {
      try {
        check(r.errorCode, `produce to ${r.topic}-${r.partition}`, r.errorMessage)
      } catch (error) {
        this.#failure ??= error
        continue
      }
      const acc = sent.get(r.partition)
      if (!this.options.verbose || acc === undefined) continue
      acc.records.forEach((record, i) => {
        const timestamp = r.logAppendTimeMs >= 0 ? r.logAppendTimeMs : acc.baseTimestamp + (record.timestampDelta ?? 0)
        landed.push(`Produced to partition ${r.partition} at offset ${r.baseOffset + i} with timestamp ${timestamp}.`)
      })
    }
    printLines(landed)
  }
}
