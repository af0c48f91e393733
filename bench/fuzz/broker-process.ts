/**
 * The broker under fuzz, as its own process (`partita start`), so that "the broker never exited"
 * is observable: its exit is watched, its stderr read line by line and sorted into what the
 * report needs (warnings that mean a bug, the reasons it gave for closing connections, anything
 * else it said), and its memory read from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { compiledUrl } from '../../src/runtime/compiled-url.js'

export interface BrokerProcessOptions {
  /** Brokers in the process, each a shard thread with its own listener. */
  brokers: number
  /** A data directory to use and keep (a restart reuses it); default a fresh one removed on stop. */
  dataDir?: string
  /** Broker 0's port (broker i: port + i); default 0, a free port each. */
  port?: number
  /** More `partita start` flags. */
  args?: string[]
  /** The admin HTTP port (0: a free one); default off. */
  adminPort?: number
  /** Extra environment variables for the process. */
  env?: Record<string, string>
  /** Node's own flags for the broker process (`--cpu-prof`, `--heapsnapshot-signal=SIGUSR2`, ...), before its script. */
  nodeArgs?: string[]
  /**
   * Runs the broker with `--trace-gc` and keeps, per V8 isolate (the main thread, each shard, each
   * pool thread), the heap left after its latest full collection: what the broker retains, apart
   * from the room V8 keeps around it (see retainedHeapKb).
   */
  traceGc?: boolean
}

/** `[pid:isolate]  1234 ms: Mark-Compact 41.1 (71.2) -> 19.5 (72.7) MB, ...`: a full collection, live MB after it. */
const FULL_GC_LINE = /^\[\d+:(0x[0-9a-f]+)\]\s+\d+ ms: Mark-Compact(?: \(reduce\))? [\d.]+ \([\d.]+\) -> ([\d.]+) \(([\d.]+)\) MB/
/** Any collection's line (scavenges too): the isolate named is alive. */
const ANY_GC_LINE = /^\[\d+:(0x[0-9a-f]+)\]\s+\d+ ms: /

/**
 * An isolate with no collection of any kind for this long is taken to be gone. `--trace-gc` says
 * nothing when a thread exits, and the CPU pool's threads exit after 30 s idle: counted forever,
 * they summed into the retained heap (a 10 M-frame run listed nine isolates, five of them the
 * pool's, where the broker had four or five threads with heaps). A shard or the main thread under
 * the fuzzer scavenges every few seconds.
 */
export const ISOLATE_SILENT_MS = 60_000

interface IsolateHeap {
  /** MB live after its latest full collection, or null before its first. */
  liveMb: number | null
  /** MB of heap V8 held (committed) after that collection: the live part and the room around it. */
  committedMb: number
  lastSeenMs: number
}

/** The heap each live isolate held after its latest full collection, from `--trace-gc` lines. */
export class RetainedHeap {
  /** Isolate address -> its latest figures; bounded by pruning the silent ones on each read and each new isolate. */
  readonly #isolates = new Map<string, IsolateHeap>()
  readonly #nowMs: () => number
  fullCollections = 0

  constructor(nowMs: () => number = () => performance.now()) {
    this.#nowMs = nowMs
  }

  /** Takes one line of the broker's stdout; true when it was a collection's (full or not). */
  add(line: string): boolean {
    const any = ANY_GC_LINE.exec(line)
    if (any === null) return false
    const nowMs = this.#nowMs()
    let isolate = this.#isolates.get(any[1])
    if (isolate === undefined) {
      this.#prune(nowMs)
      isolate = { liveMb: null, committedMb: NaN, lastSeenMs: nowMs }
      this.#isolates.set(any[1], isolate)
    }
    isolate.lastSeenMs = nowMs
    const full = FULL_GC_LINE.exec(line)
    if (full !== null) {
      isolate.liveMb = Number(full[2])
      isolate.committedMb = Number(full[3])
      this.fullCollections++
    }
    return true
  }

  /** Each live isolate's live and committed MB after its latest full collection, by live MB, largest first (for progress lines). */
  perIsolateMb(): Array<{ liveMb: number; committedMb: number }> {
    return this.#collected()
      .map(({ liveMb, committedMb }) => ({ liveMb, committedMb }))
      .sort((a, b) => b.liveMb - a.liveMb)
  }

  /** The sum over live isolates, in kB, or null before any full collection. */
  totalKb(): number | null {
    const collected = this.#collected()
    if (collected.length === 0) return null
    return Math.round(collected.reduce((mb, isolate) => mb + isolate.liveMb, 0) * 1024)
  }

  #collected(): Array<IsolateHeap & { liveMb: number }> {
    this.#prune(this.#nowMs())
    return [...this.#isolates.values()].filter((isolate): isolate is IsolateHeap & { liveMb: number } => isolate.liveMb !== null)
  }

  #prune(nowMs: number): void {
    for (const [address, isolate] of this.#isolates) if (nowMs - isolate.lastSeenMs > ISOLATE_SILENT_MS) this.#isolates.delete(address)
  }
}

export interface BrokerExit {
  code: number | null
  signal: string | null
}

/** Linux's USER_HZ, the unit of /proc/<pid>/stat's CPU times. */
const CLOCK_TICKS_PER_SECOND = 100

/** Close reasons remembered by client address. */
const REASONS_BY_PEER_MAX = 100_000
/** Lines kept per category; beyond this only the count grows. */
const LINES_KEPT = 20

/** Warnings that mean a bug in the broker, wherever they come from. */
const BUG_WARNINGS = /TimeoutOverflowWarning|TimeoutNegativeWarning|MaxListenersExceededWarning|UnhandledPromiseRejection|unhandled rejection|Unhandled 'error' event/i

/** Lines worth showing while the run goes on (bug lines and anything unclassified), at most this many. */
const LINES_ECHOED = 50

export class BrokerLog {
  /** Called with the first lines that mean a bug or say something unexpected, as they arrive. */
  echo: (line: string) => void = () => undefined
  #echoed = 0

  /** Lines that mean a bug: overflowed timers, leaked listeners, unhandled rejections, handlers that threw. */
  readonly bugLines: string[] = []
  bugLineCount = 0
  /** Other process warnings ("(node:123) SomeWarning: ..."). */
  readonly warnings: string[] = []
  /** Why connections were closed, by reason with the specifics removed. */
  readonly closeReasons = new Map<string, number>()
  /** Anything else the broker printed on stderr. */
  readonly other: string[] = []
  otherCount = 0

  /** Why the broker closed each client connection, by its address (the latest ones only). */
  readonly #reasonByPeer = new Map<string, string>()

  /** The reason the broker gave for closing the connection from `peer` (`ip:port`), if it gave one lately. */
  reasonFor(peer: string): string | undefined {
    return this.#reasonByPeer.get(peer)
  }

  add(line: string): void {
    const text = logMessage(line)
    const closing = /^closing connection from (\S+?:\d+): (.*)$/.exec(text)
    if (closing !== null) {
      this.#rememberReason(closing[1], closing[2])
      const reason = normalizeReason(closing[2])
      this.closeReasons.set(reason, (this.closeReasons.get(reason) ?? 0) + 1)
      // A handler that threw is a crash of that request, whatever the request was.
      if (/failed in the broker/.test(closing[2])) this.#bug(line)
      return
    }
    // A broker that dies or falls silent takes its partitions' leadership with it.
    if (BUG_WARNINGS.test(line) || /^(broker \d+ failed|restarting broker)/.test(text)) this.#bug(line)
    else if (/\(node:\d+\) \w*Warning/.test(line)) {
      if (this.warnings.length < LINES_KEPT) this.warnings.push(line)
    } else if (line.trim() !== '' && !/^\(Use `node --trace-warnings/.test(line) && !/^Timeout duration was set to/.test(line)) {
      this.otherCount++
      this.#show(line)
      if (this.other.length < LINES_KEPT) this.other.push(line)
    }
  }

  #rememberReason(peer: string, reason: string): void {
    // Bounded: only the latest closes are ever asked about.
    if (this.#reasonByPeer.size >= REASONS_BY_PEER_MAX) this.#reasonByPeer.delete(this.#reasonByPeer.keys().next().value!)
    this.#reasonByPeer.set(peer, reason)
  }

  #show(line: string): void {
    if (this.#echoed++ < LINES_ECHOED) this.echo(line)
  }

  #bug(line: string): void {
    this.#show(line)
    this.bugLineCount++
    if (this.bugLines.length < LINES_KEPT) this.bugLines.push(line)
  }
}

/**
 * The message of one line of the broker's log: pino's JSON (`msg`), or a plain line without the
 * `[partita] ` prefix a plain logger gives it. Anything else (a Node warning) comes back whole.
 */
export function logMessage(line: string): string {
  if (line.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(line)
      if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { msg?: unknown }).msg === 'string') return (parsed as { msg: string }).msg
    } catch {
      // Not JSON after all: matched as it is.
    }
  }
  return line.startsWith('[partita] ') ? line.slice('[partita] '.length) : line
}

/** A close reason without the numbers and names that make every line unique. */
function normalizeReason(reason: string): string {
  return reason
    .replace(/\(correlation id -?\d+\)/g, '(correlation id N)')
    .replace(/api key -?\d+ v-?\d+/g, 'api key K vV')
    .replace(/version -?\d+ of api key -?\d+/g, 'version V of api key K')
    .replace(/api key -?\d+/g, 'api key K')
    .replace(/request size -?\d+/g, 'request size N')
    .replace(/: .*$/, (rest) => (rest.length > 80 ? `${rest.slice(0, 80)}...` : rest))
    .replace(/\d+/g, 'N')
}

export class BrokerProcess {
  readonly child: ChildProcess
  readonly bootstrap: string
  readonly log: BrokerLog
  /** With traceGc: what the broker's isolates retain after their latest full collections. */
  readonly retainedHeap: RetainedHeap
  /** The admin HTTP port's base URL, when it was asked for. */
  adminUrl: string | null = null
  /** Removed on stop: the directory this process made, or null when the caller owns it. */
  readonly #ownDataDir: string | null
  #exit: BrokerExit | null = null
  readonly #exited: Promise<BrokerExit>

  private constructor(child: ChildProcess, bootstrap: string, log: BrokerLog, ownDataDir: string | null, retainedHeap: RetainedHeap) {
    this.child = child
    this.retainedHeap = retainedHeap
    this.bootstrap = bootstrap
    this.log = log
    this.#ownDataDir = ownDataDir
    // A run stopped by a signal (Ctrl-C, kill) takes its broker along: Node does not pass the
    // signal on, and a broker left behind went on using the box (found 13 minutes after a kill).
    const onSignal = (signal: NodeJS.Signals): void => {
      child.kill('SIGTERM')
      process.kill(process.pid, signal)
    }
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    this.#exited = new Promise((resolve) => {
      const done = (code: number | null, signal: string | null): void => {
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
        this.#exit = { code, signal }
        resolve(this.#exit)
      }
      if (child.exitCode !== null || child.signalCode !== null) done(child.exitCode, child.signalCode)
      else child.once('exit', done)
    })
  }

  static async start(options: BrokerProcessOptions): Promise<BrokerProcess> {
    const ownDataDir = options.dataDir === undefined ? mkdtempSync(join(tmpdir(), 'partita-fuzz-')) : null
    const dataDir = options.dataDir ?? ownDataDir!
    const cli = fileURLToPath(compiledUrl(import.meta.url, '../../src/cli/main.js'))
    const args = [cli, 'start', '--port', String(options.port ?? 0), '--admin-port', String(options.adminPort ?? 'off'), '--data-dir', dataDir, '--brokers', String(options.brokers)]
    // No initial rebalance delay, so group requests answer while the lane still waits for them;
    // housekeeping every second, so retention changes sent during the run take effect in it.
    args.push('--group-initial-rebalance-delay-ms', '0', '--retention-check-interval-ms', '1000', ...(options.args ?? []))
    const child = spawn(process.execPath, [...(options.traceGc === true ? ['--trace-gc'] : []), ...(options.nodeArgs ?? []), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } })
    const log = new BrokerLog()
    createInterface({ input: child.stderr! }).on('line', (line) => log.add(line))
    const retained = new RetainedHeap()
    try {
      let adminUrl: string | null = null
      const bootstrap = await new Promise<string>((resolve, reject) => {
        // Line by line, and nothing kept but what is parsed: with --trace-gc stdout never ends.
        createInterface({ input: child.stdout! }).on('line', (line) => {
          if (retained.add(line)) return
          adminUrl ??= /^partita: admin listening on (\S+)/.exec(line)?.[1] ?? null
          // The last line of the start-up: every broker's address, as clients bootstrap from them.
          const match = /^partita: listening on (\S+)/.exec(line)
          if (match !== null) resolve(match[1])
        })
        child.once('exit', (code) => reject(new Error(`the broker exited with ${code} before listening: ${log.other.join(' | ')}`)))
      })
      const process_ = new BrokerProcess(child, bootstrap, log, ownDataDir, retained)
      process_.adminUrl = adminUrl
      return process_
    } catch (error) {
      if (ownDataDir !== null) rmSync(ownDataDir, { recursive: true, force: true })
      throw error
    }
  }

  get pid(): number {
    return this.child.pid!
  }

  /** null while the broker runs. */
  get exit(): BrokerExit | null {
    return this.#exit
  }

  get exited(): Promise<BrokerExit> {
    return this.#exited
  }

  /**
   * Resident and peak resident memory in kB (VmRSS, VmHWM), the anonymous part of the resident
   * memory (RssAnon: heaps and buffers, apart from mapped files), and threads, or null once it is gone.
   */
  memoryKb(): { rssKb: number; peakKb: number; anonKb: number; threads: number } | null {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8')
      const field = (name: string): number => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN)
      return { rssKb: field('VmRSS'), peakKb: field('VmHWM'), anonKb: field('RssAnon'), threads: field('Threads') }
    } catch {
      return null
    }
  }

  /** CPU seconds the broker process has used, all its threads together, or null once it is gone. */
  cpuSeconds(): number | null {
    try {
      // Fields after the command name (which may hold spaces): utime and stime are the 14th and 15th.
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND
    } catch {
      return null
    }
  }

  /**
   * Stops the broker with SIGTERM (a clean shutdown), or SIGKILL if that takes longer than
   * `timeoutMs`, and removes its data unless the caller gave the directory. Returns the exit and whether the shutdown was clean.
   */
  async stop(timeoutMs = 30_000): Promise<BrokerExit & { clean: boolean }> {
    const alreadyGone = this.#exit !== null
    if (!alreadyGone) this.child.kill('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const killed = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)))
    const outcome = await Promise.race([this.#exited, killed])
    clearTimeout(timer)
    if (outcome === 'timeout') this.child.kill('SIGKILL')
    const exit = await this.#exited
    if (this.#ownDataDir !== null) rmSync(this.#ownDataDir, { recursive: true, force: true })
    return { ...exit, clean: !alreadyGone && outcome !== 'timeout' && exit.code === 0 }
  }
}
