/**
 * The transactions phase: librdkafka (txn_cost.py) producing as fast as it can to one broker
 * process, idempotently and then in transactions of `txnRecords` records, one after the other
 * against the same fresh server; each with the server's CPU by thread and the client's own CPU.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { PYTHON } from './e2e.js'
import type { ServerProcess } from './servers.js'
import { cpuBetween, snapshotCpu } from './thread-cpu.js'
import type { PhaseFigures } from './run.js'

/** The script stays in bench/ (tsc copies no .py), so from dist/ look in the sources. */
const SCRIPT = fileURLToPath(new URL('./txn_cost.py', import.meta.url)).replace('/dist/bench/', '/bench/')
/** Slack beyond the run for the client to start, warm up (1 s), and commit or flush its last records. */
const SLACK_S = 60

interface ClientRun {
  records: number
  seconds: number
  clientCpuS: number
}

function runClient(args: string[], timeoutS: number): Promise<ClientRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 16 * 1024) stderr += chunk.toString()
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutS * 1000)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      if (code !== 0) return reject(new Error(`txn_cost.py ${args[0]} exited with ${code ?? signal}: ${stderr}`))
      const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { records: number; seconds: number; client_cpu_s: number; errors: string[] }
      if (result.errors.length > 0) return reject(new Error(`txn_cost.py ${args[0]}: ${result.errors.join('; ')}`))
      resolve({ records: result.records, seconds: result.seconds, clientCpuS: result.client_cpu_s })
    })
  })
}

export interface TxnCostOptions {
  bootstrap: string
  topic: string
  partitions: number
  seconds: number
  recordBytes: number
  txnRecords: number
}

/** Runs one mode against `server` (`system` names it: Partita or the ceiling), measuring the server's CPU by thread around it. */
export async function txnCostPhase(server: ServerProcess, options: TxnCostOptions, mode: 'idempotent' | 'transactional', system = 'Partita'): Promise<PhaseFigures> {
  const args = [mode, options.bootstrap, options.topic, String(options.seconds), String(options.recordBytes)]
  if (mode === 'transactional') args.push(String(options.txnRecords))
  const before = snapshotCpu(server.pid)
  const run = await runClient(args, options.seconds + SLACK_S)
  const after = snapshotCpu(server.pid)
  const shape = mode === 'transactional' ? `transactions of ${options.txnRecords} records, each committed before the next begins` : 'enable.idempotence, no transactions'
  return {
    label: mode === 'transactional' ? `${system} produce, txns of ${options.txnRecords}` : `${system} produce, idempotent`,
    command: `${server.command}; ${PYTHON} bench/protocol/txn_cost.py ${args.join(' ')} (librdkafka, ${shape}, acks=all, linger.ms=5, ${options.partitions} partitions; after 1 s of the same unmeasured)`,
    records: run.records,
    // The client counts records, not requests; wire bytes are librdkafka's business.
    requests: 0,
    wireBytes: 0,
    seconds: run.seconds,
    latencyMs: null,
    recordBytes: options.recordBytes,
    // Read around the whole client run (its 1 s warm-up included), so per record it is a slight overstatement.
    cpu: cpuBetween(before, after, server.threads),
    generatorCpuUs: run.clientCpuS * 1e6,
    warmup: null,
  }
}
