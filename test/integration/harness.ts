/**
 * Shared helpers for the integration tests: a broker on a real TCP port with its own data
 * directory, child processes for kcat and the Python clients (always Debian's /usr/bin/python3,
 * which has kafka-python and confluent-kafka), and a raw wire client for requests no real client
 * will send (bad acks, flipped CRC bytes).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startBroker, type Broker } from '../../src/start-broker.js'
import type { BrokerOptions } from '../../src/metadata/broker-config.js'
import { decodeResponse, encodeRequest, type RequestApiKey, type RequestByKey, type ResponseByKey } from '../../src/protocol/index.js'
import type { Input } from '../../src/protocol/index.js'
import { iterateBatches, readBatchHeader, type BatchHeader } from '../../src/records/record-batch.js'

export type { Broker }

export const PYTHON = '/usr/bin/python3'
export const KCAT = '/usr/bin/kcat'
export const PYTHON_DIR = fileURLToPath(new URL('./python/', import.meta.url))

/** A fresh data directory, removed by the returned function. */
export function tempDataDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'partita-it-'))
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/**
 * The cluster the integration suites run against: one broker, or with PARTITA_TEST_BROKERS=3
 * three brokers whose topics are replicated three times by default (every produce then waits
 * for two followers on other threads, and every client talks to three endpoints).
 */
export const TEST_BROKERS = Number(process.env.PARTITA_TEST_BROKERS ?? 1)

/**
 * A base port whose `count` consecutive ports were all free just now, for a test that restarts a
 * cluster on the ports it had (broker i listens on base + i). Chosen below Linux's ephemeral range
 * (32768 and up), where every `port: 0` listener and client socket of the other tests lands, so
 * none of them can take one of these ports between the stop and the restart.
 */
export async function freeConsecutivePorts(count: number): Promise<number> {
  // Bounded: 200 random bases, each probed once.
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * (32_000 - 20_000 - count))
    const held: Array<ReturnType<typeof createServer>> = []
    let free = true
    for (let i = 0; i < count && free; i++) {
      const server = createServer()
      free = await new Promise<boolean>((resolve) => {
        server.once('error', () => resolve(false))
        server.listen(base + i, '127.0.0.1', () => resolve(true))
      })
      if (free) held.push(server)
    }
    await Promise.all(held.map((server) => new Promise((resolve) => server.close(resolve))))
    if (free) return base
  }
  throw new Error(`no ${count} consecutive free ports below 32000`)
}

/** Starts a cluster on TCP ports with test-friendly group timings. */
export async function startTestBroker(dataDir: string, options: BrokerOptions = {}): Promise<Broker> {
  return startBroker({
    port: 0,
    dataDir,
    brokers: TEST_BROKERS,
    defaultReplicationFactor: TEST_BROKERS,
    offsetsTopicNumPartitions: 4,
    groupInitialRebalanceDelayMs: 0,
    numPartitions: 1,
    ...options,
  })
}

/** Creates a topic through the broker's own cluster API, at the broker's default replication factor; throws on any error code. */
export async function createTopicOn(broker: Broker, name: string, numPartitions = 1): Promise<void> {
  const [result] = await broker.cluster.createTopics([{ name, numPartitions, replicationFactor: -1, configs: {} }], false)
  if (result.errorCode !== 0) throw new Error(`creating topic ${name} failed with error code ${result.errorCode}`)
}

export interface ProcessResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a child process to completion, killing it after `timeoutMs`; stdin is written then closed. */
export function run(command: string, args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<ProcessResult> {
  const timeoutMs = options.timeoutMs ?? 30_000
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${command} ${args.join(' ')} timed out after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`))
    }, timeoutMs)
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    // A child that exits before reading its input closes the pipe: the write then fails with
    // EPIPE, which says nothing its exit code and output do not say better.
    child.stdin.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') reject(error)
    })
    child.stdin.end(options.input ?? '')
  })
}

/** Runs a child process and fails with its output unless it exits 0. */
export async function runOk(command: string, args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const result = await run(command, args, options)
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`)
  }
  return result.stdout
}

/** Runs one of the scripts in ./python with Debian's python and parses the JSON it prints last. */
export async function runPython<T>(script: string, args: string[], timeoutMs = 40_000): Promise<T> {
  const stdout = await runOk(PYTHON, [join(PYTHON_DIR, script), ...args], { timeoutMs })
  const lines = stdout.trim().split('\n')
  return JSON.parse(lines[lines.length - 1]) as T
}

/** Runs kcat against a broker. */
export function kcat(bootstrap: string, args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  return runOk(KCAT, ['-b', bootstrap, ...args], options)
}

/** Waits for a condition that an event will make true, checking every 20 ms up to a deadline. */
export async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  // Bounded by the deadline.
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/**
 * A minimal Kafka wire client over one socket: sends frames built by our protocol codecs and
 * reads responses in order. Used to send what real clients never would.
 */
export class RawConnection {
  readonly #socket: Socket
  #buffered = Buffer.alloc(0)
  #waiters: Array<{ resolve: (frame: Buffer) => void; reject: (error: Error) => void }> = []
  #closed = false
  #correlationId = 0

  private constructor(socket: Socket) {
    this.#socket = socket
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('close', () => this.#onClose())
    socket.on('error', () => this.#onClose())
  }

  static async open(port: number, host = '127.0.0.1'): Promise<RawConnection> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(port, host, () => {
        s.off('error', reject)
        resolve(s)
      })
      s.once('error', reject)
    })
    return new RawConnection(socket)
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Sends a request built by our codecs, optionally altered byte-wise first, and decodes the answer. */
  async request<K extends RequestApiKey>(
    apiKey: K,
    apiVersion: number,
    body: Input<RequestByKey[K]>,
    alter?: (frame: Buffer) => void,
  ): Promise<ResponseByKey[K]> {
    const correlationId = ++this.#correlationId
    const frame = encodeRequest(apiKey, apiVersion, correlationId, 'partita-it', body)
    alter?.(frame)
    const answer = this.#nextFrame()
    this.#socket.write(frame)
    const response = decodeResponse(apiKey, apiVersion, await answer)
    if (response.correlationId !== correlationId) throw new Error(`correlation id ${response.correlationId} != ${correlationId}`)
    return response.body
  }

  close(): void {
    this.#socket.destroy()
  }

  #nextFrame(): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.#closed) return reject(new Error('connection closed'))
      const timer = setTimeout(() => reject(new Error('no response within 10 s')), 10_000)
      this.#waiters.push({
        resolve: (frame) => {
          clearTimeout(timer)
          resolve(frame)
        },
        reject: (error) => {
          clearTimeout(timer)
          reject(error)
        },
      })
    })
  }

  /** A request still waiting when the connection closes fails at once, not after its 10 s. */
  #onClose(): void {
    this.#closed = true
    for (const waiter of this.#waiters.splice(0)) waiter.reject(new Error('connection closed'))
  }

  #onData(chunk: Buffer): void {
    this.#buffered = Buffer.concat([this.#buffered, chunk])
    // Bounded by the bytes buffered: each round consumes one whole frame.
    while (this.#buffered.length >= 4) {
      const size = this.#buffered.readInt32BE(0)
      if (this.#buffered.length < 4 + size) return
      const frame = this.#buffered.subarray(4, 4 + size)
      this.#buffered = this.#buffered.subarray(4 + size)
      this.#waiters.shift()?.resolve(Buffer.from(frame))
    }
  }
}

/** The headers of the batches stored in one partition, read in-process through the broker core. */
export async function storedBatches(broker: Broker, topic: string, partition: number): Promise<BatchHeader[]> {
  const headers: BatchHeader[] = []
  let offset = 0
  // Bounded: each round reads at least one batch or stops at the high watermark.
  for (let round = 0; round < 10_000; round++) {
    const [result] = await broker.cluster.fetch([{ topic, partition, fetchOffset: offset, partitionMaxBytes: 1 << 20 }], {
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      isolationLevel: 0,
    })
    if (result.errorCode !== 0) throw new Error(`fetch ${topic}-${partition}@${offset} failed with error ${result.errorCode}`)
    if (result.records === null || result.records.length === 0) break
    for (const span of iterateBatches(result.records)) {
      const header = readBatchHeader(result.records, span.pos)
      if (header.baseOffset + header.lastOffsetDelta < offset) continue
      headers.push(header)
      offset = header.baseOffset + header.lastOffsetDelta + 1
    }
    if (offset >= result.highWatermark) break
  }
  return headers
}

/** Every Kafka error type and code named by a client error, its causes and aggregated errors. */
export function errorTypes(error: unknown, depth = 0): string[] {
  if (typeof error !== 'object' || error === null || depth > 5) return []
  const e = error as { type?: unknown; code?: unknown; cause?: unknown; originalError?: unknown; errors?: unknown }
  const found: string[] = []
  if (typeof e.type === 'string') found.push(e.type)
  if (typeof e.code === 'number') found.push(String(e.code))
  for (const inner of [e.cause, e.originalError]) found.push(...errorTypes(inner, depth + 1))
  if (Array.isArray(e.errors)) for (const inner of e.errors) found.push(...errorTypes(inner, depth + 1))
  return found
}
