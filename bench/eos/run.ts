/**
 * Exactly-once under kill -9: librdkafka's read-process-write loop (eos.py copy: a read_committed
 * group consumer, a transactional producer, the consumed offsets sent in each transaction) copies
 * an input topic to an output topic while the broker is killed and comes back, `kills` times.
 * The copier resumes each time (a copier that stops on an error is started again, as a stream
 * processor's supervisor would). Then both topics are read whole and compared partition by
 * partition, and the group's committed offsets against the input's end.
 *
 * Two topologies: 'process' runs `partita start --brokers 1` as a child process and kills it with
 * SIGKILL (kill -9), restarting it on the same port and data directory; 'broker' runs three
 * brokers embedded in this process, every topic at replication factor 3, and kills one broker's
 * worker (faults.killBroker; the controller fails over and restarts it), a different one each time.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../../src/bench/free-port.js'
import { startBroker } from '../../src/start-broker.js'
import { PARTITA_CLI } from '../protocol/servers.js'
import { jsonLinesOf } from '../protocol/json-lines.js'

const PYTHON = '/usr/bin/python3'
/** The script stays in bench/ (tsc copies no .py), so from dist/ look in the sources. */
const SCRIPT = fileURLToPath(new URL('./eos.py', import.meta.url)).replace('/dist/bench/', '/bench/')
const INPUT = 'eos-input'
const OUTPUT = 'eos-output'
const GROUP = 'eos-copier'
/** A copier that fails this many times in a row without progress ends the run. */
const COPIER_STARTS_MAX = 50

export interface EosOptions {
  topology: 'process' | 'broker'
  records: number
  partitions: number
  txnRecords: number
  kills: number
  /** The whole run's bound. */
  timeoutMs: number
  log?: (line: string) => void
}

export interface EosReport {
  topology: EosOptions['topology']
  records: number
  kills: number
  copierStarts: number
  committedTxns: number
  abortedTxns: number
  copySeconds: number
  inputRecords: number
  outputRecords: number
  committedOffsets: number[]
  inputEnds: number[]
  problems: string[]
  command: string
}

interface Cluster {
  bootstrap: string
  command: string
  kill(n: number): Promise<void>
  close(): Promise<void>
}

interface PythonRun {
  done: Promise<{ code: number | null; lines: Record<string, unknown>[]; stderr: string }>
  kill(): void
}

function python(args: string[], onLine: (line: Record<string, unknown>) => void = () => {}): PythonRun {
  const child = spawn(PYTHON, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines = jsonLinesOf(child.stdout, onLine)
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8192)
  })
  const done = new Promise<{ code: number | null; lines: Record<string, unknown>[]; stderr: string }>((resolve) => child.once('exit', (code) => resolve({ code, lines, stderr })))
  return { done, kill: () => child.kill('SIGKILL') }
}

async function waitListening(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  // Bounded by the deadline.
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => (socket.destroy(), resolve(true)))
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`nothing listens on ${port} after ${timeoutMs} ms`)
}

/** `partita start --brokers 1` as a child process, killed with SIGKILL and started again on the same port and data. */
async function processCluster(partitions: number): Promise<Cluster> {
  const dataDir = mkdtempSync(join(tmpdir(), 'partita-eos-'))
  const port = await freePort()
  const args = [PARTITA_CLI, 'start', '--brokers', '1', '--port', String(port), '--admin-port', 'off', '--data-dir', dataDir, '--num-partitions', String(partitions), '--log-level', 'warn']
  let child: ChildProcess | null = null
  const start = async (): Promise<void> => {
    child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'ignore'] })
    await waitListening(port, 60_000)
  }
  await start()
  return {
    bootstrap: `127.0.0.1:${port}`,
    command: `node ${args.join(' ')}`,
    async kill() {
      const victim = child!
      const exited = new Promise((resolve) => victim.once('exit', resolve))
      victim.kill('SIGKILL')
      await exited
      await start()
    },
    async close() {
      const victim = child!
      const exited = new Promise((resolve) => victim.once('exit', resolve))
      victim.kill('SIGTERM')
      await exited
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** Three brokers embedded here, every topic at replication factor 3; a kill takes one broker's worker. */
async function brokerCluster(partitions: number): Promise<Cluster> {
  const broker = await startBroker({ brokers: 3, port: 0, numPartitions: partitions, defaultReplicationFactor: 3, replicaLagTimeMaxMs: 2_000, groupInitialRebalanceDelayMs: 0 })
  return {
    bootstrap: broker.bootstrapServers,
    command: `startBroker({ brokers: 3, numPartitions: ${partitions}, defaultReplicationFactor: 3 }) in this process; faults.killBroker(n % 3)`,
    async kill(n) {
      const victim = n % 3
      const recovered = broker.faults.recovered(victim)
      broker.faults.killBroker(victim)
      await recovered
    },
    close: () => broker.close(),
  }
}

export async function runEos(options: EosOptions): Promise<EosReport> {
  const log = options.log ?? (() => {})
  const deadline = Date.now() + options.timeoutMs
  const cluster = options.topology === 'process' ? await processCluster(options.partitions) : await brokerCluster(options.partitions)
  try {
    const filled = await python(['fill', cluster.bootstrap, INPUT, String(options.partitions), String(options.records)]).done
    if (filled.code !== 0) throw new Error(`fill failed (${filled.code}): ${JSON.stringify(filled.lines)} ${filled.stderr}`)
    log(`filled ${INPUT} with ${options.records} records over ${options.partitions} partitions at ${cluster.bootstrap}`)

    const totalTxns = Math.ceil(options.records / options.txnRecords)
    let committedTxns = 0
    let abortedTxns = 0
    let copierStarts = 0
    let killsDone = 0
    let killing: Promise<void> = Promise.resolve()
    const copyStartMs = Date.now()
    // Kill i once the copier has committed (i+1)/(kills+1) of its transactions (counted across restarts).
    const maybeKill = (): void => {
      if (killsDone >= options.kills || committedTxns < ((killsDone + 1) * totalTxns) / (options.kills + 1)) return
      const n = killsDone++
      log(`kill ${n + 1} of ${options.kills} after ${committedTxns} committed transactions`)
      killing = killing.then(() => cluster.kill(n)).then(() => log(`kill ${n + 1}: the cluster serves again`))
    }
    let finished = false
    // Bounded by COPIER_STARTS_MAX and the deadline.
    while (!finished) {
      if (copierStarts >= COPIER_STARTS_MAX || Date.now() > deadline) throw new Error(`the copier did not finish: ${copierStarts} starts, ${committedTxns} transactions committed`)
      copierStarts++
      const transactionalId = 'eos-copier-txn'
      const copier = python(['copy', cluster.bootstrap, INPUT, OUTPUT, GROUP, String(options.txnRecords), transactionalId], (line) => {
        if (typeof line.progress === 'number') {
          committedTxns++
          maybeKill()
        }
      })
      const timer = setTimeout(() => copier.kill(), Math.max(1, deadline - Date.now()))
      const result = await copier.done
      clearTimeout(timer)
      const last = result.lines.at(-1) ?? {}
      abortedTxns += typeof last.aborted_txns === 'number' ? last.aborted_txns : 0
      if (result.code === 0 && last.done === true) finished = true
      else log(`copier ${copierStarts} stopped (${result.code}): ${String(last.error ?? result.stderr.split('\n').filter(Boolean).at(-1) ?? '')}`)
    }
    await killing
    const copySeconds = (Date.now() - copyStartMs) / 1000
    // A copy that finished before its last kill still gets it, before the read-back.
    // Bounded by options.kills.
    while (killsDone < options.kills) await cluster.kill(killsDone++)
    const verified = await python(['verify', cluster.bootstrap, INPUT, OUTPUT, GROUP, String(options.partitions)]).done
    const v = verified.lines.at(-1)
    if (v === undefined) throw new Error(`verify failed (${verified.code}): ${verified.stderr}`)
    return {
      topology: options.topology,
      records: options.records,
      kills: killsDone,
      copierStarts,
      committedTxns,
      abortedTxns,
      copySeconds,
      inputRecords: v.input_records as number,
      outputRecords: v.output_records as number,
      committedOffsets: v.committed_offsets as number[],
      inputEnds: v.input_ends as number[],
      problems: v.problems as string[],
      command: `${cluster.command}; ${PYTHON} bench/eos/eos.py fill|copy|verify (${options.records} records, ${options.partitions} partitions, transactions of ${options.txnRecords})`,
    }
  } finally {
    await cluster.close()
  }
}
