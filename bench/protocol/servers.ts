/**
 * The processes the bench measures, each started as a child of its own: `partita start` (the
 * broker, optionally pinned to CPUs with taskset) and the ceiling server. Only TCP and /proc are
 * used to observe them, so the broker's inner layout can change without changing the bench.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { KAFKA_CEILING_SERVER } from '../../src/bench/ceiling/kafka-ceiling-path.js'
import { compiledUrl } from '../../src/runtime/compiled-url.js'
import type { ThreadMap } from './thread-cpu.js'

export interface ServerProcess {
  pid: number
  /** `host:port` it printed as listening on. */
  bootstrap: string
  /** Which thread is which in the process. */
  threads: ThreadMap
  /** The command line, as printed beside the figures it produced. */
  command: string
  /** What it wrote to stderr (the broker's warnings: shard failures, failovers), first lines only; those written once it was told to stop are marked so. */
  stderrLines: string[]
  stop(): Promise<void>
}

const START_TIMEOUT_MS = 60_000
/** stderr lines kept per process; later ones are still echoed, not kept. */
const STDERR_LINES_MAX = 50
const STOP_TIMEOUT_MS = 30_000

export const PARTITA_CLI = fileURLToPath(compiledUrl(import.meta.url, '../../src/cli/main.js'))
const CEILING_SERVER = fileURLToPath(compiledUrl(import.meta.url, './ceiling-server.js'))

let cliHasShards: boolean | null = null

/** Today's `partita start` has --shards beside --brokers; the one-shard-per-broker rewrite drops it. */
export function startHasShardsFlag(): boolean {
  cliHasShards ??= execFileSync(process.execPath, [PARTITA_CLI, 'start', '--help'], { encoding: 'utf8' }).includes('--shards')
  return cliHasShards
}

/** The `partita start` arguments for `brokers` brokers with one shard each. */
export function brokerArgs(brokers: number): string[] {
  return ['--brokers', String(brokers), ...(startHasShardsFlag() ? ['--shards', String(brokers)] : [])]
}

interface Listening {
  child: ChildProcess
  bootstrap: string
  stderrLines: string[]
}

/** pino's levels: 40 is warn. Info lines (started, stopping, stopped) are not something that went wrong. */
const PINO_WARN_LEVEL = 40

/** Whether a line the server wrote is worth listing as a warning: anything but a pino line below warn. */
export function isWarning(line: string): boolean {
  if (line === '') return false
  if (!line.startsWith('{')) return true
  try {
    const level: unknown = (JSON.parse(line) as { level?: unknown }).level
    return typeof level !== 'number' || level >= PINO_WARN_LEVEL
  } catch {
    return true
  }
}

function spawnListening(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Listening> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env })
  const stderrLines: string[] = []
  child.stderr!.on('data', (chunk: Buffer) => {
    process.stderr.write(chunk)
    // A line after SIGTERM came from the shutdown, not from a measured phase.
    const when = child.killed ? '(while stopping) ' : ''
    for (const line of chunk.toString().split('\n')) if (isWarning(line) && stderrLines.length < STDERR_LINES_MAX) stderrLines.push(when + line)
  })
  return new Promise((resolve, reject) => {
    let output = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${command} ${args.join(' ')} did not listen within ${START_TIMEOUT_MS} ms: ${output}`))
    }, START_TIMEOUT_MS)
    child.stdout!.on('data', (chunk: Buffer) => {
      // Only the start-up lines are kept; later output is dropped.
      if (output.length < 64 * 1024) output += chunk.toString()
      const match = /listening on (\S+)/.exec(output)
      if (match === null) return
      clearTimeout(timer)
      resolve({ child, bootstrap: match[1], stderrLines })
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${command} ${args.join(' ')} exited with ${code} before listening: ${output}`))
    })
  })
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
  await exited
  clearTimeout(timer)
}

export interface BrokerProcessOptions {
  brokers: number
  /** A taskset CPU list (e.g. '0' or '0,1') to pin the broker to; unpinned when absent. */
  cpus?: string
  /** Node options before the script (`--cpu-prof`, `--cpu-prof-dir=DIR`): for profiling a phase. */
  nodeOptions?: string[]
  /** A directory for the broker's per-phase latency samples (PARTITA_PHASE_TRACE); none when absent. */
  phaseTraceDir?: string
  /** log.partita.fsync.mode for every topic (set through its PARTITA_ variable); the broker's default when absent. */
  fsyncMode?: 'acks-all' | 'off'
}

export async function startBrokerProcess(options: BrokerProcessOptions): Promise<ServerProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'partita-bench-'))
  const mapFile = join(dir, 'threads.json')
  const args = [...(options.nodeOptions ?? []), PARTITA_CLI, 'start', '--port', '0', '--admin-port', 'off', '--data-dir', join(dir, 'data'), ...brokerArgs(options.brokers)]
  const [command, argv] = options.cpus === undefined ? [process.execPath, args] : ['taskset', ['-c', options.cpus, process.execPath, ...args]]
  try {
    const { child, bootstrap, stderrLines } = await spawnListening(command, argv, {
      ...process.env,
      PARTITA_THREAD_MAP_FILE: mapFile,
      ...(options.phaseTraceDir === undefined ? {} : { PARTITA_PHASE_TRACE: options.phaseTraceDir }),
      ...(options.fsyncMode === undefined ? {} : { PARTITA_LOG_PARTITA_FSYNC_MODE: options.fsyncMode }),
    })
    // taskset execs the broker, so the child's pid is the broker's.
    const pid = child.pid!
    // A broker without the hook gets every thread but the main one counted as other.
    const threads: ThreadMap = existsSync(mapFile) ? (JSON.parse(readFileSync(mapFile, 'utf8')) as ThreadMap) : { main: pid, shards: [] }
    const pinned = options.cpus === undefined ? '' : `taskset -c ${options.cpus} `
    return {
      pid,
      bootstrap,
      threads,
      command: `${options.fsyncMode === undefined ? '' : `PARTITA_LOG_PARTITA_FSYNC_MODE=${options.fsyncMode} `}${pinned}partita start ${brokerArgs(options.brokers).join(' ')}`,
      stderrLines,
      stop: async () => {
        await stopChild(child)
        rmSync(dir, { recursive: true, force: true })
      },
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
}

/**
 * A ceiling server as its own process: `frames` (ceiling-server.ts, the bench's own frames) or
 * `kafka` (kafka-ceiling-server.ts, enough Kafka for librdkafka's producer, each topic with
 * `partitions` partitions).
 */
export async function startCeilingProcess(kind: 'frames' | 'kafka' = 'frames', partitions = 1): Promise<ServerProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'partita-ceiling-'))
  const args = kind === 'frames' ? [CEILING_SERVER, join(dir, 'log')] : [KAFKA_CEILING_SERVER, join(dir, 'log'), String(partitions)]
  try {
    const { child, bootstrap, stderrLines } = await spawnListening(process.execPath, args, process.env)
    return {
      pid: child.pid!,
      bootstrap,
      threads: { main: child.pid!, shards: [] },
      command: kind === 'frames' ? 'node dist/bench/protocol/ceiling-server.js' : `node dist/src/bench/ceiling/kafka-ceiling-server.js FILE ${partitions}`,
      stderrLines,
      stop: async () => {
        await stopChild(child)
        rmSync(dir, { recursive: true, force: true })
      },
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
}

/** Peak and current resident set of a process in MB (VmHWM, VmRSS). */
export function residentMb(pid: number): { peakMb: number; currentMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN)
  return { peakMb: kb('VmHWM') / 1024, currentMb: kb('VmRSS') / 1024 }
}
