/**
 * The compiled `partita` CLI (dist/, built by `npm run build`) as a user runs it: child processes
 * against an in-process broker. The children are spawned asynchronously: the broker answers them
 * from this same event loop.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBroker, type Broker } from '../../src/start-broker.js'
import { SILENT_LOGGER } from '../../src/common/logger.js'
import { defaultPartition } from '../../src/client/partitioner.js'

const CLI = path.resolve('dist/src/cli/main.js')

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  // PARTITA_BROKERS from the test's own environment must not leak into the children.
  const base = { ...process.env }
  delete base.PARTITA_BROKERS
  return spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...base, ...env } })
}

function partita(args: string[], stdin = '', env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, env)
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    child.stdin!.end(stdin)
  })
}

/** Rows of an aligned table, split on its column gaps. */
function rows(text: string): string[][] {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => l.split(/\s{2,}/))
}

/** The `KEY  value` summary lines before a table, as a map. */
function summary(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split('\n\n')[0].split('\n')) {
    const [key, ...rest] = line.split(/\s{2,}/)
    out[key] = rest.join('  ')
  }
  return out
}

/** The table after the summary block. */
function tableAfterSummary(text: string): string[][] {
  return rows(text.split('\n\n')[1])
}

let dataDir: string
let broker: Broker
let b: string[]

beforeAll(async () => {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`)
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'partita-'))
  broker = await startBroker({ port: 0, dataDir, brokers: 1, groupInitialRebalanceDelayMs: 0, logger: SILENT_LOGGER })
  b = ['-b', broker.bootstrapServers]
  // A topic the read-only and error cases use.
  await broker.admin.createTopics({ topics: [{ topic: 'visible', numPartitions: 2, replicationFactor: 1 }] })
})

afterAll(async () => {
  await broker?.close()
  fs.rmSync(dataDir, { recursive: true, force: true })
})

describe('partita topic', () => {
  it('creates, lists, describes, alters, grows and deletes a topic', async () => {
    const created = await partita(['topic', 'create', 'cli.t', '-p', '3', '-r', '1', '-c', 'retention.ms=86400000', ...b])
    expect(created).toMatchObject({ code: 0, stdout: 'Created topic cli.t.\n' })

    const listed = await partita(['topic', 'list', ...b])
    expect(listed.code).toBe(0)
    expect(rows(listed.stdout)[0]).toEqual(['NAME', 'PARTITIONS', 'REPLICAS'])
    expect(rows(listed.stdout)).toContainEqual(['cli.t', '3', '1'])
    const json = await partita(['topics', 'list', '--format', 'json', ...b])
    expect(json.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown)).toContainEqual({ name: 'cli.t', partitions: 3, replicas: 1, internal: false })

    const altered = await partita(['topic', 'alter-config', 'cli.t', '--set', 'cleanup.policy=compact', ...b])
    expect(altered).toMatchObject({ code: 0, stdout: 'Altered config of topic cli.t.\n' })
    expect((await partita(['produce', 'cli.t', '-k', 'k', ...b], 'one\ntwo\n')).code).toBe(0)

    const described = await partita(['topic', 'describe', 'cli.t', ...b])
    expect(described.code).toBe(0)
    const [head, partitions, configs] = described.stdout.trimEnd().split('\n\n')
    expect(summary(head)).toMatchObject({ NAME: 'cli.t', PARTITIONS: '3', REPLICAS: '1' })
    const partitionRows = rows(partitions)
    expect(partitionRows[0]).toEqual(['PARTITION', 'LEADER', 'EPOCH', 'REPLICAS', 'IN-SYNC-REPLICAS', 'LOG-START-OFFSET', 'HIGH-WATERMARK'])
    const keyed = defaultPartition('k', 3)
    expect(partitionRows.slice(1).map((r) => [r[0], r[1], r[3], r[4], r[5], r[6]])).toEqual(
      [0, 1, 2].map((p) => [String(p), '0', '[0]', '[0]', '0', p === keyed ? '2' : '0']),
    )
    const configRows = rows(configs)
    expect(configRows[0]).toEqual(['KEY', 'VALUE', 'SOURCE'])
    expect(configRows).toContainEqual(['cleanup.policy', 'compact', 'DYNAMIC_TOPIC_CONFIG'])
    expect(configRows).toContainEqual(['retention.ms', '86400000', 'DYNAMIC_TOPIC_CONFIG'])
    expect(configRows).toContainEqual(['segment.bytes', '1073741824', 'DEFAULT_CONFIG'])

    const grown = await partita(['topic', 'add-partitions', 'cli.t', '--num', '2', ...b])
    expect(grown).toMatchObject({ code: 0, stdout: 'Topic cli.t has 5 partitions.\n' })
    const describedJson = await partita(['topic', 'describe', 'cli.t', '--format', 'json', ...b])
    const topic = JSON.parse(describedJson.stdout) as { partitions: { partition: number; highWatermark: number }[]; configs: { key: string; source: string }[] }
    expect(topic.partitions.map((p) => p.partition)).toEqual([0, 1, 2, 3, 4])
    expect(topic.configs).toContainEqual({ key: 'cleanup.policy', value: 'compact', source: 'DYNAMIC_TOPIC_CONFIG' })

    const deleted = await partita(['topic', 'delete', 'cli.t', ...b])
    expect(deleted).toMatchObject({ code: 0, stdout: 'Deleted topic cli.t.\n' })
    const after = await partita(['topic', 'list', ...b])
    expect(rows(after.stdout).map((r) => r[0])).not.toContain('cli.t')
  })

  it('finds the brokers from PARTITA_BROKERS and from --bootstrap-server', async () => {
    const fromEnv = await partita(['topic', 'create', 'env.t'], '', { PARTITA_BROKERS: broker.bootstrapServers })
    expect(fromEnv).toMatchObject({ code: 0, stdout: 'Created topic env.t.\n' })
    const fromFlag = await partita(['topics', 'delete', '--topic', 'env.t', '--bootstrap-server', broker.bootstrapServers])
    expect(fromFlag).toMatchObject({ code: 0, stdout: 'Deleted topic env.t.\n' })
  })
})

describe('partita produce and consume', () => {
  it('round-trips keys and headers, landing keyed records on their murmur2 partitions', async () => {
    await partita(['topic', 'create', 'lines', '-p', '3', ...b])
    const keys = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot']
    const input = keys.map((k, i) => `${k}:value-${i}`).join('\n') + '\n'
    const produced = await partita(['produce', 'lines', '--key-separator', ':', '-H', 'origin=cli', '-H', 'n=1', '-z', 'lz4', '-v', ...b], input)
    expect(produced.code).toBe(0)
    expect(produced.stderr).toBe('')
    const landed = produced.stdout.trimEnd().split('\n')
    expect(landed).toHaveLength(6)
    for (const line of landed) expect(line).toMatch(/^Produced to partition [0-2] at offset \d+ with timestamp \d+\.$/)

    const formatted = await partita(['consume', 'lines', '-e', '-f', '%p|%o|%k|%v|%h\\n', ...b])
    expect(formatted.code).toBe(0)
    expect(formatted.stderr).toBe('Processed a total of 6 messages\n')
    const got = formatted.stdout.trimEnd().split('\n').map((l) => l.split('|'))
    expect(got.map(([, , k, v]) => `${k}:${v}`).sort()).toEqual(keys.map((k, i) => `${k}:value-${i}`).sort())
    for (const [partition, , key, , headers] of got) {
      expect(Number(partition)).toBe(defaultPartition(key, 3))
      expect(headers).toBe('origin=cli,n=1')
    }
    // Within a partition, offsets count up from 0 in the order the lines were read.
    for (const p of [0, 1, 2]) {
      const mine = got.filter(([partition]) => Number(partition) === p)
      expect(mine.map(([, offset]) => Number(offset))).toEqual(mine.map((_, i) => i))
      expect(mine.map(([, , k]) => k)).toEqual(keys.filter((k) => defaultPartition(k, 3) === p))
    }

    const json = await partita(['consume', 'lines', '-p', String(defaultPartition('alpha', 3)), '-n', '1', '--format', 'json', ...b])
    // The earlier flags still work: --topic, --partition with --offset earliest, --print-key, --max-messages.
    const earlier = await partita(['consume', '--topic', 'lines', '--partition', String(defaultPartition('alpha', 3)), '--offset', 'earliest', '--print-key', '--max-messages', '1', ...b])
    expect(earlier).toMatchObject({ code: 0, stdout: 'alpha\tvalue-0\n' })
    const record = JSON.parse(json.stdout) as Record<string, unknown>
    expect(record).toMatchObject({ topic: 'lines', partition: defaultPartition('alpha', 3), offset: 0, key: 'alpha', value: 'value-0', headers: { origin: 'cli', n: '1' } })
  })

  it('starts at -o end, -N, an offset and a timestamp, and sends empty lines as tombstones with --tombstone', async () => {
    await partita(['topic', 'create', 'offsets', '-p', '1', ...b])
    const before = Date.now()
    expect((await partita(['produce', 'offsets', '-k', 'k', '--tombstone', ...b], 'a\nb\n\nd\n')).code).toBe(0)
    const read = async (...args: string[]): Promise<string[]> => {
      const run = await partita(['consume', 'offsets', '-e', '-f', '%o=%v\\n', ...args, ...b])
      expect(run.code).toBe(0)
      return run.stdout.split('\n').filter((l) => l !== '')
    }
    expect(await read()).toEqual(['0=a', '1=b', '2=null', '3=d'])
    expect(await read('-o', 'end')).toEqual([])
    expect(await read('-o', '-2')).toEqual(['2=null', '3=d'])
    expect(await read('-o', '1')).toEqual(['1=b', '2=null', '3=d'])
    expect(await read('-o', `@${before}`)).toEqual(['0=a', '1=b', '2=null', '3=d'])
    expect(await read('-o', `@${Date.now() + 60_000}`)).toEqual([])
  })
})

describe('partita group', () => {
  it('describes a lag, with its age in seconds, that drops to 0 once a consumer catches up', async () => {
    await partita(['topic', 'create', 'lagging', '-p', '1', ...b])
    // Records written two minutes ago (their timestamps say so), so their age is known.
    const producer = broker.producer({ acks: -1 })
    const twoMinutesAgo = Date.now() - 120_000
    await producer.send({ topic: 'lagging', messages: Array.from({ length: 6 }, (_, i) => ({ value: `v${i}`, timestamp: twoMinutesAgo + i })) })
    await producer.disconnect()

    const first = await partita(['consume', 'lagging', '-g', 'readers', '-n', '2', ...b])
    expect(first).toMatchObject({ code: 0, stdout: 'v0\nv1\n' })
    const lagging = await partita(['group', 'describe', 'readers', ...b])
    expect(lagging.code).toBe(0)
    const head = summary(lagging.stdout)
    expect(head).toMatchObject({ GROUP: 'readers', STATE: 'Empty', MEMBERS: '0', 'TOTAL-LAG': '4' })
    expect(Number(head['LAG-SECONDS'])).toBeGreaterThanOrEqual(119)
    const table = tableAfterSummary(lagging.stdout)
    expect(table[0]).toEqual(['TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'LOG-START-OFFSET', 'LOG-END-OFFSET', 'LAG', 'MEMBER-ID', 'CLIENT-ID', 'HOST'])
    expect(table[1]).toEqual(['lagging', '0', '2', '0', '6', '4', '-', '-', '-'])

    const rest = await partita(['consume', 'lagging', '-g', 'readers', '-e', ...b])
    expect(rest).toMatchObject({ code: 0, stdout: 'v2\nv3\nv4\nv5\n' })
    const caughtUp = await partita(['groups', 'describe', '--group', 'readers', '--format', 'json', ...b])
    const described = JSON.parse(caughtUp.stdout) as { totalLag: number; lagSeconds: number; partitions: Record<string, unknown>[] }
    expect(described).toMatchObject({ totalLag: 0, lagSeconds: 0 })
    expect(described.partitions).toEqual([
      { topic: 'lagging', partition: 0, currentOffset: 6, logStartOffset: 0, logEndOffset: 6, lag: 0, lagSeconds: 0, memberId: null, clientId: null, host: null },
    ])
    const listed = await partita(['group', 'list', ...b])
    expect(rows(listed.stdout)).toContainEqual(['readers', 'consumer', 'Empty'])
  })

  it("shows a live member's partitions, refuses to seek a live group, and seeks a stopped one", async () => {
    await partita(['topic', 'create', 'seekable', '-p', '2', ...b])
    const input = Array.from({ length: 10 }, (_, i) => `k${i}=e${i}`).join('\n') + '\n'
    expect((await partita(['produce', 'seekable', '--key-separator', '=', ...b], input)).code).toBe(0)
    const perPartition = [0, 1].map((p) => Array.from({ length: 10 }, (_, i) => `k${i}`).filter((k) => defaultPartition(k, 2) === p).length)

    // A member that stays: it has printed its first record once it holds its partitions.
    const live = spawnCli(['consume', 'seekable', '-g', 'seekers', ...b])
    const exited = new Promise<number | null>((resolve) => live.once('exit', resolve))
    await new Promise<void>((resolve) => live.stdout!.once('data', () => resolve()))
    const describedLive = await partita(['group', 'describe', 'seekers', ...b])
    expect(summary(describedLive.stdout)).toMatchObject({ STATE: 'Stable', MEMBERS: '1', BALANCER: 'range' })
    for (const row of tableAfterSummary(describedLive.stdout).slice(1)) {
      expect(row[6]).toMatch(/^partita-cli-/)
      expect(row.slice(7)).toEqual(['partita-cli', expect.stringMatching(/127\.0\.0\.1/)])
    }
    const refused = await partita(['group', 'seek', 'seekers', '--to', 'start', ...b])
    expect(refused).toMatchObject({ code: 1, stdout: '', stderr: "partita: seek group 'seekers': the group is Stable, stop its consumers first\n" })
    live.kill('SIGTERM')
    expect(await exited).toBe(0)

    const committedRows = tableAfterSummary((await partita(['group', 'describe', 'seekers', ...b])).stdout).slice(1)
    expect(committedRows.map((r) => r.slice(0, 6))).toEqual(perPartition.map((n, p) => ['seekable', String(p), String(n), '0', String(n), '0']))

    const toStart = await partita(['group', 'seek', 'seekers', '--to', 'start', ...b])
    expect(toStart.code).toBe(0)
    expect(rows(toStart.stdout)).toEqual([['TOPIC', 'PARTITION', 'PRIOR-OFFSET', 'CURRENT-OFFSET'], ...perPartition.map((n, p) => ['seekable', String(p), String(n), '0'])])
    expect(summary((await partita(['group', 'describe', 'seekers', ...b])).stdout)['TOTAL-LAG']).toBe('10')

    const back = await partita(['group', 'seek', 'seekers', '--to', '-1', '--topics', 'seekable', ...b])
    expect(rows(back.stdout).slice(1).map((r) => r[3])).toEqual(perPartition.map((n) => String(n - 1)))
    const again = await partita(['consume', 'seekable', '-g', 'seekers', '-e', '-f', '%k\\n', ...b])
    expect(again.stdout.trimEnd().split('\n').sort()).toEqual([0, 1].map((p) => Array.from({ length: 10 }, (_, i) => `k${i}`).filter((k) => defaultPartition(k, 2) === p).at(-1)!).sort())

    const deleted = await partita(['group', 'delete', 'seekers', ...b])
    expect(deleted).toMatchObject({ code: 0, stdout: 'Deleted group seekers.\n' })
  })
})

describe('partita consume -g', () => {
  it('stops at once, without a stack or a record, on SIGTERM while its group is still forming', async () => {
    // A broker that holds the first rebalance for a minute, so the member is inside JoinGroup.
    await using slow = await startBroker({ port: 0, brokers: 1, groupInitialRebalanceDelayMs: 60_000, logger: SILENT_LOGGER })
    await slow.admin.createTopics({ topics: [{ topic: 'forming', numPartitions: 1 }] })
    const child = spawnCli(['consume', 'forming', '-g', 'forming-readers', '-b', slow.bootstrapServers])
    let stderr = ''
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    // Bounded: the member's JoinGroup makes the group PreparingRebalance within the join.
    for (let i = 0; i < 200; i++) {
      const { groups } = await slow.admin.describeGroups(['forming-readers'])
      if (groups[0]?.state === 'PreparingRebalance') break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(stderr).toBe('Processed a total of 0 messages\n')
    // It left on its way out rather than waiting out the join (which outlasts this test's timeout).
    const { groups } = await slow.admin.describeGroups(['forming-readers'])
    expect(groups[0].members).toEqual([])
  })
})

describe('partita cluster', () => {
  it('shows the brokers, the controller and the topics, and reports a healthy cluster with exit 0', async () => {
    const info = await partita(['cluster', 'info', '--format', 'json', ...b])
    expect(info.code).toBe(0)
    const parsed = JSON.parse(info.stdout) as { controller: number; brokers: { id: number; port: number }[]; topics: { name: string; partitions: number }[] }
    expect(parsed.controller).toBe(0)
    expect(parsed.brokers).toEqual([{ id: 0, host: '127.0.0.1', port: broker.port, rack: null }])
    expect(parsed.topics).toContainEqual({ name: 'visible', partitions: 2, replicas: 1 })
    const text = await partita(['cluster', 'info', ...b])
    expect(text.stdout).toContain(`0*  127.0.0.1  ${broker.port}`)

    const health = await partita(['cluster', 'health', ...b])
    expect(health).toMatchObject({ code: 0, stderr: '' })
    expect(summary(health.stdout)).toMatchObject({ HEALTHY: 'true', 'UNDER-REPLICATED': '-', OFFLINE: '-' })
  })
})

describe('partita errors', () => {
  it.each([
    [['frobnicate'], /^partita: unknown command 'frobnicate'\n$/],
    [['topic', 'list', '--frob'], /^partita: unknown option '--frob'\n$/],
    [['topic', 'create'], /^partita: name a topic\n$/],
    [['topic', 'create', 'x', '-c', 'retention.ms'], /^partita: malformed --config 'retention.ms', expected name=value\n$/],
    [['topic', 'create', 'x', '-p', 'many'], /^partita: --partitions must be an integer from 1 to 2147483647, got 'many'\n$/],
    [['topic', 'create', 'bad/name'], /^partita: create topic 'bad\/name': INVALID_TOPIC_EXCEPTION.*\n$/],
    [['topic', 'create', 'x', '-c', 'retention.ms=soon'], /^partita: create topic 'x': INVALID_CONFIG \(Invalid value soon for configuration retention\.ms: Not a number of type LONG\)\n$/],
    [['topic', 'create', 'x', '-c', 'no.such.config=1'], /^partita: create topic 'x': INVALID_CONFIG \(Unknown topic config name: no\.such\.config\)\n$/],
    [['topic', 'describe', 'no-such-topic'], /^partita: describe topic 'no-such-topic': UNKNOWN_TOPIC_OR_PARTITION\n$/],
    [['topic', 'alter-config', 'visible', '--set', 'retention.ms=soon'], /^partita: alter config of 'visible': INVALID_CONFIG \(.*retention\.ms.*\)\n$/],
    [['topic', 'alter-config', 'visible', '--set', 'no.such.config=1'], /^partita: alter config of 'visible': INVALID_CONFIG \(Unknown topic config name: no\.such\.config\)\n$/],
    [['topic', 'add-partitions', 'visible'], /^partita: add-partitions needs one of --num or --total\n$/],
    [['topic', 'add-partitions', 'visible', '--total', '1'], /^partita: add partitions to 'visible': INVALID_PARTITIONS.*\n$/],
    [['topic', 'list', '--format', 'yaml'], /^partita: --format must be text or json, got 'yaml'\n$/],
    [['group', 'describe', 'nobody'], /^partita: describe group 'nobody': GROUP_ID_NOT_FOUND\n$/],
    [['group', 'seek', 'nobody', '--to', 'sideways'], /^partita: offset must be start, end, an offset, -N or @TIMESTAMP, got 'sideways'\n$/],
    [['group', 'seek', 'nobody', '--to', 'start'], /^partita: seek group 'nobody': it has no offsets; name the topics with --topics\n$/],
    [['produce', 'x', '--acks', '2'], /^partita: --acks must be all, -1, 1 or 0, got '2'\n$/],
    [['produce', 'x', '-H', 'novalue'], /^partita: malformed --header 'novalue', expected key=value\n$/],
    [['produce', 'visible', '-p', '7'], /^partita: partition 7 of 'visible': UNKNOWN_TOPIC_OR_PARTITION \(it has 2\)\n$/],
    [['consume', 'visible', '-f', 'plain'], /^partita: --format must be text, json or a format string with %v and the like, got 'plain'\n$/],
    [['consume', 'visible', '-o', 'yesterday'], /^partita: offset must be start, end, an offset, -N or @TIMESTAMP, got 'yesterday'\n$/],
    [['consume', 'visible', '-g', 'g', '-p', '0'], /^partita: --partitions cannot be used with --group\n$/],
  ])('exits non-zero with one line for %j', async (args, message) => {
    const run = await partita([...args, ...b])
    expect(run.code).not.toBe(0)
    expect(run.stderr).toMatch(message)
    expect(run.stdout).toBe('')
  })

  it('exits non-zero with one line when no broker answers', async () => {
    const run = await partita(['topic', 'list', '-b', '127.0.0.1:1'])
    expect(run).toMatchObject({ code: 1, stdout: '', stderr: 'partita: cannot connect to 127.0.0.1:1: ECONNREFUSED\n' })
    const malformed = await partita(['topic', 'list', '--brokers', 'host:notaport'])
    expect(malformed).toMatchObject({ code: 1, stderr: "partita: bad bootstrap server 'host:notaport', expected host:port\n" })
  })
})
