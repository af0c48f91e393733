/**
 * The real clients of a chaos run: confluent-kafka (librdkafka) under Debian's python, one JSON
 * line per acknowledged or received record, so what a client was told is known even if it is
 * stopped later. Closing a client's stdin tells it to stop: the producer flushes what it sent
 * and prints a summary, the consumer commits and leaves its group.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { dirname, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { SeenRecord } from './check.js'

export const PYTHON = '/usr/bin/python3'
const HERE = dirname(fileURLToPath(import.meta.url))
/** The checkout's root, from bench/chaos or its compiled twin dist/bench/chaos. */
const ROOT = HERE.endsWith(`${sep}dist${sep}bench${sep}chaos`) ? resolve(HERE, '../../..') : resolve(HERE, '../..')
const CLIENT = resolve(ROOT, 'test/integration/python/confluent_client.py')

/** Lines of stderr kept for the report when a client fails. */
const STDERR_KEPT = 20

export class StreamingClient {
  readonly records: SeenRecord[] = []
  /** Group assignments the consumer was given, in order. */
  readonly assignments: number[][] = []
  summary: Record<string, unknown> | null = null
  readonly stderr: string[] = []
  readonly #child: ChildProcess
  readonly #exited: Promise<number | null>
  /** Callers of seen/assigned, each waiting until its condition holds. */
  #waiters: Array<{ ready: () => boolean; resolve: () => void }> = []

  constructor(args: string[]) {
    this.#child = spawn(PYTHON, [CLIENT, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    this.#exited = new Promise((resolve) => this.#child.once('exit', (code) => resolve(code)))
    createInterface({ input: this.#child.stdout! }).on('line', (line) => this.#onLine(line))
    createInterface({ input: this.#child.stderr! }).on('line', (line) => {
      if (this.stderr.length < STDERR_KEPT) this.stderr.push(line)
    })
  }

  static producer(bootstrap: string, topic: string, perSecond: number, keys: number): StreamingClient {
    return new StreamingClient(['produce-acked', bootstrap, topic, String(perSecond), String(keys)])
  }

  static consumer(bootstrap: string, topic: string, group: string, sessionMs: number): StreamingClient {
    return new StreamingClient(['consume-group', bootstrap, topic, group, String(sessionMs)])
  }

  /** The client's exit code, or null while it runs. */
  get exitCode(): number | null {
    return this.#child.exitCode
  }

  /** Resolves once `count` records have been seen in all (or the client exited: check `records`). */
  seen(count: number): Promise<void> {
    return this.#until(() => this.records.length >= count)
  }

  /** Resolves once the group has handed this consumer `count` assignments in all, or the client exited. */
  assigned(count: number): Promise<void> {
    return this.#until(() => this.assignments.length >= count)
  }

  #until(ready: () => boolean): Promise<void> {
    if (ready() || this.#child.exitCode !== null) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push({ ready, resolve }))
  }

  /** Resolves once every value in `values` has been seen at least once, or the client exited. */
  async seenAll(values: ReadonlySet<number>, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    const missing = new Set(values)
    let checked = 0
    // Bounded by the deadline; each round waits for one more record.
    while (missing.size > 0 && Date.now() < deadline && this.#child.exitCode === null) {
      for (; checked < this.records.length; checked++) missing.delete(this.records[checked].v)
      if (missing.size === 0) break
      await Promise.race([this.seen(this.records.length + 1), new Promise((resolve) => setTimeout(resolve, 500))])
    }
    for (; checked < this.records.length; checked++) missing.delete(this.records[checked].v)
    return missing.size === 0
  }

  /** Closes stdin (stop), waits for the exit, and returns the exit code. */
  async stop(timeoutMs: number): Promise<number | null> {
    this.#child.stdin!.end()
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs)
    const code = await this.#exited
    clearTimeout(timer)
    return code
  }

  #onLine(line: string): void {
    let parsed: Record<string, unknown>
    try {
      parsed = JSON.parse(line) as Record<string, unknown>
    } catch {
      if (this.stderr.length < STDERR_KEPT) this.stderr.push(`stdout: ${line}`)
      return
    }
    if (typeof parsed.v === 'number') this.records.push({ v: parsed.v, p: parsed.p as number, o: parsed.o as number })
    else if (Array.isArray(parsed.assigned)) this.assignments.push(parsed.assigned as number[])
    else if (parsed.done === true) this.summary = parsed
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.ready()) return true
      w.resolve()
      return false
    })
  }
}
