/**
 * Debian's sarama 1.22 (golang-github-shopify-sarama-dev) against Partita with sarama's default
 * config, which speaks Kafka 0.8.2's protocol versions: Produce v0 with message format v0, Fetch
 * v0, ListOffsets v0, Metadata v0, OffsetCommit v1 and OffsetFetch v1. The consumer group runs at
 * 0.10.2 (Produce v2 and Fetch v3 with message format v1), the lowest sarama allows for groups;
 * the cluster admin at 1.0, as sarama refuses admin calls below 0.10.
 *
 * The Go program (go/sarama_client.go) is built in GOPATH mode into a temp dir. Without `go` on
 * the PATH the suite is skipped, saying so.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTopicOn, runOk, startTestBroker, storedBatches, tempDataDir, type Broker } from './harness.js'

const GO_SOURCE = fileURLToPath(new URL('./go/sarama_client.go', import.meta.url))
const SARAMA_DIR = '/usr/share/gocode/src/github.com/Shopify/sarama'
const goFound = spawnSync('go', ['version']).status === 0 && spawnSync('test', ['-d', SARAMA_DIR]).status === 0
if (!goFound) console.warn(`sarama suite skipped: needs \`go\` on the PATH and Debian's sarama in ${SARAMA_DIR}`)

let data: ReturnType<typeof tempDataDir>
let broker: Broker
let buildDir: string
let binary: string

async function sarama<T>(args: string[], timeoutMs = 60_000): Promise<T> {
  const stdout = await runOk(binary, [args[0], broker.bootstrapServers, ...args.slice(1)], { timeoutMs })
  const lines = stdout.trim().split('\n')
  return JSON.parse(lines[lines.length - 1]) as T
}

describe.skipIf(!goFound)('sarama 1.22 with its default config', () => {
  beforeAll(async () => {
    buildDir = mkdtempSync(join(tmpdir(), 'partita-sarama-'))
    binary = join(buildDir, 'sarama_client')
    const env = { ...process.env, GOPATH: '/usr/share/gocode', GO111MODULE: 'off', GOCACHE: join(buildDir, 'cache') }
    const built = spawnSync('go', ['build', '-o', binary, GO_SOURCE], { env, encoding: 'utf8', timeout: 240_000 })
    if (built.status !== 0) throw new Error(`go build failed: ${built.stderr}`)
    data = tempDataDir()
    broker = await startTestBroker(data.dir)
  }, 300_000)

  afterAll(async () => {
    await broker?.close()
    data?.remove()
    if (buildDir !== undefined) rmSync(buildDir, { recursive: true, force: true })
  })

  it('produces with Produce v0, reads back with Fetch v0 and finds the offsets with ListOffsets v0', async () => {
    await createTopicOn(broker, 'sarama-plain')
    const produced = await sarama<{ offsets: number[] }>(['produce', 'sarama-plain', '50'])
    expect(produced.offsets).toEqual(Array.from({ length: 50 }, (_, i) => i))
    // Stored as v2 batches, each message set up-converted.
    const batches = await storedBatches(broker, 'sarama-plain', 0)
    expect(batches.every((b) => b.magic === 2)).toBe(true)
    const consumed = await sarama<{ records: Array<{ offset: number; key: string; value: string }> }>(['consume', 'sarama-plain', '0', '50'])
    expect(consumed.records).toEqual(Array.from({ length: 50 }, (_, i) => ({ offset: i, key: `k${i}`, value: `v${i}` })))
    const offsets = await sarama<{ oldest: number; newest: number }>(['offsets', 'sarama-plain'])
    expect(offsets).toEqual({ oldest: 0, newest: 50 })
  })

  it('loses no acks=0 record when the producer closes right after sending', async () => {
    await createTopicOn(broker, 'sarama-acks0')
    const count = 100_000
    await sarama(['produce-acks0', 'sarama-acks0', String(count)], 120_000)
    const deadline = Date.now() + 30_000
    let latest = -1
    // Bounded by the deadline; each round asks the partition once.
    while (latest < count && Date.now() < deadline) {
      const [offsets] = await broker.cluster.listOffsets([{ topic: 'sarama-acks0', partition: 0, timestamp: -1 }])
      latest = offsets.offset
      if (latest < count) await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(latest).toBe(count)
  })

  it('runs a consumer group that commits with OffsetCommit v1, so the next session resumes after it', async () => {
    await createTopicOn(broker, 'sarama-group')
    await sarama(['produce', 'sarama-group', '10'])
    const read = await sarama<{ values: string[] }>(['group', 'sarama-group', 'sarama-readers', '10'])
    expect(read.values).toEqual(Array.from({ length: 10 }, (_, i) => `v${i}`))
    const committed = await broker.cluster.groups.fetchOffsets({ groupId: 'sarama-readers', topics: [{ topic: 'sarama-group', partitions: [0] }] })
    expect(committed.topics[0].partitions[0].offset).toBe(10)
    await sarama(['produce', 'sarama-group', '5', '10'])
    const resumed = await sarama<{ values: string[] }>(['group', 'sarama-group', 'sarama-readers', '5'])
    expect(resumed.values).toEqual(['v10', 'v11', 'v12', 'v13', 'v14'])
  })

  it('drives the cluster admin: create with a config, list, describe, alter, grow, describe the cluster, delete', async () => {
    const result = await sarama<{ listed: number; retentionMs: string; partitions: number; brokers: number; controller: number }>(['admin', 'sarama-admin'])
    expect(result).toMatchObject({ listed: 2, retentionMs: '3600000', partitions: 3 })
    expect(result.brokers).toBeGreaterThanOrEqual(1)
    const metadata = await broker.cluster.metadata(null, false)
    expect(metadata.topics.map((t) => t.name)).not.toContain('sarama-admin')
  })
})
