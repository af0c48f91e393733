/**
 * End-to-end latency at a fixed rate with librdkafka: e2e_latency.py's consumer (started first,
 * in its own process) and producer against the broker, and the same script's floor (the same
 * pacing and time stamps through a pipe between two Python processes, no Kafka): what the clients
 * and the box alone cost, so the broker's share can be told apart.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { jsonLinesOf } from './json-lines.js'

export const PYTHON = '/usr/bin/python3'
/** The script stays in bench/ (tsc copies no .py), so from dist/ look in the sources. */
export const E2E_SCRIPT = fileURLToPath(new URL('./e2e_latency.py', import.meta.url)).replace('/dist/bench/', '/bench/')
/** How long the consumer waits for the last records after the run's own length. */
const DRAIN_S = 20
/** Slack for the Python processes to start and exit, on top of that. */
const SLACK_S = 20

export interface LatencyFigures {
  sent: number
  /** Records the consumer got within the run plus its drain time; the rest count as lost or late. */
  received: number
  measured: number
  p50Ms: number | null
  p99Ms: number | null
  p999Ms: number | null
  maxMs: number | null
  /** From produce() to librdkafka's delivery report (the ack), when a producer ran. */
  ackP50Ms: number | null
  ackP99Ms: number | null
  /** Records per second the producer really kept up. */
  achievedRate: number
  worstPacingLagMs: number
  command: string
}

interface ChildRun {
  lines: Record<string, unknown>[]
  /** Resolves on exit code 0; a failure is also held until awaited, so it is never unhandled. */
  done: Promise<void>
  kill(): void
}

/** A child that prints one JSON object a line; `onLine` sees each as it comes. */
function runJsonChild(args: string[], timeoutS: number, onLine: (line: Record<string, unknown>) => void = () => {}): ChildRun {
  const child = spawn(PYTHON, [E2E_SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines = jsonLinesOf(child.stdout, onLine)
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < 16 * 1024) stderr += chunk.toString()
  })
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutS * 1000)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) resolve()
      else reject(new Error(`e2e_latency.py ${args[0]} exited with ${code ?? signal}: ${stderr}`))
    })
  })
  done.catch(() => {})
  return { lines, done, kill: () => child.kill('SIGKILL') }
}

function figures(result: Record<string, unknown>, producer: Record<string, unknown>, sent: number, command: string): LatencyFigures {
  const n = (key: string, from = result): number | null => (typeof from[key] === 'number' ? (from[key] as number) : null)
  return {
    sent,
    received: n('received') ?? 0,
    measured: n('measured') ?? 0,
    p50Ms: n('p50_ms'),
    p99Ms: n('p99_ms'),
    p999Ms: n('p999_ms'),
    maxMs: n('max_ms'),
    ackP50Ms: n('ack_p50_ms', producer),
    ackP99Ms: n('ack_p99_ms', producer),
    achievedRate: sent / (n('seconds', producer) ?? NaN),
    worstPacingLagMs: n('worst_pacing_lag_ms', producer) ?? NaN,
    command,
  }
}

export interface E2eOptions {
  bootstrap: string
  topic: string
  partitions: number
  rate: number
  seconds: number
  recordBytes: number
  lingerMs: number
}

export async function brokerLatency(options: E2eOptions): Promise<LatencyFigures> {
  const count = Math.max(1, Math.round(options.rate * options.seconds))
  const drainS = options.seconds + DRAIN_S
  const timeoutS = drainS + SLACK_S
  let markReady = (): void => {}
  const ready = new Promise<void>((resolve) => (markReady = resolve))
  const consumer = runJsonChild(['consume', options.bootstrap, options.topic, String(options.partitions), String(options.rate), String(count), String(drainS)], timeoutS, (line) => {
    if (line.ready === true) markReady()
  })
  const producer = await Promise.race([ready, consumer.done]).then(() =>
    runJsonChild(['produce', options.bootstrap, options.topic, String(options.rate), String(count), String(options.recordBytes), String(options.lingerMs)], timeoutS),
  )
  try {
    await producer.done
    await consumer.done
  } catch (error) {
    // Whichever failed first is the story; the other must not outlive the run.
    producer.kill()
    consumer.kill()
    throw error
  }
  const sent = producer.lines.at(-1)!
  const received = consumer.lines.at(-1)!
  const failures = [...(sent.errors as string[]), ...(received.errors as string[])]
  if (failures.length > 0 || sent.delivered !== count) throw new Error(`e2e producer delivered ${String(sent.delivered)} of ${count}: ${failures.join('; ')}`)
  const command = `${PYTHON} bench/protocol/e2e_latency.py consume|produce (rate ${options.rate}/s, ${count} records of ${options.recordBytes} B, ${options.partitions} partitions, linger.ms=${options.lingerMs}, acks=1)`
  return figures(received, sent, count, command)
}

export async function floorLatency(rate: number, seconds: number, recordBytes: number): Promise<LatencyFigures> {
  const count = Math.max(1, Math.round(rate * seconds))
  const run = runJsonChild(['floor', String(rate), String(count), String(recordBytes)], seconds + DRAIN_S + SLACK_S)
  await run.done
  const result = run.lines.at(-1)!
  const command = `${PYTHON} bench/protocol/e2e_latency.py floor ${rate} ${count} ${recordBytes}`
  return figures(result, result, count, command)
}
