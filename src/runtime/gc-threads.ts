import v8 from 'node:v8'

/**
 * How V8 collects garbage in a broker process, and the other settings only a process's start can
 * make (the main thread's young generation, the size of libuv's thread pool). By default V8 runs
 * much of a collection on helper threads of its own (concurrent marking and sweeping, parallel
 * scavenges, freeing array buffers): four per process, shared by every isolate. A broker runs one
 * shard per core, each busy on its own core, so the helpers only take turns with the shards. In
 * bench:protocol's produce phase they used about a third of the broker's CPU, and collections cost
 * less in all when each shard ran its own on its own thread (the README's "Where things live" has
 * the figures).
 *
 * V8's flags belong to the process, and the collector's must be set before its first isolate
 * starts: set later with v8.setFlagsFromString, they crashed the main thread at its next full
 * collection (a marking begun concurrent ended as not). So `partita start` re-executes itself with
 * them, as Kafka's launch script picks the JVM's collector, keeping its process id (process.execve,
 * Node 22.15 and later). An embedding service keeps its own flags, and its own pool size.
 */

/**
 * The V8 flags `partita start` runs with: --single-threaded-gc (above), and --optimize-for-size,
 * under which V8 grows each heap to about 1.3 times what it retained at its last full collection
 * (its conservative mode; up to about twice otherwise, under broker.heap.max.mb) and compacts
 * fragmented pages sooner. In the protocol fuzzer each shard then held about 30 MiB of heap around
 * 24 live instead of about 48, and the broker's RSS stayed about 85 MiB lower; bench:protocol's
 * fetch phase peaked 25-45 MiB lower. It costs CPU where old objects pile up fastest: 16 KiB
 * produce batches took 3-31% more per record (five alternated pairs), while 20-record batches and
 * fetches measured the same within noise (README, "Where things live"). It also sets every
 * isolate's semi-spaces to 1 MiB, which MAIN_SEMI_SPACE_MB keeps for the main thread and the
 * release in runWithBrokerGcFlags takes back for workers.
 */
export const BROKER_GC_FLAGS: readonly string[] = ['--single-threaded-gc', '--optimize-for-size']

/**
 * The size of libuv's thread pool that `partita start` runs with, unless UV_THREADPOOL_SIZE is
 * set. The pool belongs to the process, and every shard's group commit fdatasyncs its logs' files
 * there side by side (storage/group-commit.ts): one call per file, mostly waiting on the disk
 * (the writeback it starts runs in that thread, in the kernel). libuv's default of 4 lets four
 * wait at once for the whole broker, while more in flight overlap at the disk. Measured here
 * (Node 24.22.3, ext4 without a journal, 16 KiB appended to each file, then all synced together):
 * 64 files took 14.5 ms a round with 4 threads and 7.2-8.3 with 16 or 64; 192 files 28-29 ms with
 * 4 and 17-19 with 16. libuv reads the variable once, when the pool starts, so only a process's
 * start can set it: the re-exec below passes it.
 */
export const BROKER_UV_THREADPOOL_SIZE = 16
const LIBUV_THREADPOOL_SIZE_DEFAULT = 4

/**
 * Whether the operator set the pool's size. An empty value does not count: libuv would read it as
 * 0 and run one thread, which nobody means by exporting an empty variable.
 */
function poolSizeChosen(env: NodeJS.ProcessEnv): boolean {
  return env.UV_THREADPOOL_SIZE !== undefined && env.UV_THREADPOOL_SIZE !== ''
}

/**
 * The main thread's semi-spaces, in MiB. V8 sizes a main thread's young generation from the
 * machine's memory: on Node 24 with 24 GiB, semi-spaces of up to 64 MiB, and no worker option
 * reaches it. A broker's main thread runs the controller and the admin port, not the data path.
 * Under the protocol fuzzer on Node 24 it held 147 MiB around 15 live with V8's size (README,
 * "Hostile bytes"). 1 MiB is what --optimize-for-size implies for every isolate, said here too so
 * that the release below applies. --max-semi-space-size is a process flag that overrides every
 * worker's maxYoungGenerationSizeMb, so the re-exec passes it for the main isolate and
 * runWithBrokerGcFlags sets it back to 0 before any worker starts: each worker then sizes its young
 * generation from its own resourceLimits again. Unlike the collector's thread flags, V8 reads this
 * one only when an isolate sizes its heap, so setting it later changes only isolates made after.
 */
export const MAIN_SEMI_SPACE_MB = 1
const MAIN_SEMI_SPACE_FLAG = `--max-semi-space-size=${MAIN_SEMI_SPACE_MB}`
/** In a re-executed broker's environment when the re-exec added MAIN_SEMI_SPACE_FLAG: the flag is ours to release. */
const MAIN_SEMI_SPACE_ENV = 'PARTITA_MAIN_SEMI_SPACE_MB'
/**
 * An operator's own semi-space option applies to every thread, as they asked. It counts as their
 * choice of the collector's settings: --optimize-for-size would override it.
 */
const SEMI_SPACE_OPTION = /^--max[-_]semi[-_]space[-_]size(=|$)/

/** A node option that says how V8's collector uses threads or grows heaps: given one, the operator chose. */
const GC_OPTION = /^--(no-)?(single-threaded|single-threaded-gc|parallel-scavenge|parallel-marking|parallel-compaction|concurrent-marking|concurrent-sweeping|concurrent-array-buffer-sweeping|optimize-for-size)(=|$)/

export type GcChoice =
  /**
   * Node's command line already says how to collect: the operator's, or BROKER_GC_FLAGS after a
   * re-exec, which also sized the main thread's semi-spaces (mainSemiSpaceMb) unless the operator did.
   */
  | { kind: 'command-line'; options: string[]; mainSemiSpaceMb?: number }
  /**
   * Re-execute as `execve(execPath, args, env)` to run with BROKER_GC_FLAGS, MAIN_SEMI_SPACE_MB and
   * BROKER_UV_THREADPOOL_SIZE, each where the operator set none.
   */
  | { kind: 're-exec'; execPath: string; args: string[]; env: NodeJS.ProcessEnv }
  /** This Node cannot re-execute in place (before 22.15): V8's defaults stay. */
  | { kind: 'defaults' }

/**
 * What a broker process should do about V8's collector flags and libuv's thread pool, given how
 * node was started. It re-executes when either is unset and it can; an operator's own choice of
 * either (a collector or semi-space option on node's command line, UV_THREADPOOL_SIZE) is kept as
 * given, and with their own collector settings none of ours is added.
 */
export function gcChoice(execPath: string, execArgv: readonly string[], argv: readonly string[], env: NodeJS.ProcessEnv, canReExec: boolean): GcChoice {
  const options = execArgv.filter((option) => GC_OPTION.test(option.replaceAll('_', '-')))
  const poolSet = poolSizeChosen(env)
  const poolEnv = poolSet ? {} : { UV_THREADPOOL_SIZE: String(BROKER_UV_THREADPOOL_SIZE) }
  const chosen = options.length > 0 || execArgv.some((option) => SEMI_SPACE_OPTION.test(option))
  if (chosen && (poolSet || !canReExec)) return { kind: 'command-line', options }
  if (!canReExec) return { kind: 'defaults' }
  // argv[0] is node itself; the script and its arguments follow. The collector's settings the
  // operator set are theirs: ours are added only where they said none.
  const ours = chosen ? [] : [...BROKER_GC_FLAGS, MAIN_SEMI_SPACE_FLAG]
  const mainEnv = chosen ? {} : { [MAIN_SEMI_SPACE_ENV]: String(MAIN_SEMI_SPACE_MB) }
  return {
    kind: 're-exec',
    execPath,
    args: [execPath, ...ours, ...execArgv, ...argv.slice(1)],
    env: { ...env, ...mainEnv, ...poolEnv },
  }
}

interface ReExecProcess {
  execPath: string
  execArgv: string[]
  argv: string[]
  env: NodeJS.ProcessEnv
  execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never
  /** v8.setFlagsFromString; a seam for tests. */
  setV8Flags?: (flags: string) => void
}

/**
 * Re-executes this process with BROKER_GC_FLAGS and libuv's pool size when it should (see
 * gcChoice); returns only when it did not, with what was decided. Call it first thing, before any
 * worker or socket exists.
 */
export function runWithBrokerGcFlags(proc: ReExecProcess = process as unknown as ReExecProcess): KeptGcChoice {
  const choice = gcChoice(proc.execPath, proc.execArgv, proc.argv, proc.env, typeof proc.execve === 'function')
  if (choice.kind === 're-exec') {
    // Replaces this process: nothing after this line runs in it.
    return proc.execve!(choice.execPath, choice.args, choice.env)
  }
  if (choice.kind === 'command-line' && proc.env[MAIN_SEMI_SPACE_ENV] !== undefined && proc.execArgv.includes(MAIN_SEMI_SPACE_FLAG)) {
    // The main isolate has its heap; workers started from now on size theirs from resourceLimits.
    const setV8Flags = proc.setV8Flags ?? v8.setFlagsFromString
    setV8Flags('--max-semi-space-size=0')
    delete proc.env[MAIN_SEMI_SPACE_ENV]
    return { ...choice, mainSemiSpaceMb: MAIN_SEMI_SPACE_MB }
  }
  return choice
}

/** A choice under which this process goes on as it is. */
export type KeptGcChoice = Exclude<GcChoice, { kind: 're-exec' }>

/**
 * One log line saying how this broker collects garbage, the main thread's semi-spaces when set,
 * the size of libuv's thread pool, and glibc's mmap threshold when the environment sets one (the
 * README's "Where things live" says what it trades).
 */
export function describeGcChoice(choice: KeptGcChoice, env: NodeJS.ProcessEnv = process.env): string {
  const threshold = env.MALLOC_MMAP_THRESHOLD_
  const malloc = threshold === undefined ? '' : `; MALLOC_MMAP_THRESHOLD_=${threshold}`
  const poolSize = env.UV_THREADPOOL_SIZE
  const pool =
    poolSize === undefined
      ? `; libuv's thread pool: ${LIBUV_THREADPOOL_SIZE_DEFAULT} threads (set UV_THREADPOOL_SIZE=${BROKER_UV_THREADPOOL_SIZE} for fsyncs side by side)`
      : `; libuv's thread pool: UV_THREADPOOL_SIZE=${poolSize}`
  const main = choice.kind === 'command-line' && choice.mainSemiSpaceMb !== undefined ? `; main thread's semi-spaces ${choice.mainSemiSpaceMb} MiB` : ''
  if (choice.kind === 'command-line') return `V8 garbage collection: ${choice.options.join(' ')}${main}${pool}${malloc}`
  return `V8 garbage collection: V8's defaults (this Node cannot re-execute itself with ${BROKER_GC_FLAGS.join(' ')}; Node 22.15 and later can, or pass it to node)${pool}`
}
