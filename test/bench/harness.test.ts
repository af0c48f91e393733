/**
 * `partita bench` run as a user would (the compiled CLI as a child process): tiny workloads end to
 * end against a Partita it starts itself, against a broker given with -b, and beside Redis
 * Streams and NATS JetStream (.ci/run installs redis-server and nats-server); the JSON and HTML
 * it writes hold the fields they promise.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBroker, type Broker } from '../../src/start-broker.js'

const CLI = path.resolve('dist/src/cli/main.js')
const PRODUCER_FINAL = /^\d+ records sent, \d+\.\d{6} records\/sec \(\d+\.\d{2} MB\/sec\), \d+\.\d{2} ms avg latency, \d+\.\d{2} ms max latency, \d+ ms 50th, \d+ ms 95th, \d+ ms 99th, \d+ ms 99\.9th\.$/
const PRODUCER_WINDOW = /^\d+ records sent, \d+\.\d records\/sec \(\d+\.\d{2} MB\/sec\), \d+\.\d ms avg latency, \d+\.\d ms max latency\.$/

let dir: string

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'partita-bench-test-'))
})

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

function bench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'bench', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

const tiny = ['--records', '2000', '--record-size', '64', '--partitions', '2', '--partita-brokers', '1']

describe('partita bench', () => {
  it("prints kafka-producer-perf-test's periodic and final lines for a produce run against its own Partita", async () => {
    const run = await bench(['produce', ...tiny, '--reporting-interval', '10', '--throughput', '20000'])
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const lines = run.stdout.trimEnd().split('\n')
    expect(lines.at(-1)).toMatch(PRODUCER_FINAL)
    expect(lines.at(-1)).toMatch(/^2000 records sent/)
    // A paced run of about 100 ms with a 10 ms reporting interval prints periodic lines first.
    expect(lines.length).toBeGreaterThan(1)
    for (const line of lines.slice(0, -1)) expect(line).toMatch(PRODUCER_WINDOW)
  })

  it("prints kafka-consumer-perf-test's header and result line for a consume run against a broker given with -b", async () => {
    await using broker: Broker = await startBroker({ brokers: 1, port: 0 })
    const run = await bench(['consume', ...tiny, '-b', broker.bootstrapServers])
    expect(run.code).toBe(0)
    const lines = run.stdout.trimEnd().split('\n')
    expect(lines).toEqual([
      'start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec',
      expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}, 0\.1221, [\d.]+, 2000, [\d.]+, 0, \d+, [\d.]+, [\d.]+$/),
    ])
    // The harness deletes the topic it made.
    const topics = await broker.admin.listTopics()
    expect(topics.filter((t) => t.startsWith('partita-bench-'))).toEqual([])
  })

  it('runs an end-to-end workload beside Redis Streams and NATS JetStream and writes OpenMessaging Benchmark JSON and an HTML report', async () => {
    const json = path.join(dir, 'e2e.json')
    const report = path.join(dir, 'e2e.html')
    const run = await bench(['e2e', ...tiny, '--throughput', '10000', '--reporting-interval', '100000', '--peer', 'redis', '--peer', 'nats', '--json', json, '--report', report])
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const lines = run.stdout.trimEnd().split('\n')
    // For each system: the producer's final line, then Kafka's EndToEndLatency lines.
    expect(lines.filter((l) => PRODUCER_FINAL.test(l))).toHaveLength(3)
    expect(lines.filter((l) => /^Avg latency: \d+\.\d{4} ms$/.test(l))).toHaveLength(3)
    expect(lines.filter((l) => /^Percentiles: 50th = \d+, 99th = \d+, 99\.9th = \d+$/.test(l))).toHaveLength(3)
    expect(lines).toContain('# redis: the same workload')
    expect(lines).toContain('# nats: the same workload')
    const tableAt = lines.indexOf('# Partita beside its peers (Nx: how many times better Partita did)')
    const table = lines.slice(tableAt + 1, tableAt + 5)
    expect(table[0].split(/\s+/)).toEqual(['SYSTEM', 'PUBLISH-REC/S', 'CONSUME-REC/S', 'PUBLISH-P99-MS', 'E2E-P99-MS', 'CLIENT-CPU-US/REC', 'SERVER-CPU-US/REC', 'LOAD-AVG'])
    expect(table.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['partita', 'redis', 'nats'])
    // How each system was driven, stated beside its figures.
    expect(lines.slice(tableAt + 5, tableAt + 8)).toEqual(['partita', 'redis', 'nats'].map((system) => expect.stringMatching(new RegExp(`^# ${system} driven: \\S`))))
    expect(table[2]).toMatch(/\(\d+\.\d\dx\)/)
    // Each system's durability under the table, and that the defaults are not like for like.
    expect(lines.slice(tableAt + 8)).toEqual([
      '# durability (--durability as-configured):',
      expect.stringMatching(/^# {3}partita: partita\.fsync\.mode=acks-all: /),
      '#   redis: AOF, appendfsync everysec (RDB snapshots off)',
      '#   nats: JetStream file store, page cache, fsync every 2 min (default sync_interval)',
      expect.stringMatching(/^# not like for like: Partita fsyncs before consumers see a record, the peers do not/),
    ])

    const result = JSON.parse(fs.readFileSync(json, 'utf8')) as Record<string, unknown> & { peers: Array<Record<string, unknown>>; ratios: Record<string, Record<string, number>> }
    for (const r of [result, ...result.peers]) {
      expect(r).toMatchObject({ messageSize: 64, partitions: 2, producersPerTopic: 1, consumersPerTopic: 1, acks: -1, mode: 'e2e', published: 2000, consumed: 2000, nodeVersion: process.version })
      for (const series of ['publishRate', 'consumeRate', 'backlog', 'publishLatency99pct', 'endToEndLatency99pct']) expect(Array.isArray(r[series])).toBe(true)
      for (const figure of ['aggregatedPublishLatency50pct', 'aggregatedPublishLatency99pct', 'aggregatedPublishLatencyMax', 'aggregatedEndToEndLatency50pct', 'aggregatedEndToEndLatency99pct', 'aggregatedEndToEndLatencyMax', 'aggregatedPublishRate']) {
        expect(r[figure]).toBeGreaterThan(0)
      }
      expect(r.aggregatedEndToEndLatencyQuantiles).toHaveProperty('99.000')
      expect(typeof r.flushMode).toBe('string')
      expect(String(r.driven)).toMatch(/connection/)
      // CPU over the measured phase from /proc: the clients' process and the server's, per record.
      expect(r.clientCpuUsPerRecord).toBeGreaterThanOrEqual(0)
      expect(r.serverCpuUsPerRecord).toBeGreaterThanOrEqual(0)
      expect(r.loadAverage1m).toBeGreaterThanOrEqual(0)
      expect(r.machine).toMatchObject({ cpus: os.cpus().length })
    }
    expect(result.peers.map((p) => p.system)).toEqual(['redis', 'nats'])
    expect(result.system).toBe('partita')
    // Partita's server CPU is split by its thread map: one shard for --partita-brokers 1.
    expect(result.serverCpuUsPerRecordByThread).toMatchObject({ shards: [expect.any(Number)] })
    expect(Object.keys(result.ratios)).toEqual(['redis', 'nats'])
    expect(result.ratios.redis.publishRate).toBeGreaterThan(0)

    const html = fs.readFileSync(report, 'utf8')
    expect(html).toMatch(/^<!doctype html>/)
    // Self-contained: no script and nothing fetched from elsewhere.
    expect(html).not.toMatch(/<script|\ssrc=|<link/i)
    expect(html.match(/<svg /g)).toHaveLength(2)
    for (const system of ['partita', 'redis', 'nats']) {
      expect(html).toContain(`<title>${system}</title>`)
      expect(html).toContain(`<title>${system} end to end</title>`)
    }
    expect(html).toContain(`Node ${process.version}`)
    expect(html).toContain('<h2>How each system was driven, and its CPU</h2>')
    expect(html).toContain('appendfsync everysec')
  })

  it('runs every system alike with --durability fsync or page-cache, and prints what each one ran', async () => {
    const fsync = await bench(['e2e', ...tiny, '--throughput', '10000', '--reporting-interval', '100000', '--peer', 'redis', '--peer', 'nats', '--durability', 'fsync'])
    expect(fsync.stderr).toBe('')
    expect(fsync.code).toBe(0)
    const fsyncLines = fsync.stdout.trimEnd().split('\n')
    expect(fsyncLines.slice(fsyncLines.indexOf('# durability (--durability fsync):') + 1)).toEqual([
      expect.stringMatching(/^# {3}partita: partita\.fsync\.mode=acks-all: /),
      '#   redis: AOF, appendfsync always: fsynced before each answer (RDB snapshots off)',
      expect.stringMatching(/^# {3}nats: .*; NOT matched: nats-server before 2\.10 cannot fsync each write$/),
    ])
    const pageCache = await bench(['e2e', ...tiny, '--throughput', '10000', '--reporting-interval', '100000', '--peer', 'redis', '--durability', 'page-cache'])
    expect(pageCache.code).toBe(0)
    const pageCacheLines = pageCache.stdout.trimEnd().split('\n')
    expect(pageCacheLines.slice(pageCacheLines.indexOf('# durability (--durability page-cache):') + 1)).toEqual([
      expect.stringMatching(/^# {3}partita: partita\.fsync\.mode=off: /),
      '#   redis: AOF, appendfsync everysec (RDB snapshots off)',
    ])
  })

  it('runs the same workload, with the same Kafka client, against the Kafka ceiling and reports its process as the server', async () => {
    const json = path.join(dir, 'ceiling.json')
    const run = await bench(['e2e', ...tiny, '--throughput', '10000', '--reporting-interval', '100000', '--peer', 'kafka-ceiling', '--durability', 'page-cache', '--json', json])
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const lines = run.stdout.trimEnd().split('\n')
    expect(lines).toContain('# kafka-ceiling: the same workload')
    const tableAt = lines.indexOf('# Partita beside its peers (Nx: how many times better Partita did)')
    expect(lines.slice(tableAt + 2, tableAt + 4).map((l) => l.split(/\s+/)[0])).toEqual(['partita', 'kafka-ceiling'])
    expect(lines).toContain('#   kafka-ceiling: each produce appended to one file with writeSync and answered at once; never fsynced, nothing checked, indexed or replicated')
    const result = JSON.parse(fs.readFileSync(json, 'utf8')) as Record<string, unknown> & { peers: Array<Record<string, unknown>> }
    const [ceiling] = result.peers
    // Driven by the Kafka driver, as Partita is: the same client, requests and commits.
    expect(ceiling).toMatchObject({ system: 'kafka-ceiling', driven: result.driven, mode: 'e2e', published: 2000, consumed: 2000 })
    expect(ceiling.aggregatedEndToEndLatency99pct).toBeGreaterThan(0)
    // Its process's CPU is measured as a server's.
    expect(ceiling.serverCpuUsPerRecord).toBeGreaterThan(0)
  })

  it('refuses an unknown durability with one line and a non-zero exit', async () => {
    const run = await bench(['e2e', '--durability', 'sometimes'])
    expect(run.code).not.toBe(0)
    expect(run.stderr).toBe("partita: --durability must be as-configured, page-cache, fsync, got 'sometimes'\n")
  })

  it('refuses an unknown peer with one line and a non-zero exit', async () => {
    const run = await bench(['produce', '--peer', 'kafka'])
    expect(run.code).not.toBe(0)
    expect(run.stderr).toBe("partita: --peer must be redis, nats or kafka-ceiling, got 'kafka'\n")
  })
})
