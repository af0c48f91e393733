/**
 * `partita produce`: kafka-console-producer. Reads stdin line by line, one record per line (the
 * key before --key-separator when given), partitions keyed records with Kafka's murmur2 and
 * unkeyed ones with the sticky partitioner, and sends one v2 batch per partition when it fills,
 * after a short linger, or at the end of input. Requests are pipelined up to a bound; the first
 * error stops the command with its Kafka error name.
 */
import readline from 'node:readline'
import type { Command } from 'commander'
import { defaultPartition, StickyPartitioner } from '../client/partitioner.js'
import type { KafkaClient, ProduceResult } from '../client/wire/kafka-client.js'
import { compress } from '../records/compression.js'
import { CompressionType, encodeBatch, type RecordInput } from '../records/record-batch.js'
import { addBootstrapOption, check, CliError, parseInteger, withClient, type ClientCommandOptions } from './common.js'

interface ProduceOptions extends ClientCommandOptions {
  topic: string
  keySeparator?: string
  acks: string
  compression: string
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

export function registerProduce(program: Command): void {
  addBootstrapOption(program.command('produce').description('send lines from stdin as records, one per line'))
    .requiredOption('--topic <name>', 'the topic to produce to')
    .option('--key-separator <sep>', 'split each line into key and value at the first <sep>')
    .option('--acks <acks>', 'all (-1), 1 or 0', 'all')
    .option('--compression <codec>', 'none, gzip, snappy, lz4 or zstd', 'none')
    .option('--batch-bytes <n>', 'send a partition’s batch once it holds this many bytes', '65536')
    .option('--linger-ms <ms>', 'send a partial batch after this long', '100')
    .action(async (options: ProduceOptions) => {
      const acks = parseAcks(options.acks)
      const compression = parseCompression(options.compression)
      const batchBytes = parseInteger('batch-bytes', options.batchBytes, 1, 64 * 1024 * 1024)
      const lingerMs = parseInteger('linger-ms', options.lingerMs, 0, 3_600_000)
      if (options.keySeparator === '') throw new CliError('--key-separator must not be empty')
      await withClient(options, async (client) => {
        const topic = await client.topic(options.topic, { allowAutoTopicCreation: true })
        const producer = new LineProducer(client, options.topic, topic.partitions.length, { acks, compression, batchBytes, lingerMs })
        const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
        let lineNumber = 0
        for await (const line of lines) {
          lineNumber++
          const record = splitLine(line, options.keySeparator, lineNumber)
          await producer.add(record.key, record.value)
        }
        await producer.finish()
      })
    })
}

function splitLine(line: string, separator: string | undefined, lineNumber: number): { key: Buffer | null; value: Buffer } {
  if (separator === undefined) return { key: null, value: Buffer.from(line, 'utf8') }
  const at = line.indexOf(separator)
  if (at < 0) throw new CliError(`no key separator '${separator}' on line ${lineNumber}`)
  return { key: Buffer.from(line.slice(0, at), 'utf8'), value: Buffer.from(line.slice(at + separator.length), 'utf8') }
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

  async add(key: Buffer | null, value: Buffer): Promise<void> {
    this.#throwIfFailed()
    const partition = key === null ? this.#sticky.partition(this.topic, this.partitionCount) : defaultPartition(key, this.partitionCount)
    const now = Date.now()
    let acc = this.#accumulators.get(partition)
    if (acc === undefined) {
      acc = { records: [], bytes: 0, baseTimestamp: now }
      this.#accumulators.set(partition, acc)
    }
    acc.records.push({ key, value, timestampDelta: now - acc.baseTimestamp })
    acc.bytes += (key?.length ?? 0) + value.length + RECORD_OVERHEAD_BYTES
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
    for (const partition of partitions) {
      const acc = this.#accumulators.get(partition)
      if (acc === undefined || acc.records.length === 0) continue
      this.#accumulators.delete(partition)
      const records = encodeBatch({ records: acc.records, baseTimestamp: acc.baseTimestamp, compression: this.options.compression, compress })
      inputs.push({ topic: this.topic, partition, records })
      if (partition === this.#sticky.partition(this.topic, this.partitionCount)) this.#sticky.onNewBatch(this.topic, this.partitionCount)
    }
    if (inputs.length === 0) return
    // Bounded pipelining: wait for the oldest request before starting one past the bound.
    while (this.#outstanding.length >= REQUESTS_OUTSTANDING_MAX) await this.#outstanding.shift()
    const request = this.client.produce(inputs, { acks: this.options.acks }).then(
      (results) => this.#check(results),
      (error: unknown) => {
        this.#failure ??= error
      },
    )
    this.#outstanding.push(request)
    this.#throwIfFailed()
  }

  #check(results: ProduceResult[]): void {
    for (const r of results) {
      try {
        check(r.errorCode, `produce to ${r.topic}-${r.partition}`, r.errorMessage)
      } catch (error) {
        this.#failure ??= error
      }
    }
  }
}
