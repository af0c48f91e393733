/**
 * Progress of a long command on stderr: on a terminal, one line rewritten in place a few times a
 * second and cleared at the end; otherwise a plain line every few seconds (so a log or a pipe
 * gets something to read, and a short run prints nothing at all).
 */

const TTY_INTERVAL_MS = 250
const PLAIN_INTERVAL_MS = 5_000

export interface ProgressSink {
  readonly isTTY: boolean
  write(text: string): void
}

export class Progress {
  #count = 0
  #lastWrittenMs: number
  readonly #startedMs: number
  readonly #intervalMs: number
  #drawn = false

  constructor(
    private readonly verb: string,
    private readonly unit: string,
    private readonly sink: ProgressSink = { isTTY: process.stderr.isTTY === true, write: (text) => void process.stderr.write(text) },
    private readonly now: () => number = Date.now,
  ) {
    this.#startedMs = now()
    this.#lastWrittenMs = this.#startedMs
    this.#intervalMs = sink.isTTY ? TTY_INTERVAL_MS : PLAIN_INTERVAL_MS
  }

  get count(): number {
    return this.#count
  }

  add(n: number): void {
    this.#count += n
    const now = this.now()
    if (now - this.#lastWrittenMs < this.#intervalMs) return
    this.#lastWrittenMs = now
    const line = this.#line(now)
    if (this.sink.isTTY) {
      this.sink.write(`\r\x1b[2K${line}`)
      this.#drawn = true
    } else {
      this.sink.write(`${line}\n`)
    }
  }

  /** Clears the terminal line, so what follows starts on a clean one. */
  done(): void {
    if (this.#drawn) this.sink.write('\r\x1b[2K')
    this.#drawn = false
  }

  #line(now: number): string {
    const seconds = Math.max(0.001, (now - this.#startedMs) / 1000)
    return `${this.verb} ${this.#count} ${this.unit} (${Math.round(this.#count / seconds)}/s)`
  }
}
