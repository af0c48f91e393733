/**
 * Thousands of partitions on one broker process, under `ulimit -n 1024` (the handle cache keeps
 * the descriptors bounded): a 5,000-partition topic and then a 20,000-partition one are created
 * and served (or refused cleanly), the topics the broker had keep serving, and after `kill -9`
 * the broker comes back up with all 25,000 on disk and serves them again. Needs `bash` for the
 * ulimit, and the compiled CLI in dist/ (`npm run build`).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/common/error-codes.js'
import { KafkaClient } from '../../src/client/wire/kafka-client.js'
import { encodeBatch } from '../../src/records/record-batch.js'

const CLI = path.resolve('dist/src/cli/main.js')
const OPEN_FILES_LIMIT = 1024
const children: ChildProcess[] = []
let dataDir: string | null = null

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }
  if (dataDir !== null) fs.rmSync(dataDir, { recursive: true, force: true })
  dataDir = null
  // Removing 25,000 partition directories takes a while on a busy disk.
}, 300_000)

/** Starts `partita start` under the open-files limit and resolves with its port once it listens. */
function startBroker(dir: string): Promise<{ child: ChildProcess; port: number }> {
  const command = `ulimit -n ${OPEN_FILES_LIMIT} && exec node ${JSON.stringify(CLI)} start --port 0 --admin-port off --brokers 1 --no-auto-create-topics --data-dir ${JSON.stringify(dir)}`
  const child = spawn('bash', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  return new Promise((resolve, reject) => {
    let output = ''
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      const match = /listening on 127\.0\.0\.1:(\d+) \(data/.exec(output)
      if (match !== null) resolve({ child, port: Number(match[1]) })
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    child.once('exit', (code) => reject(new Error(`partita start exited with ${code}: ${output}`)))
  })
}

function oneRecordEach(topic: string, partitions: number, value: string) {
  return Array.from({ length: partitions }, (_, partition) => ({
    topic,
    partition,
    records: encodeBatch({ baseTimestamp: Date.now(), records: [{ key: null, value: Buffer.from(`${value}-${partition}`) }] }),
  }))
}

/** Produces one record to every partition and reads every partition back from offset 0. */
async function produceAndReadBack(client: KafkaClient, topic: string, partitions: number, value: string, expectedPerPartition: number): Promise<void> {
  // acks=all: answered once on disk, so the high watermarks read next include the records.
  const produced = await client.produce(oneRecordEach(topic, partitions, value), { acks: -1 })
  expect(produced.filter((r) => r.errorCode !== ErrorCode.NONE)).toEqual([])
  const fetched = await client.fetch(
    Array.from({ length: partitions }, (_, partition) => ({ topic, partition, fetchOffset: 0, partitionMaxBytes: 4096 })),
    { maxWaitMs: 0, maxBytes: 256 * 1024 * 1024 },
  )
  expect(fetched.filter((r) => r.errorCode !== ErrorCode.NONE)).toEqual([])
  expect(fetched.filter((r) => r.highWatermark !== expectedPerPartition).map((r) => r.partition)).toEqual([])
}

describe('a broker with tens of thousands of partitions under ulimit -n 1024', () => {
  it('creates and serves 5,000 and then 20,000 partitions, keeps serving its other topics, and comes back after kill -9', async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'partita-many-'))
    const first = await startBroker(dataDir)
    const client = await KafkaClient.connect({ bootstrapServers: `127.0.0.1:${first.port}`, requestTimeoutMs: 600_000 })
    try {
      await client.createTopics([{ name: 'small', numPartitions: 4, replicationFactor: 1 }], { timeoutMs: 60_000 })
      await produceAndReadBack(client, 'small', 4, 'a', 1)

      const [five] = (await client.createTopics([{ name: 'five', numPartitions: 5_000, replicationFactor: 1 }], { timeoutMs: 600_000 })).topics
      expect(five.errorCode).toBe(ErrorCode.NONE)
      await client.topic('five')
      await produceAndReadBack(client, 'five', 5_000, 'a', 1)

      const [twenty] = (await client.createTopics([{ name: 'twenty', numPartitions: 20_000, replicationFactor: 1 }], { timeoutMs: 600_000 })).topics
      // Served, or refused as a whole with the limit's own error; never a broken broker.
      expect([ErrorCode.NONE, ErrorCode.POLICY_VIOLATION]).toContain(twenty.errorCode)
      if (twenty.errorCode === ErrorCode.NONE) {
        await client.topic('twenty')
        await produceAndReadBack(client, 'twenty', 20_000, 'a', 1)
      }
      await produceAndReadBack(client, 'small', 4, 'b', 2)
    } finally {
      await client.close()
    }

    // An unclean stop with every partition on disk: the broker must start again under the limit.
    const exited = new Promise((resolve) => first.child.once('exit', resolve))
    first.child.kill('SIGKILL')
    await exited
    const second = await startBroker(dataDir)
    const again = await KafkaClient.connect({ bootstrapServers: `127.0.0.1:${second.port}`, requestTimeoutMs: 600_000 })
    try {
      await again.topic('five')
      await produceAndReadBack(again, 'small', 4, 'c', 3)
      await produceAndReadBack(again, 'five', 5_000, 'b', 2)
      const metadata = await again.metadata(['twenty'])
      if (metadata.topics[0]?.errorCode === ErrorCode.NONE) await produceAndReadBack(again, 'twenty', 20_000, 'b', 2)
    } finally {
      await again.close()
    }
  }, 900_000)
})
