/**
 * The compiled `partita` CLI (dist/, built by `npm run build`) as a child process against an
 * in-process broker. The children are spawned asynchronously: the broker answers them from this
 * same event loop.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBroker, type Broker } from '../../src/start-broker.js'
import { defaultPartition } from '../../src/client/partitioner.js'

const CLI = path.resolve('dist/src/cli/main.js')

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

function partita(args: string[], stdin = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    child.stdin.end(stdin)
  })
}

let dataDir: string
let broker: Broker
let bootstrap: string[]

beforeAll(async () => {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`)
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'partita-'))
  broker = await startBroker({ port: 0, dataDir, brokers: 1, groupInitialRebalanceDelayMs: 0 })
  bootstrap = ['--bootstrap-server', broker.bootstrapServers]
})

afterAll(async () => {
  await broker?.close()
  fs.rmSync(dataDir, { recursive: true, force: true })
})

describe('partita topics', () => {
  it('creates, lists, describes, alters and deletes a topic', async () => {
    const created = await partita(['topics', 'create', ...bootstrap, '--topic', 'orders', '--partitions', '3', '--config', 'retention.ms=86400000'])
    expect(created).toMatchObject({ code: 0, stdout: 'Created topic orders.\n' })

    const listed = await partita(['topics', 'list', ...bootstrap])
    expect(listed.code).toBe(0)
    expect(listed.stdout.split('\n')).toContain('orders')

    const altered = await partita(['topics', 'alter-config', ...bootstrap, '--topic', 'orders', '--config', 'cleanup.policy=compact'])
    expect(altered.code).toBe(0)

    const described = await partita(['topics', 'describe', ...bootstrap, '--topic', 'orders'])
    expect(described.code).toBe(0)
    const lines = described.stdout.trimEnd().split('\n')
    expect(lines[0]).toBe('Topic: orders\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: cleanup.policy=compact,retention.ms=86400000')
    expect(lines.slice(1)).toEqual([0, 1, 2].map((p) => `\tTopic: orders\tPartition: ${p}\tLeader: 0\tReplicas: 0\tIsr: 0`))

    const deleted = await partita(['topics', 'delete', ...bootstrap, '--topic', 'orders'])
    expect(deleted).toMatchObject({ code: 0, stdout: 'Deleted topic orders.\n' })
    const after = await partita(['topics', 'list', ...bootstrap])
    expect(after.stdout.split('\n')).not.toContain('orders')
  })
})

describe('partita produce and consume', () => {
  it('reads back produced lines from the beginning, with keys on their murmur2 partitions', async () => {
    await partita(['topics', 'create', ...bootstrap, '--topic', 'lines', '--partitions', '3'])
    const keys = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot']
    const input = keys.map((k, i) => `${k}:value-${i}`).join('\n') + '\n'
    const produced = await partita(['produce', ...bootstrap, '--topic', 'lines', '--key-separator', ':', '--compression', 'lz4'], input)
    expect(produced).toMatchObject({ code: 0, stderr: '' })

    const all = await partita(['consume', ...bootstrap, '--topic', 'lines', '--from-beginning', '--max-messages', '6', '--print-key'])
    expect(all.code).toBe(0)
    expect(all.stdout.trimEnd().split('\n').sort()).toEqual(keys.map((k, i) => `${k}\tvalue-${i}`).sort())
    expect(all.stderr).toBe('Processed a total of 6 messages\n')

    // Each partition holds exactly the keys Kafka's default partitioner sends there, in order.
    for (const partition of [0, 1, 2]) {
      const expected = keys.filter((k) => defaultPartition(k, 3) === partition)
      const one = await partita(['consume', ...bootstrap, '--topic', 'lines', '--partition', String(partition), '--offset', 'earliest', '--print-key', '--timeout-ms', '300'])
      expect(one.code).toBe(0)
      expect(one.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t')[0])).toEqual(expected)
    }
  })

  it('consumes as a group, commits, and shows the group in list, describe and offsets', async () => {
    await partita(['topics', 'create', ...bootstrap, '--topic', 'events', '--partitions', '2'])
    const input = Array.from({ length: 10 }, (_, i) => `k${i}=e${i}`).join('\n') + '\n'
    expect((await partita(['produce', ...bootstrap, '--topic', 'events', '--key-separator', '='], input)).code).toBe(0)

    const first = await partita(['consume', ...bootstrap, '--topic', 'events', '--group', 'readers', '--from-beginning', '--max-messages', '4'])
    expect(first.code).toBe(0)
    const second = await partita(['consume', ...bootstrap, '--topic', 'events', '--group', 'readers', '--from-beginning', '--timeout-ms', '1000'])
    expect(second.code).toBe(0)
    // The second run starts where the first committed: together they read every record once.
    const seen = [...first.stdout.trimEnd().split('\n'), ...second.stdout.trimEnd().split('\n')]
    expect(seen.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `e${i}`).sort())

    const listed = await partita(['groups', 'list', ...bootstrap])
    expect(listed.stdout.split('\n')).toContain('readers')
    const described = await partita(['groups', 'describe', ...bootstrap, '--group', 'readers'])
    expect(described.code).toBe(0)
    expect(described.stdout).toMatch(/^Group: readers\tState: Empty\tProtocolType: consumer\t.*Members: 0\n$/)

    const offsets = await partita(['groups', 'offsets', ...bootstrap, '--group', 'readers'])
    expect(offsets.code).toBe(0)
    const rows = offsets.stdout.trimEnd().split('\n').map((l) => l.split(/\s+/))
    expect(rows[0]).toEqual(['GROUP', 'TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'LOG-END-OFFSET', 'LAG'])
    const perPartition = [0, 1].map((p) => Array.from({ length: 10 }, (_, i) => `k${i}`).filter((k) => defaultPartition(k, 2) === p).length)
    expect(rows.slice(1)).toEqual(perPartition.map((n, p) => ['readers', 'events', String(p), String(n), String(n), '0']))

    const deleted = await partita(['groups', 'delete', ...bootstrap, '--group', 'readers'])
    expect(deleted).toMatchObject({ code: 0, stdout: 'Deleted group readers.\n' })
  })
})

describe('partita errors', () => {
  it.each([
    [['topics', 'create', '--topic', 'x', '--config', 'retention.ms'], /^partita: malformed --config 'retention.ms', expected name=value\n$/],
    [['topics', 'describe', '--topic', 'no-such-topic'], /^partita: describe topic 'no-such-topic': UNKNOWN_TOPIC_OR_PARTITION\n$/],
    [['topics', 'create', '--topic', 'bad/name'], /^partita: create topic 'bad\/name': INVALID_TOPIC_EXCEPTION.*\n$/],
    [['groups', 'describe', '--group', 'nobody'], /^partita: describe group 'nobody': GROUP_ID_NOT_FOUND\n$/],
    [['produce', '--topic', 'x', '--acks', '2'], /^partita: --acks must be all, -1, 1 or 0, got '2'\n$/],
  ])('exits non-zero with one line for %j', async (args, message) => {
    const run = await partita([...args, ...bootstrap])
    expect(run.code).not.toBe(0)
    expect(run.stderr).toMatch(message)
    expect(run.stdout).toBe('')
  })

  it('exits non-zero with one line when no broker answers', async () => {
    const run = await partita(['topics', 'list', '--bootstrap-server', '127.0.0.1:1'])
    expect(run.code).toBe(1)
    expect(run.stderr).toBe('partita: cannot connect to 127.0.0.1:1: ECONNREFUSED\n')
    const malformed = await partita(['topics', 'list', '--bootstrap-server', 'host:notaport'])
    expect(malformed.code).toBe(1)
    expect(malformed.stderr).toBe("partita: bad bootstrap server 'host:notaport', expected host:port\n")
  })
})
