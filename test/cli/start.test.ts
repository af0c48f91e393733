/**
 * `partita start` as a child process (the compiled CLI in dist/, built by `npm run build`): what
 * it prints when ready, its logs, its clean shutdown on SIGINT and SIGTERM, and the thread map it
 * writes for profilers when PARTITA_THREAD_MAP_FILE is set.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { KAFKA_BROKER_KEYS } from '../../src/metadata/kafka-broker-keys.js'
import { BROKER_GC_FLAGS, BROKER_UV_THREADPOOL_SIZE, describeGcChoice, MAIN_SEMI_SPACE_MB } from '../../src/runtime/gc-threads.js'
import { runPython } from '../integration/harness.js'

const CLI = path.resolve('dist/src/cli/main.js')
let child: ChildProcess | null = null
let dataDir: string | null = null

afterEach(async () => {
  if (child !== null && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child!.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
  }
  child = null
  if (dataDir !== null) fs.rmSync(dataDir, { recursive: true, force: true })
  dataDir = null
})

/** Resolves with stdout so far once the final ready line (`partita: listening on ...`) is out. */
function listening(process: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = ''
    process.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      if (/^partita: listening on .*\n/m.test(output)) resolve(output)
    })
    process.once('exit', (code) => reject(new Error(`partita start exited with ${code}: ${output}`)))
  })
}

describe('partita start', () => {
  it('writes the main thread and each broker\'s thread id to PARTITA_THREAD_MAP_FILE before it reports listening', async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'partita-start-'))
    const mapFile = path.join(dataDir, 'threads.json')
    child = spawn(process.execPath, [CLI, 'start', '--port', '0', '--data-dir', path.join(dataDir, 'data'), '--brokers', '2', '--admin-port', 'off'], {
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { ...process.env, PARTITA_THREAD_MAP_FILE: mapFile },
    })
    await listening(child)
    const map = JSON.parse(fs.readFileSync(mapFile, 'utf8')) as { main: number; shards: number[] }
    expect(map.main).toBe(child.pid)
    expect(map.shards).toHaveLength(2)
    const threads = fs.readdirSync(`/proc/${child.pid}/task`).map(Number)
    for (const tid of map.shards) {
      expect(threads).toContain(tid)
      expect(tid).not.toBe(map.main)
    }
    expect(new Set(map.shards).size).toBe(2)
  })

  it.each(['SIGTERM', 'SIGINT'] as const)('prints each listener and the admin address when ready, and exits 0 on %s after a clean close', async (signal) => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'partita-start-'))
    const started = spawn(process.execPath, [CLI, 'start', '--port', '0', '--data-dir', path.join(dataDir, 'data'), '--brokers', '2', '--admin-port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child = started
    let stderr = ''
    started.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const ready = (await listening(started)).trimEnd().split('\n')
    expect(ready).toHaveLength(4)
    expect(ready[0]).toMatch(/^partita: broker 0 listening on 127\.0\.0\.1:\d+ \(advertised as 127\.0\.0\.1:\d+\)$/)
    expect(ready[1]).toMatch(/^partita: broker 1 listening on 127\.0\.0\.1:\d+ \(advertised as 127\.0\.0\.1:\d+\)$/)
    expect(ready[2]).toMatch(/^partita: admin listening on http:\/\/127\.0\.0\.1:\d+ \(\/metrics, \/healthz, \/readyz, \/v1\/status\)$/)
    expect(ready[3]).toMatch(new RegExp(`^partita: listening on 127\\.0\\.0\\.1:\\d+,127\\.0\\.0\\.1:\\d+ \\(data in ${dataDir}/data\\)$`))
    if (typeof (process as { execve?: unknown }).execve === 'function' && process.env.UV_THREADPOOL_SIZE === undefined) {
      // The re-exec's libuv pool, whose threads libuv names (1.49 and later) and starts together.
      const threads = fs.readdirSync(`/proc/${started.pid}/task`).map((t) => fs.readFileSync(`/proc/${started.pid}/task/${t}/comm`, 'utf8').trim())
      expect(threads.filter((name) => name === 'libuv-worker')).toHaveLength(BROKER_UV_THREADPOOL_SIZE)
    }

    const exited = new Promise<number | null>((resolve) => started.once('exit', resolve))
    started.kill(signal)
    expect(await exited).toBe(0)
    // Not a terminal: one JSON object per line, pino's fields.
    const events = stderr.trimEnd().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string; pid: number })
    expect(events.map((e) => e.msg)).toEqual([
      // Where Node can (22.15+), the broker re-executed itself with its collector flags and main thread's semi-spaces under the same pid (checked below).
      // It also sized libuv's thread pool then.
      typeof (process as { execve?: unknown }).execve === 'function'
        ? describeGcChoice({ kind: 'command-line', options: [...BROKER_GC_FLAGS], mainSemiSpaceMb: MAIN_SEMI_SPACE_MB }, { ...process.env, UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? String(BROKER_UV_THREADPOOL_SIZE) })
        : describeGcChoice({ kind: 'defaults' }),
      'started 2 brokers on ' + ready[3].split(' ')[3],
      `${signal}: shutting down`,
      'stopped cleanly',
    ])
    for (const e of events) expect(e).toMatchObject({ level: 30, pid: started.pid })
    // A clean close leaves the data directory unlocked for the next start.
    expect(fs.existsSync(path.join(dataDir, 'data'))).toBe(true)
  })

  it('answers node\'s --heapsnapshot-signal with a heap snapshot of each broker\'s shard too, and keeps serving', async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'partita-start-'))
    const snapshotDir = path.join(dataDir, 'snapshots')
    fs.mkdirSync(snapshotDir)
    const started = spawn(process.execPath, ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshotDir}`, CLI, 'start', '--port', '0', '--data-dir', path.join(dataDir, 'data'), '--brokers', '2', '--admin-port', 'off'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child = started
    const written = new Promise<string>((resolve) => {
      let stderr = ''
      started.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString()
        const line = stderr.split('\n').find((l) => l.includes('heap snapshots of the shards'))
        if (line !== undefined) resolve(line)
      })
    })
    await listening(started)
    started.kill('SIGUSR2')
    const event = JSON.parse(await written) as { level: number; msg: string }
    expect(event.level).toBe(30)
    const files = event.msg.replace(/^SIGUSR2: heap snapshots of the shards written: /, '').split(', ')
    expect(files.map((f) => path.dirname(f))).toEqual([snapshotDir, snapshotDir])
    expect(files.map((f) => path.basename(f))).toEqual([expect.stringMatching(/^Heap\.\d{8}\.\d{6}\.\d+\.\d+\.\d+\.shard-0\.heapsnapshot$/), expect.stringMatching(/\.shard-1\.heapsnapshot$/)])
    for (const file of files) expect(fs.statSync(file).size).toBeGreaterThan(100_000)
    // Still serving: it stops cleanly as usual.
    const exited = new Promise<number | null>((resolve) => started.once('exit', resolve))
    started.kill('SIGTERM')
    expect(await exited).toBe(0)
  })

  it('logs nothing below --log-level', async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'partita-start-'))
    const started = spawn(process.execPath, [CLI, 'start', '--port', '0', '--data-dir', path.join(dataDir, 'data'), '--brokers', '1', '--admin-port', 'off', '--log-level', 'warn'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child = started
    let stderr = ''
    started.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    await listening(started)
    const exited = new Promise<number | null>((resolve) => started.once('exit', resolve))
    started.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(stderr).toBe('')
  })

  it('prints the admin address with --admin-port and serves /readyz and /metrics there', async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'partita-start-'))
    child = spawn(process.execPath, [CLI, 'start', '--port', '0', '--admin-port', '0', '--data-dir', path.join(dataDir, 'data'), '--brokers', '1'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const output = await listening(child)
    const url = /partita: admin listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1]
    expect(url).toBeDefined()
    const ready = await fetch(`${url}/readyz`)
    expect(ready.status).toBe(200)
    await ready.text()
    const metrics = await (await fetch(`${url}/metrics`)).text()
    expect(metrics).toMatch(/^redpanda_cluster_brokers 1$/m)
  })

  it("starts from Kafka 3.9's stock KRaft server.properties, applying the keys it serves and describing every key to confluent-kafka", async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'partita-start-'))
    const stock = path.resolve('test/cli/fixtures/kafka-3.9-kraft-server.properties')
    // As given: the client listener is the PLAINTEXT one, the CONTROLLER listener is set aside.
    const printed = await new Promise<string>((resolve) => {
      let out = ''
      const p = spawn(process.execPath, [CLI, 'start', '--config', stock, '--print-config', '--format', 'json'], { stdio: ['ignore', 'pipe', 'inherit'] })
      p.stdout!.on('data', (d: Buffer) => (out += d.toString()))
      p.on('close', () => resolve(out))
    })
    const values = Object.fromEntries(printed.trimEnd().split('\n').map((l) => JSON.parse(l) as { key: string; value: string; source: string }).map((v) => [v.key, v]))
    expect(values.listeners).toMatchObject({ value: 'PLAINTEXT://:9092,CONTROLLER://:9093', source: `file ${stock}:10` })
    expect(values['process.roles']).toMatchObject({ value: 'broker,controller', source: `file ${stock}:5 (accepted, no effect)` })

    // Run on a free port in a temp directory; every other key is the stock file's.
    child = spawn(
      process.execPath,
      [CLI, 'start', '--config', stock, '--data-dir', path.join(dataDir, 'data'), '--host', '127.0.0.1', '--port', '0', '--advertised-port', '0', '--brokers', '1', '--admin-port', 'off'],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    )
    const ready = await listening(child)
    const port = /broker 0 listening on 127\.0\.0\.1:(\d+)/.exec(ready)![1]
    const keys = ['process.roles', 'node.id', 'controller.quorum.voters', 'num.network.threads', 'num.partitions', 'log.retention.hours', 'log.retention.check.interval.ms', 'ssl.keystore.password', 'background.threads']
    const result = await runPython<{
      count: number
      entries: Record<string, { value: string | null; readOnly: boolean; sensitive: boolean; source: number }>
      readOnly: number
      unknown: number
    }>('confluent_conformance.py', ['stock-broker-configs', `127.0.0.1:${port}`, '0', ...keys])
    expect(result.count).toBeGreaterThanOrEqual(KAFKA_BROKER_KEYS.size)
    const STATIC = 4
    const DEFAULT = 5
    expect(result.entries).toEqual({
      'process.roles': { value: 'broker,controller', readOnly: true, sensitive: false, source: STATIC },
      'node.id': { value: '1', readOnly: true, sensitive: false, source: STATIC },
      'controller.quorum.voters': { value: '1@localhost:9093', readOnly: true, sensitive: false, source: STATIC },
      'num.network.threads': { value: '3', readOnly: false, sensitive: false, source: STATIC },
      'num.partitions': { value: '1', readOnly: true, sensitive: false, source: STATIC },
      'log.retention.hours': { value: '168', readOnly: true, sensitive: false, source: STATIC },
      // Applied: housekeeping runs every 5 minutes, as the file says, not Partita's 10 s default.
      'log.retention.check.interval.ms': { value: '300000', readOnly: true, sensitive: false, source: STATIC },
      'ssl.keystore.password': { value: null, readOnly: false, sensitive: true, source: DEFAULT },
      'background.threads': { value: '10', readOnly: false, sensitive: false, source: DEFAULT },
    })
    expect(result.readOnly).toBe(42)
    expect(result.unknown).toBe(40)
  })
})
