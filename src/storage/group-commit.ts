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
 * At most one round runs at a time. A request made while a round runs joins the next one, which
 * starts as soon as the running one ends: under load, rounds grow to fill the time an fdatasync
 * takes (the batch window adapts to the disk), and an idle shard syncs at once. Each member's
 * promise settles with its own files' outcome, so one failing partition fails only its own
 * waiters.
 */
export class GroupCommit {
  readonly #files: FileHandleCache
  readonly #schedule: (run: () => void) => void
  /** Members asked for the next round, each with the promise its callers wait on. */
  #next = new Map<GroupCommitMember, Deferred>()
  #firstRequestAtMs = 0
  #running = false
  #scheduled = false
  readonly stats = { rounds: 0, files: 0 }

  constructor(files: FileHandleCache, schedule: (run: () => void) => void = (run) => setImmediate(run)) {
    this.#files = files
    this.#schedule = schedule
  }

  /** Resolves once everything `member` wrote before this call is durable. */
  request(member: GroupCommitMember): Promise<void> {
    let deferred = this.#next.get(member)
    if (deferred === undefined) {
      if (this.#next.size === 0 && phaseTrace !== null) this.#firstRequestAtMs = phaseTrace.now()
      deferred = defer()
      this.#next.set(member, deferred)
    }
    this.#maybeStart()
    return deferred.promise
  }

  #maybeStart(): void {
    if (this.#running || this.#scheduled || this.#next.size === 0) return
    this.#scheduled = true
    // Not at once: the produces of the same event-loop turn join this round.
    this.#schedule(() => {
      this.#scheduled = false
      void this.#round()
    })
  }

  async #round(): Promise<void> {
    assert(!this.#running, 'one group commit round at a time')
    this.#running = true
    const members = this.#next
    this.#next = new Map()
    this.stats.rounds++
    const startedMs = phaseTrace?.now() ?? 0
    phaseTrace?.since('gc.wait', this.#firstRequestAtMs)
    try {
      await Promise.all([...members].map(([member, deferred]) => this.#syncMember(member, deferred)))
    } finally {
      phaseTrace?.since('gc.round', startedMs)
      this.#running = false
      this.#maybeStart()
    }
  }

  async #syncMember(member: GroupCommitMember, deferred: Deferred): Promise<void> {
    let work: SyncWork | null = null
    try {
      work = member.prepareSync()
      this.stats.files += work.files.length
      await fsyncPaths(work.files, this.#files, true)
      if (work.dirs.length > 0) await fsyncPaths(work.dirs, this.#files)
    } catch (error) {
      work?.onFailed(error)
      deferred.reject(error)
      return
    }
    work.onSynced()
    deferred.resolve()
  }
}

const commits = new WeakMap<FileHandleCache, GroupCommit>()

/** The group commit of the shard whose file cache this is. */
export function groupCommitOf(files: FileHandleCache): GroupCommit {
  let commit = commits.get(files)
  if (commit === undefined) {
    commit = new GroupCommit(files)
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
