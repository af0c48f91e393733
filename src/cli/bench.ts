/**
 * `partita bench`: a quick produce-then-consume throughput run against a running broker. The
 * batches are encoded once before the clock starts and fetched batches are only counted (headers
 * read, records not decoded), so the figures measure the broker and the wire, not this client.
 */
import { randomBytes } from 'node:crypto'
import type { Command } from 'commander'
import { ErrorCode } from '../common/error-codes.js'
import type { KafkaClient } from '../client/wire/kafka-client.js'
import { OffsetSpec } from '../client/wire/kafka-client.js'
import { encodeBatch, iterateBatches, readBatchHeader, isControlBatch } from '../records/record-batch.js'
import { addBootstrapOption, check, parseInteger, printLines, withClient, type ClientCommandOptions } from './common.js'
import { parseAcks } from './produce.js'

interface BenchOptions extends ClientCommandOptions {
  topic?: string
  records: string
  recordSize: string
  acks: string
  partitions: string
  batchBytes: string
  inFlight: string
}

interface BenchSettings {
  topic: string
  records: number
  recordSize: number
  acks: -1 | 0 | 1
  partitions: number
  recordsPerBatch: number
  inFlight: number
}

const BYTES_PER_MB = 1024 * 1024
const FETCH_EMPTY_ROUNDS_MAX = 40
const APPEND_POLLS_MAX = 2_000

export function registerBench(program: Command): void {
  addBootstrapOption(program.command('bench').description('measure produce and consume throughput against a broker'))
    .option('--topic <name>', 'topic to use (default: a fresh one, deleted afterwards)')
    .option('--records <n>', 'records to produce and consume', '100000')
    .option('--record-size <bytes>', 'value size of each record', '100')
    .option('--acks <acks>', 'all (-1), 1 or 0', '1')
    .option('--partitions <n>', 'partitions of the fresh topic', '4')
    .option('--batch-bytes <n>', 'bytes of values per produced batch', '65536')
    .option('--in-flight <n>', 'produce requests outstanding at once', '16')
    .action(async (options: BenchOptions) => {
      const recordSize = parseInteger('record-size', options.recordSize, 0, 16 * 1024 * 1024)
      const settings: BenchSettings = {
        topic: options.topic ?? `partita-bench-${Date.now()}`,
        records: parseInteger('records', options.records, 1),
        recordSize,
        acks: parseAcks(options.acks),
        partitions: parseInteger('partitions', options.partitions, 1, 10_000),
        recordsPerBatch: Math.max(1, Math.floor(parseInteger('batch-bytes', options.batchBytes, 1) / Math.max(1, recordSize))),
        inFlight: parseInteger('in-flight', options.inFlight, 1, 1024),
      }
      await withClient(options, async (client) => {
        const created = options.topic === undefined
        if (created) {
          const response = await client.createTopics([{ name: settings.topic, numPartitions: settings.partitions, replicationFactor: -1 }])
          const result = response.topics[0]
          if (result !== undefined) check(result.errorCode, `create topic '${settings.topic}'`, result.errorMessage)
        }
        try {
          const info = await client.topic(settings.topic, { allowAutoTopicCreation: true })
          const partitions = info.partitions.map((p) => p.partition)
          const starts = await client.listOffsets(partitions.map((partition) => ({ topic: settings.topic, partition, timestamp: OffsetSpec.LATEST })))
          for (const s of starts) check(s.errorCode, `list offsets of ${s.topic}-${s.partition}`)
          const startOffsets = new Map(starts.map((s) => [s.partition, s.offset]))
          const produced = await produceRun(client, settings, partitions, startOffsets)
          printLines([report('produce', settings, produced)])
          const consumed = await consumeRun(client, settings, startOffsets)
          printLines([report('consume', settings, consumed)])
        } finally {
          if (created) await client.deleteTopics([settings.topic]).catch(() => undefined)
        }
      })
    })
}

function report(phase: string, settings: BenchSettings, run: { records: number; ms: number }): string {
  const seconds = Math.max(run.ms, 1) / 1000
  const recordsPerSec = Math.round(run.records / seconds)
  const mbPerSec = (run.records * settings.recordSize) / BYTES_PER_MB / seconds
  return `${phase}: ${run.records} records in ${run.ms.toFixed(0)} ms, ${recordsPerSec} records/s, ${mbPerSec.toFixed(2)} MB/s (record size ${settings.recordSize} B, acks ${settings.acks}, ${settings.partitions} partitions)`
}

function encodeBenchBatch(count: number, recordSize: number): Buffer {
  const value = randomBytes(recordSize)
  const records = Array.from({ length: count }, () => ({ key: null, value }))
  return encodeBatch({ records, baseTimestamp: Date.now() })
}

async function produceRun(
  client: KafkaClient,
  settings: BenchSettings,
  partitions: number[],
  startOffsets: Map<number, number>,
): Promise<{ records: number; ms: number }> {
  const full = encodeBenchBatch(settings.recordsPerBatch, settings.recordSize)
  const lastCount = settings.records % settings.recordsPerBatch
  const last = lastCount === 0 ? null : encodeBenchBatch(lastCount, settings.recordSize)
  const batches = Math.ceil(settings.records / settings.recordsPerBatch)
  let next = 0
  const started = performance.now()
  // `inFlight` workers each send one batch at a time: that many requests are outstanding.
  const worker = async (): Promise<void> => {
    while (next < batches) {
      const index = next++
      const records = index === batches - 1 && last !== null ? last : full
      const [result] = await client.produce([{ topic: settings.topic, partition: partitions[index % partitions.length], records }], { acks: settings.acks })
      check(result.errorCode, `produce to ${result.topic}-${result.partition}`, result.errorMessage)
    }
  }
  await Promise.all(Array.from({ length: Math.min(settings.inFlight, batches) }, worker))
  // With acks=0 nothing confirms the writes: the clock stops once the logs hold every record.
  if (settings.acks === 0) await untilAppended(client, settings, partitions, startOffsets)
  return { records: settings.records, ms: performance.now() - started }
}

async function untilAppended(client: KafkaClient, settings: BenchSettings, partitions: number[], startOffsets: Map<number, number>): Promise<void> {
  // Bounded by the polls; a broker that dropped records ends the wait with what it has.
  for (let poll = 0; poll < APPEND_POLLS_MAX; poll++) {
    const ends = await client.listOffsets(partitions.map((partition) => ({ topic: settings.topic, partition, timestamp: OffsetSpec.LATEST })))
    const appended = ends.reduce((sum, e) => sum + Math.max(0, e.offset - (startOffsets.get(e.partition) ?? 0)), 0)
    if (appended >= settings.records) return
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

async function consumeRun(client: KafkaClient, settings: BenchSettings, positions: Map<number, number>): Promise<{ records: number; ms: number }> {
  let counted = 0
  let emptyRounds = 0
  const started = performance.now()
  // Bounded: each round either counts records or adds to the empty rounds, which end the run.
  while (counted < settings.records && emptyRounds < FETCH_EMPTY_ROUNDS_MAX) {
    const inputs = [...positions].map(([partition, fetchOffset]) => ({ topic: settings.topic, partition, fetchOffset, partitionMaxBytes: 8 * BYTES_PER_MB }))
    const results = await client.fetch(inputs, { maxWaitMs: 100 })
    let round = 0
    for (const r of results) {
      if (r.errorCode !== ErrorCode.NONE) check(r.errorCode, `fetch from ${r.topic}-${r.partition}`)
      if (r.records === null) continue
      let position = positions.get(r.partition)!
      for (const span of iterateBatches(r.records)) {
        const header = readBatchHeader(r.records, span.pos)
        const lastOffset = header.baseOffset + header.lastOffsetDelta
        if (lastOffset < position) continue
        if (!isControlBatch(header.attributes)) round += header.recordCount
        position = lastOffset + 1
      }
      positions.set(r.partition, position)
    }
    counted += round
    emptyRounds = round === 0 ? emptyRounds + 1 : 0
  }
  return { records: counted, ms: performance.now() - started }
}
