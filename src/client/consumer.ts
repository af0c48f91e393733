/**
 * The embedded group consumer, shaped like kafkajs's: subscribe, then `run` with eachMessage or
 * eachBatch. Membership goes through the group coordinator (see group-member.ts); records come
 * from the core's long-poll fetch. Heartbeats run on their own timer, so a slow handler does not
 * cost the member its session; a heartbeat that reports a rebalance wakes the fetch loop, which
 * commits what it processed and rejoins (the classic eager protocol).
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import type { KafkaOperations, FetchInput, FetchResult } from '../metadata/operations.js'
import { ErrorCode } from '../common/error-codes.js'
import { KafkaError } from '../common/errors.js'
import { Instrumentation, type InstrumentationEvent, type RemoveListener } from './events.js'
import { decodeFetched } from './fetch-decoder.js'
import { GroupMember, JoinAborted, partitionKey, resolveAssigner, type AssignerOption } from './group-member.js'
import { parseOffset, type KafkaMessage } from './messages.js'
import { backoffMs, isRetriable, kafkaError, resolveRetry, sleep, type ResolvedRetry, type RetryOptions } from './retry.js'

export interface ConsumerOptions {
  groupId: string
  /** Default 30,000 ms, as kafkajs. */
  sessionTimeout?: number
  /** Default 60,000 ms. */
  rebalanceTimeout?: number
  /** Default 3,000 ms. */
  heartbeatInterval?: number
  /** Default 1 MiB. */
  maxBytesPerPartition?: number
  /** Default 1 byte. */
  minBytes?: number
  /** Default 10 MiB. */
  maxBytes?: number
  /** How long a fetch may wait for data; default 5,000 ms. Stopping never waits for it. */
  maxWaitTimeInMs?: number
  retry?: RetryOptions
  allowAutoTopicCreation?: boolean
  /** Assignors offered to the group, preferred first; default ['roundrobin'] as kafkajs. */
  partitionAssigners?: AssignerOption[]
  readUncommitted?: boolean
  clientId?: string
}

export interface TopicPartitionOffset {
  topic: string
  partition: number
  /** The next offset to consume, as kafkajs: a decimal string. */
  offset: string
}

export interface EachMessagePayload {
  topic: string
  partition: number
  message: KafkaMessage
  heartbeat(): Promise<void>
  /** Pauses this partition; returns the function that resumes it. */
  pause(): () => void
}

export interface Batch {
  topic: string
  partition: number
  highWatermark: string
  messages: KafkaMessage[]
  isEmpty(): boolean
  firstOffset(): string | null
  lastOffset(): string
  offsetLag(): string
  offsetLagLow(): string
}

export interface EachBatchPayload {
  batch: Batch
  resolveOffset(offset: string): void
  heartbeat(): Promise<void>
  pause(): () => void
  commitOffsetsIfNecessary(offsets?: { topics: Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }> }): Promise<void>
  uncommittedOffsets(): { topics: Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }> }
  isRunning(): boolean
  isStale(): boolean
}

export interface ConsumerRunConfig {
  autoCommit?: boolean
  /** Commit at most this often (ms); with neither this nor the threshold, after every batch. */
  autoCommitInterval?: number | null
  /** Commit once this many messages are resolved. */
  autoCommitThreshold?: number | null
  eachBatchAutoResolve?: boolean
  partitionsConsumedConcurrently?: number
  eachMessage?: (payload: EachMessagePayload) => Promise<void>
  eachBatch?: (payload: EachBatchPayload) => Promise<void>
}

export const ConsumerEvents = {
  HEARTBEAT: 'consumer.heartbeat',
  COMMIT_OFFSETS: 'consumer.commit_offsets',
  GROUP_JOIN: 'consumer.group_join',
  FETCH: 'consumer.fetch',
  START_BATCH_PROCESS: 'consumer.start_batch_process',
  END_BATCH_PROCESS: 'consumer.end_batch_process',
  CONNECT: 'consumer.connect',
  DISCONNECT: 'consumer.disconnect',
  STOP: 'consumer.stop',
  CRASH: 'consumer.crash',
  REBALANCING: 'consumer.rebalancing',
} as const

interface Assigned {
  topic: string
  partition: number
}

type Resolved = Required<Omit<ConsumerRunConfig, 'eachMessage' | 'eachBatch'>> & Pick<ConsumerRunConfig, 'eachMessage' | 'eachBatch'>

/** A handler failure: the consumer retries the partition from its last resolved offset. */
class HandlerError extends Error {
  constructor(readonly handlerError: unknown) {
    super(handlerError instanceof Error ? handlerError.message : String(handlerError))
    this.name = 'HandlerError'
  }
}

const ABORTED = Symbol('aborted')
/** Set while a user handler runs, so `stop()` called from inside one does not wait for itself. */
const handlerScope = new AsyncLocalStorage<boolean>()
/** How many partitions at most are processed at once, whatever the caller asks. */
const CONCURRENCY_MAX = 1_000

export class Consumer {
  readonly events = ConsumerEvents
  readonly #core: KafkaOperations
  readonly #groupId: string
  readonly #heartbeatIntervalMs: number
  readonly #maxBytesPerPartition: number
  readonly #minBytes: number
  readonly #maxBytes: number
  readonly #maxWaitMs: number
  readonly #isolationLevel: 0 | 1
  readonly #retry: ResolvedRetry
  readonly #allowAutoCreate: boolean
  readonly #member: GroupMember
  readonly #instrumentation = new Instrumentation(ConsumerEvents)

  /** topic -> fromBeginning, in subscription order. */
  readonly #subscriptions = new Map<string, boolean>()
  #assignment: Assigned[] = []
  /** The next offset to process per assigned partition: what a commit stores. */
  readonly #positions = new Map<string, number>()
  readonly #committed = new Map<string, number>()
  /** Seeks asked for before (or between) assignments, applied at the next assignment. */
  readonly #pendingSeeks = new Map<string, number>()
  readonly #pausedPartitions = new Set<string>()
  readonly #pausedTopics = new Set<string>()

  #config: Resolved | null = null
  #stopController = new AbortController()
  /** Aborted to cut a fetch short: a rebalance, a seek, a resume, or stopping. */
  #wakeController = new AbortController()
  #loop: Promise<void> | null = null
  #needsRejoin = false
  #joining = false
  #lastCommitMs = 0
  #uncommittedCount = 0

  constructor(core: KafkaOperations, options: ConsumerOptions) {
    if (typeof options?.groupId !== 'string' || options.groupId === '') throw new TypeError('a consumer needs a groupId')
    this.#core = core
    this.#groupId = options.groupId
    this.#heartbeatIntervalMs = options.heartbeatInterval ?? 3_000
    this.#maxBytesPerPartition = options.maxBytesPerPartition ?? 1_048_576
    this.#minBytes = options.minBytes ?? 1
    this.#maxBytes = options.maxBytes ?? 10_485_760
    this.#maxWaitMs = options.maxWaitTimeInMs ?? 5_000
    this.#isolationLevel = options.readUncommitted === true ? 0 : 1
    this.#retry = resolveRetry(options.retry)
    this.#allowAutoCreate = options.allowAutoTopicCreation ?? true
    this.#member = new GroupMember(core, {
      groupId: options.groupId,
      sessionTimeoutMs: options.sessionTimeout ?? 30_000,
      rebalanceTimeoutMs: options.rebalanceTimeout ?? 60_000,
      assigners: (options.partitionAssigners ?? ['roundrobin']).map(resolveAssigner),
      clientId: options.clientId ?? 'partita-embedded',
      allowAutoTopicCreation: this.#allowAutoCreate,
      retry: this.#retry,
    })
  }

  // ---------------------------------------------------------------- lifecycle

  async connect(): Promise<void> {
    this.#instrumentation.emit(ConsumerEvents.CONNECT, null)
  }

  async subscribe(subscription: { topics?: Array<string | RegExp>; topic?: string | RegExp; fromBeginning?: boolean }): Promise<void> {
    if (this.#config !== null) throw new KafkaError(ErrorCode.INVALID_REQUEST, 'cannot subscribe while the consumer is running')
    const wanted = subscription.topics ?? (subscription.topic === undefined ? [] : [subscription.topic])
    if (wanted.length === 0) throw new TypeError('subscribe needs topic or topics')
    const fromBeginning = subscription.fromBeginning ?? false
    for (const topic of wanted) {
      if (typeof topic === 'string') {
        this.#subscriptions.set(topic, fromBeginning)
        continue
      }
      // A pattern matches the topics that exist now, as kafkajs resolves it at subscribe time.
      const metadata = await this.#core.metadata(null, false)
      for (const t of metadata.topics) if (!t.isInternal && topic.test(t.name)) this.#subscriptions.set(t.name, fromBeginning)
    }
  }

  /** Joins the group, then consumes in the background; resolves once the first join is done. */
  async run(config: ConsumerRunConfig = {}): Promise<void> {
    if (this.#config !== null) throw new KafkaError(ErrorCode.INVALID_REQUEST, 'the consumer is already running')
    if ((config.eachMessage === undefined) === (config.eachBatch === undefined)) throw new TypeError('run needs exactly one of eachMessage or eachBatch')
    if (this.#subscriptions.size === 0) throw new TypeError('subscribe to a topic before run')
    this.#config = {
      autoCommit: config.autoCommit ?? true,
      autoCommitInterval: config.autoCommitInterval ?? null,
      autoCommitThreshold: config.autoCommitThreshold ?? null,
      eachBatchAutoResolve: config.eachBatchAutoResolve ?? true,
      partitionsConsumedConcurrently: Math.min(CONCURRENCY_MAX, Math.max(1, config.partitionsConsumedConcurrently ?? 1)),
      eachMessage: config.eachMessage,
      eachBatch: config.eachBatch,
    }
    this.#stopController = new AbortController()
    this.#wakeController = new AbortController()
    this.#lastCommitMs = Date.now()
    try {
      await this.#rejoin()
    } catch (error) {
      await this.#teardown()
      throw error
    }
    this.#scheduleHeartbeat()
    this.#loop = this.#runLoop()
  }

  /** Stops consuming: finishes the message in hand, commits (autoCommit), leaves the group. */
  async stop(): Promise<void> {
    if (this.#config === null) return
    this.#stopController.abort()
    this.#wakeController.abort()
    // From inside a handler the loop cannot finish before this returns (it is waiting for the
    // handler): it winds down, commits and leaves as soon as the handler returns.
    if (handlerScope.getStore() === true) return
    await this.#loop
  }

  async disconnect(): Promise<void> {
    await this.stop()
    this.#instrumentation.emit(ConsumerEvents.DISCONNECT, null)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.disconnect()
  }

  on(type: string, listener: (event: InstrumentationEvent<unknown>) => void): RemoveListener {
    return this.#instrumentation.on(type, listener)
  }

  // ---------------------------------------------------------------- positions

  /** Commits these offsets (the next offset to consume) for the current generation. */
  async commitOffsets(offsets: TopicPartitionOffset[]): Promise<void> {
    const entries = offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: parseOffset(o.offset) }))
    await this.#commit(entries, true)
  }

  /** Moves a partition's position; the next fetch starts there (committed with autoCommit). */
  seek({ topic, partition, offset }: TopicPartitionOffset): void {
    const value = parseOffset(offset)
    if (value < 0 && value !== -1 && value !== -2) throw new RangeError(`seek offset must be >= 0 (or -1 latest, -2 earliest), got ${offset}`)
    const key = partitionKey(topic, partition)
    this.#pendingSeeks.set(key, value)
    if (this.#positions.has(key)) this.#wakeController.abort()
  }

  pause(topics: Array<{ topic: string; partitions?: number[] }>): void {
    for (const { topic, partitions } of topics) {
      if (partitions === undefined) this.#pausedTopics.add(topic)
      else for (const p of partitions) this.#pausedPartitions.add(partitionKey(topic, p))
    }
  }

  resume(topics: Array<{ topic: string; partitions?: number[] }>): void {
    for (const { topic, partitions } of topics) {
      if (partitions === undefined) {
        this.#pausedTopics.delete(topic)
        for (const key of [...this.#pausedPartitions]) if (key.startsWith(`${topic}\0`)) this.#pausedPartitions.delete(key)
      } else {
        for (const p of partitions) this.#pausedPartitions.delete(partitionKey(topic, p))
      }
    }
    // A long-poll in flight does not include the resumed partitions; start a new one.
    this.#wakeController.abort()
  }

  paused(): Array<{ topic: string; partitions: number[] }> {
    const byTopic = new Map<string, number[]>()
    for (const { topic, partition } of this.#assignment) {
      if (this.#isPaused(topic, partition)) (byTopic.get(topic) ?? byTopic.set(topic, []).get(topic)!).push(partition)
    }
    return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }))
  }

  /** The partitions this member holds in the current generation. */
  assignment(): Array<{ topic: string; partition: number }> {
    return this.#assignment.map((a) => ({ ...a }))
  }

  #isPaused(topic: string, partition: number): boolean {
    return this.#pausedTopics.has(topic) || this.#pausedPartitions.has(partitionKey(topic, partition))
  }

  // ---------------------------------------------------------------- the loop

  /** Consumes until stopped or crashed, then leaves the group and says which it was. */
  async #runLoop(): Promise<void> {
    const crash = await this.#consume()
    await this.#teardown()
    if (crash === null) this.#instrumentation.emit(ConsumerEvents.STOP, null)
    else this.#instrumentation.emit(ConsumerEvents.CRASH, { error: crash.error, groupId: this.#groupId, restart: false })
  }

  /** Returns null when stopped, or the error that crashed the consumer. */
  async #consume(): Promise<{ error: unknown } | null> {
    let handlerFailures = 0
    const stop = this.#stopController.signal
    // Bounded by stopping: every pass fetches (long-polls), sleeps, or rejoins.
    while (!stop.aborted) {
      try {
        if (this.#needsRejoin) {
          await this.#rejoin()
          continue
        }
        await this.#applySeeks()
        const inputs = this.#fetchInputs()
        if (inputs.length === 0) {
          await sleep(Math.min(this.#maxWaitMs, this.#heartbeatIntervalMs), this.#wakeController.signal)
          this.#renewWake()
          continue
        }
        const results = await this.#fetch(inputs)
        if (results === ABORTED) continue
        const retriable = await this.#processAll(results, inputs)
        handlerFailures = 0
        if (retriable) await sleep(this.#retry.initialRetryTime, stop)
      } catch (error) {
        if (error instanceof JoinAborted || stop.aborted) return null
        if (error instanceof HandlerError && handlerFailures < this.#retry.retries) {
          await sleep(backoffMs(this.#retry, handlerFailures++), stop)
          continue
        }
        this.#stopController.abort()
        return { error: error instanceof HandlerError ? error.handlerError : error }
      }
    }
    return null
  }

  async #teardown(): Promise<void> {
    this.#member.stopHeartbeats()
    if (this.#config?.autoCommit === true) await this.#commitResolved().catch(() => {})
    // The coordinator may be closing with the broker; the session then expires instead.
    await this.#member.leave()
    this.#config = null
    this.#loop = null
    this.#assignment = []
    this.#positions.clear()
    this.#committed.clear()
    this.#needsRejoin = false
  }

  #renewWake(): void {
    if (this.#wakeController.signal.aborted) this.#wakeController = new AbortController()
  }

  #fetchInputs(): FetchInput[] {
    const inputs: FetchInput[] = []
    for (const { topic, partition } of this.#assignment) {
      if (this.#isPaused(topic, partition)) continue
      const fetchOffset = this.#positions.get(partitionKey(topic, partition))
      if (fetchOffset === undefined) continue
      inputs.push({ topic, partition, fetchOffset, partitionMaxBytes: this.#maxBytesPerPartition })
    }
    return inputs
  }

  async #fetch(inputs: FetchInput[]): Promise<FetchResult[] | typeof ABORTED> {
    this.#renewWake()
    const signal = this.#wakeController.signal
    // The core answers an aborted long-poll at once and releases its parked partitions, so a
    // stop, seek or rebalance never waits out maxWaitTimeInMs.
    const results = await this.#core.fetch(inputs, {
      maxWaitMs: this.#maxWaitMs,
      minBytes: this.#minBytes,
      maxBytes: this.#maxBytes,
      isolationLevel: this.#isolationLevel,
      signal,
    })
    if (signal.aborted) return ABORTED
    this.#instrumentation.emit(ConsumerEvents.FETCH, { numberOfBatches: results.filter((r) => r.records !== null).length })
    return results
  }

  /** Processes every partition's answer; true when some partition had a retriable error. */
  async #processAll(results: FetchResult[], inputs: FetchInput[]): Promise<boolean> {
    const config = this.#config!
    let retriable = false
    const queue = results.map((result, i) => ({ result, fetchOffset: inputs[i].fetchOffset }))
    const worker = async (): Promise<void> => {
      // Bounded by the queue's length.
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
        if (await this.#processPartition(item.result, item.fetchOffset)) retriable = true
      }
    }
    const workers = Array.from({ length: Math.min(config.partitionsConsumedConcurrently, queue.length) }, worker)
    await Promise.all(workers)
    return retriable
  }

  #isCurrent(key: string, expectedPosition: number): boolean {
    return (
      !this.#stopController.signal.aborted &&
      !this.#needsRejoin &&
      !this.#pendingSeeks.has(key) &&
      this.#positions.get(key) === expectedPosition
    )
  }

  async #processPartition(result: FetchResult, fetchOffset: number): Promise<boolean> {
    const { topic, partition } = result
    const key = partitionKey(topic, partition)
    // A seek, a rebalance or a pause since the fetch was sent makes its answer stale.
    if (!this.#isCurrent(key, fetchOffset) || this.#isPaused(topic, partition)) return false
    if (result.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
      this.#positions.set(key, await this.#resetOffset(topic, partition))
      return false
    }
    if (result.errorCode !== ErrorCode.NONE) {
      if (isRetriable(result.errorCode)) return true
      throw kafkaError(result.errorCode, `fetch ${topic}-${partition}`)
    }
    const decoded = decodeFetched(result.records, fetchOffset)
    if (decoded.messages.length === 0) {
      this.#positions.set(key, decoded.nextOffset)
      return false
    }
    this.#instrumentation.emit(ConsumerEvents.START_BATCH_PROCESS, { topic, partition, batchSize: decoded.messages.length })
    const finished = this.#config!.eachBatch !== undefined
      ? await this.#runEachBatch(result, decoded.messages, fetchOffset)
      : await this.#runEachMessage(topic, partition, decoded.messages, fetchOffset)
    // Compaction can leave a batch's last offsets empty: skip past them once all was processed.
    const lastOffset = Number(decoded.messages[decoded.messages.length - 1].offset)
    if (finished && this.#positions.get(key) === lastOffset + 1) this.#positions.set(key, decoded.nextOffset)
    this.#instrumentation.emit(ConsumerEvents.END_BATCH_PROCESS, { topic, partition, batchSize: decoded.messages.length })
    await this.#maybeAutoCommit()
    return false
  }

  /** True when every message was handled (not cut short by a pause, seek, rebalance or stop). */
  async #runEachMessage(topic: string, partition: number, messages: KafkaMessage[], fetchOffset: number): Promise<boolean> {
    const key = partitionKey(topic, partition)
    let expected = fetchOffset
    for (const message of messages) {
      if (!this.#isCurrent(key, expected) || this.#isPaused(topic, partition)) return false
      try {
        const payload: EachMessagePayload = {
          topic,
          partition,
          message,
          heartbeat: () => this.#heartbeatIfDue(),
          pause: () => this.#pauseOne(topic, partition),
        }
        await handlerScope.run(true, () => this.#config!.eachMessage!(payload))
      } catch (error) {
        throw new HandlerError(error)
      }
      // A handled message is resolved even if a stop or rebalance came meanwhile (its commit
      // goes out before leaving); only a seek, which moved the position itself, discards it.
      if (this.#positions.get(key) !== expected) return false
      expected = Number(message.offset) + 1
      this.#positions.set(key, expected)
      this.#uncommittedCount++
    }
    return true
  }

  async #runEachBatch(result: FetchResult, messages: KafkaMessage[], fetchOffset: number): Promise<boolean> {
    const { topic, partition } = result
    const key = partitionKey(topic, partition)
    const config = this.#config!
    const generation = { position: fetchOffset }
    const live = (): boolean => this.#isCurrent(key, generation.position)
    // As for eachMessage: resolving stays allowed through a stop or rebalance, not past a seek.
    const owned = (): boolean => this.#positions.get(key) === generation.position && !this.#pendingSeeks.has(key)
    const highWatermark = result.highWatermark
    const first = Number(messages[0].offset)
    const last = Number(messages[messages.length - 1].offset)
    const batch: Batch = {
      topic,
      partition,
      highWatermark: String(highWatermark),
      messages,
      isEmpty: () => messages.length === 0,
      firstOffset: () => (messages.length === 0 ? null : String(first)),
      lastOffset: () => String(messages.length === 0 ? highWatermark - 1 : last),
      offsetLag: () => String(Math.max(0, highWatermark - 1 - last)),
      offsetLagLow: () => String(Math.max(0, highWatermark - 1 - first)),
    }
    const resolveOffset = (offset: string): void => {
      const next = parseOffset(offset) + 1
      if (!owned() || next <= generation.position) return
      this.#uncommittedCount += next - generation.position
      generation.position = next
      this.#positions.set(key, next)
    }
    try {
      const eachBatch = config.eachBatch!
      await handlerScope.run(true, () => eachBatch({
        batch,
        resolveOffset,
        heartbeat: () => this.#heartbeatIfDue(),
        pause: () => this.#pauseOne(topic, partition),
        commitOffsetsIfNecessary: async (offsets) => {
          if (offsets === undefined) return this.#maybeAutoCommit(true)
          const entries = offsets.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.topic, partition: p.partition, offset: parseOffset(p.offset) })))
          await this.#commit(entries, false)
        },
        uncommittedOffsets: () => this.#uncommittedOffsets(),
        isRunning: () => !this.#stopController.signal.aborted,
        isStale: () => !live(),
      }))
    } catch (error) {
      throw new HandlerError(error)
    }
    if (config.eachBatchAutoResolve) resolveOffset(String(last))
    return live() && generation.position === last + 1
  }

  #pauseOne(topic: string, partition: number): () => void {
    this.pause([{ topic, partitions: [partition] }])
    return () => this.resume([{ topic, partitions: [partition] }])
  }

  // ---------------------------------------------------------------- rebalancing

  async #rejoin(): Promise<void> {
    this.#joining = true
    try {
      if (this.#assignment.length > 0) {
        this.#instrumentation.emit(ConsumerEvents.REBALANCING, { groupId: this.#groupId, memberId: this.#member.memberId })
        // Eager protocol: hand the partitions over with their progress recorded.
        if (this.#config?.autoCommit === true) await this.#commitResolved().catch(() => {})
      }
      this.#needsRejoin = false
      this.#assignment = []
      const outcome = await this.#member.join([...this.#subscriptions.keys()], this.#stopController.signal)
      this.#assignment = Object.entries(outcome.assignment).flatMap(([topic, partitions]) => partitions.map((partition) => ({ topic, partition })))
      await this.#initPositions(outcome.assignment)
      this.#instrumentation.emit(ConsumerEvents.GROUP_JOIN, {
        groupId: this.#groupId,
        memberId: outcome.memberId,
        leaderId: outcome.leaderId,
        isLeader: outcome.isLeader,
        memberAssignment: outcome.assignment,
        groupProtocol: outcome.groupProtocol,
        duration: outcome.durationMs,
      })
    } finally {
      this.#joining = false
      this.#renewWake()
    }
  }

  // Positions for a new assignment: a pending seek, else the committed offset, else the reset policy.
  async #initPositions(assignment: Record<string, number[]>): Promise<void> {
    const committed = await this.#member.committed(assignment)
    this.#positions.clear()
    this.#committed.clear()
    this.#uncommittedCount = 0
    for (const { topic, partition } of this.#assignment) {
      const key = partitionKey(topic, partition)
      const offset = committed.get(key) ?? -1
      if (offset >= 0) this.#committed.set(key, offset)
      this.#positions.set(key, offset >= 0 ? offset : await this.#resetOffset(topic, partition))
    }
    await this.#applySeeks()
  }

  async #applySeeks(): Promise<void> {
    for (const [key, offset] of [...this.#pendingSeeks]) {
      if (!this.#positions.has(key)) continue
      this.#pendingSeeks.delete(key)
      const [topic, partition] = splitKey(key)
      this.#positions.set(key, offset >= 0 ? offset : await this.#listOffset(topic, partition, offset))
      this.#uncommittedCount++
    }
  }

  /** Where a partition without a usable offset starts: earliest with fromBeginning, else latest. */
  async #resetOffset(topic: string, partition: number): Promise<number> {
    return this.#listOffset(topic, partition, this.#subscriptions.get(topic) === true ? -2 : -1)
  }

  async #listOffset(topic: string, partition: number, timestamp: number): Promise<number> {
    // Bounded by the retry count.
    for (let attempt = 0; ; attempt++) {
      const [result] = await this.#core.listOffsets([{ topic, partition, timestamp }])
      if (result.errorCode === ErrorCode.NONE) return result.offset
      if (!isRetriable(result.errorCode) || attempt >= this.#retry.retries) throw kafkaError(result.errorCode, `ListOffsets ${topic}-${partition}`)
      await sleep(backoffMs(this.#retry, attempt), this.#stopController.signal)
    }
  }

  #requestRejoin(): void {
    this.#needsRejoin = true
    this.#wakeController.abort()
  }

  // ---------------------------------------------------------------- heartbeats

  #scheduleHeartbeat(): void {
    this.#member.startHeartbeats(this.#heartbeatIntervalMs, {
      paused: () => this.#config === null || this.#joining || this.#needsRejoin,
      onAnswer: (errorCode) => this.#onHeartbeat(errorCode),
    })
  }

  #onHeartbeat(errorCode: number): void {
    if (this.#config === null) return
    if (errorCode === ErrorCode.NONE) {
      this.#instrumentation.emit(ConsumerEvents.HEARTBEAT, { groupId: this.#groupId, memberId: this.#member.memberId, groupGenerationId: this.#member.generationId })
      return
    }
    if (errorCode === ErrorCode.UNKNOWN_MEMBER_ID) this.#member.forgetMemberId()
    // Every other failure (a rebalance, a lost generation, a moving coordinator) means: rejoin.
    this.#requestRejoin()
  }

  async #heartbeatIfDue(): Promise<void> {
    if (this.#config !== null) this.#member.beatIfDue()
  }

  // ---------------------------------------------------------------- commits

  async #maybeAutoCommit(force = false): Promise<void> {
    const config = this.#config
    if (config === null || !config.autoCommit) return
    const interval = config.autoCommitInterval
    const threshold = config.autoCommitThreshold
    const due =
      force ||
      (interval === null && threshold === null) ||
      (interval !== null && Date.now() - this.#lastCommitMs >= interval) ||
      (threshold !== null && this.#uncommittedCount >= threshold)
    if (due) await this.#commitResolved()
  }

  async #commitResolved(): Promise<void> {
    const entries: Array<{ topic: string; partition: number; offset: number }> = []
    for (const { topic, partition } of this.#assignment) {
      const key = partitionKey(topic, partition)
      const position = this.#positions.get(key)
      if (position !== undefined && position !== this.#committed.get(key)) entries.push({ topic, partition, offset: position })
    }
    this.#lastCommitMs = Date.now()
    if (entries.length > 0) await this.#commit(entries, false)
  }

  #uncommittedOffsets(): ReturnType<EachBatchPayload['uncommittedOffsets']> {
    const byTopic = new Map<string, Array<{ partition: number; offset: string }>>()
    for (const { topic, partition } of this.#assignment) {
      const key = partitionKey(topic, partition)
      const position = this.#positions.get(key)
      if (position === undefined || position === this.#committed.get(key)) continue
      ;(byTopic.get(topic) ?? byTopic.set(topic, []).get(topic)!).push({ partition, offset: String(position) })
    }
    return { topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) }
  }

  /**
   * Commits for the current generation. A rebalance answer (the generation moved on) asks for a
   * rejoin; it throws only for an explicit `commitOffsets`, since auto-commits simply retry later.
   */
  async #commit(entries: Array<{ topic: string; partition: number; offset: number }>, explicit: boolean): Promise<void> {
    if (entries.length === 0) return
    const results = await this.#member.commit(entries.map((e) => ({ topic: e.topic, partition: e.partition, offset: e.offset, leaderEpoch: -1, metadata: null })))
    let failure: KafkaError | null = null
    results.forEach((r, i) => {
      if (r.errorCode === ErrorCode.NONE) {
        this.#committed.set(partitionKey(r.topic, r.partition), entries[i].offset)
        return
      }
      if (r.errorCode === ErrorCode.REBALANCE_IN_PROGRESS || r.errorCode === ErrorCode.ILLEGAL_GENERATION || r.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) {
        if (r.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) this.#member.forgetMemberId()
        if (this.#config !== null) this.#requestRejoin()
      }
      failure ??= kafkaError(r.errorCode, `commit ${r.topic}-${r.partition} for group ${this.#groupId}`)
    })
    const committed = entries.filter((_, i) => results[i].errorCode === ErrorCode.NONE)
    if (committed.length > 0) {
      this.#uncommittedCount = 0
      this.#instrumentation.emit(ConsumerEvents.COMMIT_OFFSETS, {
        groupId: this.#groupId,
        memberId: this.#member.memberId,
        groupGenerationId: this.#member.generationId,
        topics: committed.map((e) => ({ topic: e.topic, partitions: [{ partition: e.partition, offset: String(e.offset) }] })),
      })
    }
    if (failure !== null && explicit) throw failure
  }
}

function splitKey(key: string): [string, number] {
  const at = key.lastIndexOf('\0')
  return [key.slice(0, at), Number(key.slice(at + 1))]
}

