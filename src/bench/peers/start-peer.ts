/**
 * Starts a bench peer from the machine's own binaries (Debian's `redis-server` and
 * `nats-server`), or the Kafka ceiling from this package (`kafka-ceiling`: a bare Node server that
 * answers the Kafka calls a bench makes at once and stores the records in one file, see
 * ../ceiling/kafka-ceiling-server.ts), on a free loopback port with its data in a temporary
 * directory, and waits until it answers. Teardown stops the server and removes the directory.
 *
 * The ceiling is driven by the same Kafka driver and client as Partita, so its figures are what
 * that client reaches on this box with a broker that costs nothing: Partita's floor, measured in
 * the same run.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { KafkaClient } from '../../client/wire/kafka-client.js'
import { KAFKA_CEILING_SERVER } from '../ceiling/kafka-ceiling-path.js'
import type { BenchDriver } from '../driver.js'
import { freePort } from '../free-port.js'
import { KafkaDriver } from '../kafka-driver.js'
import { NatsConnection } from './nats-connection.js'
import { NatsDriver } from './nats-driver.js'
import { RedisDriver } from './redis-driver.js'
import { RespConnection } from './resp.js'

export type PeerName = 'redis' | 'nats' | 'kafka-ceiling'
export const PEER_NAMES: readonly PeerName[] = ['redis', 'nats', 'kafka-ceiling']

/** Partitions of a topic the ceiling is asked about without creating it; a bench creates its own. */
const KAFKA_CEILING_DEFAULT_PARTITIONS = 1

const READY_ATTEMPTS_MAX = 100
const READY_RETRY_MS = 50
const STOP_TIMEOUT_MS = 5_000

const REDIS_FLUSH_MODE = 'AOF, appendfsync everysec (RDB snapshots off)'
const REDIS_FSYNC_FLUSH_MODE = 'AOF, appendfsync always: fsynced before each answer (RDB snapshots off)'
/**
 * nats-server has no fsync per write before 2.10 (`sync_interval: always`), and Debian's is 2.9,
 * so with --durability fsync NATS still runs as configured, and says so.
 */
const NATS_FLUSH_MODE = 'JetStream file store, page cache, fsync every 2 min (default sync_interval)'
const KAFKA_CEILING_FLUSH_MODE = 'each produce appended to one file with writeSync and answered at once; never fsynced, nothing checked, indexed or replicated'

/** How peers write: as they are configured by default, or each write fsynced before it is answered. */
export type PeerDurability = 'as-configured' | 'fsync'

export async function startPeer(name: PeerName, durability: PeerDurability = 'as-configured'): Promise<BenchDriver> {
  const dir = mkdtempSync(join(tmpdir(), `partita-bench-${name}-`))
  const port = await freePort()
  const args =
    name === 'redis'
      ? ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', durability === 'fsync' ? 'always' : 'everysec', '--protected-mode', 'no', '--loglevel', 'warning']
      : name === 'nats'
        ? ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir]
        : [KAFKA_CEILING_SERVER, join(dir, 'log'), String(KAFKA_CEILING_DEFAULT_PARTITIONS), String(port)]
  const binary = name === 'redis' ? 'redis-server' : name === 'nats' ? 'nats-server' : process.execPath
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)))
  const stop = async (): Promise<void> => {
    await stopChild(child)
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await untilAnswers(name, port, child, binary, () => stderr)
  } catch (error) {
    await stop()
    throw error
  }
  // A peer's threads are all 'other': the harness reports its process total and its busiest threads.
  const server = { pid: child.pid!, threads: { main: child.pid!, shards: [] } }
  if (name === 'redis') return new RedisDriver(port, durability === 'fsync' ? REDIS_FSYNC_FLUSH_MODE : REDIS_FLUSH_MODE, server, stop)
  if (name === 'kafka-ceiling') {
    const flushMode = durability === 'fsync' ? `${KAFKA_CEILING_FLUSH_MODE}; NOT matched: it never fsyncs` : KAFKA_CEILING_FLUSH_MODE
    return new KafkaDriver({ system: 'kafka-ceiling', bootstrapServers: `127.0.0.1:${port}`, flushMode, server, onTeardown: stop })
  }
  return new NatsDriver(port, durability === 'fsync' ? `${NATS_FLUSH_MODE}; NOT matched: nats-server before 2.10 cannot fsync each write` : NATS_FLUSH_MODE, server, stop)
}

async function untilAnswers(name: PeerName, port: number, child: ChildProcess, binary: string, stderr: () => string): Promise<void> {
  let spawnError: Error | null = null
  child.once('error', (error) => (spawnError = error))
  for (let attempt = 0; attempt < READY_ATTEMPTS_MAX; attempt++) {
    if (spawnError !== null) {
      const missing = (spawnError as NodeJS.ErrnoException).code === 'ENOENT'
      throw new Error(missing ? `${binary} is not installed (on Debian: apt-get install ${name === 'redis' ? 'redis-server' : 'nats-server'})` : `${binary}: ${(spawnError as Error).message}`)
    }
    if (child.exitCode !== null) throw new Error(`${binary} exited with code ${child.exitCode}: ${stderr().trim()}`)
    try {
      if (name === 'redis') {
        const c = await RespConnection.open(port)
        await c.call('PING')
        await c.close()
      } else if (name === 'kafka-ceiling') {
        const c = await KafkaClient.connect({ bootstrapServers: `127.0.0.1:${port}`, clientId: 'partita-bench-ready' })
        await c.close()
      } else {
        const c = await NatsConnection.open(port)
        // JetStream answers its API once it is enabled.
        await c.request('$JS.API.INFO', '', 1_000)
        await c.close()
      }
      return
    } catch {
      await new Promise((resolve) => setTimeout(resolve, READY_RETRY_MS))
    }
  }
  throw new Error(`${binary} did not answer on 127.0.0.1:${port}: ${stderr().trim()}`)
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), STOP_TIMEOUT_MS)))
  if ((await Promise.race([exited, late])) === 'late') {
    child.kill('SIGKILL')
    await exited
  }
  clearTimeout(timer)
}
