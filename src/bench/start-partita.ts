/**
 * The Partita a bench run measures when no -b is given: `partita start` as its own process, with
 * its data in a temporary directory, like the peers, so the harness's client does not share the
 * broker's main thread (its controller and ring reader) and each side's CPU is its own.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { compiledUrl } from '../runtime/compiled-url.js'
import type { ServedBy } from './driver.js'
import type { ThreadMap } from './thread-cpu.js'

const STOP_TIMEOUT_MS = 10_000
const OUTPUT_KEPT_CHARS = 4_000

export interface StartedPartita {
  bootstrapServers: string
  /** Its process and which of its threads are the main thread and each shard, for CPU per thread. */
  server: ServedBy
  stop(): Promise<void>
}

/** partita.fsync.mode for every topic of the run (log.partita.fsync.mode); the broker's default when absent. */
export type PartitaFsyncMode = 'acks-all' | 'off'

export async function startPartitaProcess(brokers: number | undefined, fsyncMode?: PartitaFsyncMode): Promise<StartedPartita> {
  const dir = mkdtempSync(join(tmpdir(), 'partita-bench-'))
  const cli = fileURLToPath(compiledUrl(import.meta.url, '../cli/main.js'))
  const args = [cli, 'start', '--port', '0', '--admin-port', 'off', '--data-dir', join(dir, 'data'), ...(brokers === undefined ? [] : ['--brokers', String(brokers)])]
  const threadMapFile = join(dir, 'threads.json')
  const env = { ...process.env, PARTITA_THREAD_MAP_FILE: threadMapFile, ...(fsyncMode === undefined ? {} : { PARTITA_LOG_PARTITA_FSYNC_MODE: fsyncMode }) }
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env })
  let output = ''
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-OUTPUT_KEPT_CHARS)
  }
  child.stderr.on('data', keep)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), STOP_TIMEOUT_MS)))
      if ((await Promise.race([exited, late])) === 'late') {
        child.kill('SIGKILL')
        await exited
      }
      clearTimeout(timer)
    }
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const bootstrapServers = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        keep(chunk)
        const match = /partita: listening on (\S+)/.exec(output)
        if (match !== null) resolve(match[1])
      })
      child.once('error', reject)
      child.once('exit', (code) => reject(new Error(`partita start exited with code ${code}: ${output.trim()}`)))
    })
    const pid = child.pid!
    // Written before the broker says it listens; without it every thread but the main one counts as other.
    const threads: ThreadMap = existsSync(threadMapFile) ? (JSON.parse(readFileSync(threadMapFile, 'utf8')) as ThreadMap) : { main: pid, shards: [] }
    return { bootstrapServers, server: { pid, threads }, stop }
  } catch (error) {
    await stop()
    throw error
  }
}
