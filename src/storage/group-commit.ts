import { assert } from '../common/assert.js'
import { phaseTrace } from '../common/phase-trace.js'
import { fsyncPaths } from './checkpoint-file.js'
import type { FileHandleCache } from './file-handle-cache.js'

/** What one member (a partition log) must sync in a round, and how it learns the outcome. */
export interface SyncWork {
  /** Data files to fdatasync. */
  files: string[]
  /** Directories whose new names must be made durable, after the files. */
  dirs: string[]
  onSynced(): void
  onFailed(error: unknown): void
}

export interface GroupCommitMember {
  /** Called when a round starts: what this member wrote since its last round. */
  prepareSync(): SyncWork
}

/**
 * One group commit per shard (per file cache, which is one per shard thread): every log that
 * wants its data on disk asks here, and each round fdatasyncs everything asked for since the
 * previous round, side by side on libuv's thread pool, so the shard's thread never waits for
 * the disk and one disk flush serves every produce the shard took meanwhile.
 *
 * At most ROUNDS_IN_FLIGHT_MAX rounds run at a time. A request made while a round runs starts the
 * next one at once, beside it, so an urgent append (an acks=all produce, a follower's copy, a
 * transaction's state) waits for one fdatasync rather than for the rest of an unrelated
 * partition's round and then its own; past the bound, requests join the next round, which starts
 * as soon as one ends: under load, rounds grow to fill the time an fdatasync takes (the batch
 * window adapts to the disk), and an idle shard syncs at once. Each member's promise settles
 * with its own files' outcome, so one failing partition fails only its own waiters, and a
 * member's rounds settle in the order they started: a later round may finish first, but the
 * durable offset it vouches for also counts on the files of the earlier one (a segment rolled
 * in between).
 *
 * A lazy request (an acks=0/1 append nobody waits on yet) does not start a round by itself: it
 * waits up to LAZY_SYNC_DELAY_MS for one, as Redpanda flushes acks=1 data on an interval instead
 * of per batch. An urgent request (an acks=all produce, a marker, a follower's copy, a consumer
 * waiting) starts the next round at once and takes every lazy member with it. A shard under
 * acks=1 load alone so runs at most one round per LAZY_SYNC_DELAY_MS instead of one per
 * fdatasync: far fewer fdatasyncs, each covering more.
 */
/**
 * How long a lazy request may wait for a round (see GroupCommit): a bound on acks=1 visibility to
 * consumers not waiting for it. 100 ms, Redpanda's default flush interval: half the lazy rounds of
 * 50, each an fdatasync of every file the shard wrote. What that saved in bench:protocol's
 * 20-record phase was a few percent of the broker's CPU, within the box's spread (README). A
 * waiting consumer is not delayed: it makes the request urgent.
 */
export const LAZY_SYNC_DELAY_MS = 100
/**
 * Rounds syncing at once (see GroupCommit). Two let an urgent request start while a round runs;
 * more would split the shard's appends into ever smaller rounds on a slow disk.
 */
export const ROUNDS_IN_FLIGHT_MAX = 2

export interface GroupCommitTimers {
  /** Runs `run` after the current event-loop turn (the produces of the same turn join the round). */
  schedule(run: () => void): void
  /** Runs `run` after `delayMs`; returns a cancel function. */
  delay(run: () => void, delayMs: number): () => void
}

export const realTimers: GroupCommitTimers = {
  schedule: (run) => setImmediate(run),
  delay: (run, delayMs) => {
    const timer = setTimeout(run, delayMs)
    return () => clearTimeout(timer)
  },
}

export class GroupCommit {
  readonly #files: FileHandleCache
  readonly #timers: GroupCommitTimers
  /** Members asked for the next round, each with the promise its callers wait on. */
  #next = new Map<GroupCommitMember, Deferred>()
  #firstRequestAtMs = 0
  /** Whether a member of #next asked urgently: the next round starts as soon as it can. */
  #nextUrgent = false
  #roundsRunning = 0
  #scheduled = false
  /** Each member's latest round, settled: a member's next round settles after it (see the header). */
  readonly #settled = new WeakMap<GroupCommitMember, Promise<void>>()
  /** Cancels the lazy timer, while one is armed. */
  #cancelLazy: (() => void) | null = null
  readonly stats = { rounds: 0, files: 0 }

  constructor(files: FileHandleCache, timers: GroupCommitTimers = realTimers) {
    this.#files = files
    this.#timers = timers
  }

  /**
   * Resolves once everything `member` wrote before this call is durable. A lazy request waits at
   * most LAZY_SYNC_DELAY_MS (plus a running round) for its round; an urgent one starts it now.
   */
  request(member: GroupCommitMember, lazy = false): Promise<void> {
    let deferred = this.#next.get(member)
    if (deferred === undefined) {
      if (this.#next.size === 0 && phaseTrace !== null) this.#firstRequestAtMs = phaseTrace.now()
      deferred = defer()
      this.#next.set(member, deferred)
    }
    if (!lazy) this.#nextUrgent = true
    this.#maybeStart()
    return deferred.promise
  }

  #maybeStart(): void {
    if (this.#roundsRunning >= ROUNDS_IN_FLIGHT_MAX || this.#scheduled || this.#next.size === 0) return
    if (!this.#nextUrgent) {
      this.#cancelLazy ??= this.#timers.delay(() => {
        this.#cancelLazy = null
        this.#nextUrgent = true
        this.#maybeStart()
      }, LAZY_SYNC_DELAY_MS)
      return
    }
    this.#cancelLazy?.()
    this.#cancelLazy = null
    this.#scheduled = true
    // Not at once: the produces of the same event-loop turn join this round.
    this.#timers.schedule(() => {
      this.#scheduled = false
      void this.#round()
    })
  }

  async #round(): Promise<void> {
    assert(this.#roundsRunning < ROUNDS_IN_FLIGHT_MAX, `at most ${ROUNDS_IN_FLIGHT_MAX} group commit rounds at a time`)
    this.#roundsRunning++
    const members = this.#next
    this.#next = new Map()
    this.#nextUrgent = false
    this.stats.rounds++
    const startedMs = phaseTrace?.now() ?? 0
    phaseTrace?.since('gc.wait', this.#firstRequestAtMs)
    try {
      await Promise.all([...members].map(([member, deferred]) => this.#syncMember(member, deferred)))
    } finally {
      phaseTrace?.since('gc.round', startedMs)
      this.#roundsRunning--
      this.#maybeStart()
    }
  }

  /** Takes the member's work now (as its round starts), syncs it, and settles after its previous round. */
  #syncMember(member: GroupCommitMember, deferred: Deferred): Promise<void> {
    const previous = this.#settled.get(member)
    const settled = this.#syncThenSettle(member, deferred, previous)
    this.#settled.set(member, settled)
    return settled
  }

  /** Never rejects: the outcome goes to the member and its deferred. */
  async #syncThenSettle(member: GroupCommitMember, deferred: Deferred, previous: Promise<void> | undefined): Promise<void> {
    let work: SyncWork | null = null
    let failure: { error: unknown } | null = null
    try {
      work = member.prepareSync()
      this.stats.files += work.files.length
      await fsyncPaths(work.files, this.#files, true)
      if (work.dirs.length > 0) await fsyncPaths(work.dirs, this.#files)
    } catch (error) {
      failure = { error }
    }
    if (previous !== undefined) await previous
    if (failure !== null) {
      work?.onFailed(failure.error)
      deferred.reject(failure.error)
      return
    }
    work!.onSynced()
    deferred.resolve()
  }
}

const commits = new WeakMap<FileHandleCache, GroupCommit>()

/** The group commit of the shard whose file cache this is; `timers` apply when it is made (tests). */
export function groupCommitOf(files: FileHandleCache, timers?: GroupCommitTimers): GroupCommit {
  let commit = commits.get(files)
  if (commit === undefined) {
    commit = new GroupCommit(files, timers)
    commits.set(files, commit)
  }
  return commit
}

interface Deferred {
  promise: Promise<void>
  resolve(): void
  reject(error: unknown): void
}

function defer(): Deferred {
  let resolve!: () => void
  let reject!: (error: unknown) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  // A member nobody awaits (an acks=1 produce) must not become an unhandled rejection.
  promise.catch(() => {})
  return { promise, resolve, reject }
}
