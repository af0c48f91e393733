import v8 from 'node:v8'

/**
 * How V8 collects garbage in a broker process, and the other settings only a process's start can
 * make (the main thread's young generation). By default V8 runs much of a collection on helper
 * threads of its own (concurrent marking and sweeping, parallel scavenges, freeing array buffers):
 * four per process, shared by every isolate. A broker runs one shard per core, each busy on its
 * own core, so the helpers only take turns with the shards. In bench:protocol's produce phase they
 * used about a third of the broker's CPU, and collections cost less in all when each shard ran its
 * own on its own thread (the README's "Where things live" has the figures).
 *
 * V8's flags belong to the process, and the collector's must be set before its first isolate
 * starts: set later with v8.setFlagsFromString, they crashed the main thread at its next full
 * collection (a marking begun concurrent ended as not). So `partita start` re-executes itself with
 * them, as Kafka's launch script picks the JVM's collector, keeping its process id (process.execve,
 * Node 22.15 and later). An embedding service keeps its own flags.
 */

/** The V8 flags `partita start` runs with. */
export const BROKER_GC_FLAGS: readonly string[] = ['--single-threaded-gc']

/**
 * The main thread's semi-spaces, in MiB. V8 sizes a main thread's young generation from the
 * machine's memory: on Node 24 with 24 GiB, semi-spaces of up to 64 MiB, and no worker option
 * reaches it. A broker's main thread runs the controller and the admin port, not the data path,
 * so it gets the 12 MiB young generation of the CPU pool's threads (4 MiB semi-spaces). Under the
 * protocol fuzzer on Node 24 it held 147 MiB around 15 live with V8's size (README, "Hostile
 * bytes"). --max-semi-space-size is a process flag that overrides every worker's
 * maxYoungGenerationSizeMb, so the re-exec passes it for the main isolate and
 * runWithBrokerGcFlags sets it back to 0 before any worker starts: each worker then sizes its young
 * generation from its own resourceLimits again. Unlike the collector's thread flags, V8 reads this
 * one only when an isolate sizes its heap, so setting it later changes only isolates made after.
 */
export const MAIN_SEMI_SPACE_MB = 4
const MAIN_SEMI_SPACE_FLAG = `--max-semi-space-size=${MAIN_SEMI_SPACE_MB}`
/** In a re-executed broker's environment when the re-exec added MAIN_SEMI_SPACE_FLAG: the flag is ours to release. */
const MAIN_SEMI_SPACE_ENV = 'PARTITA_MAIN_SEMI_SPACE_MB'
/** An operator's own semi-space option applies to every thread, as they asked; the re-exec adds none then. */
const SEMI_SPACE_OPTION = /^--max[-_]semi[-_]space[-_]size(=|$)/

/** A node option that says how V8's collector uses threads: given one, the operator chose. */
const GC_THREAD_OPTION = /^--(no-)?(single-threaded|single-threaded-gc|parallel-scavenge|parallel-marking|parallel-compaction|concurrent-marking|concurrent-sweeping|concurrent-array-buffer-sweeping)(=|$)/

export type GcChoice =
  /**
   * Node's command line already says how to collect: the operator's, or BROKER_GC_FLAGS after a
   * re-exec, which also sized the main thread's semi-spaces (mainSemiSpaceMb) unless the operator did.
   */
  | { kind: 'command-line'; options: string[]; mainSemiSpaceMb?: number }
  /** Re-execute as `execve(execPath, args, env)` to run with BROKER_GC_FLAGS and MAIN_SEMI_SPACE_MB. */
  | { kind: 're-exec'; execPath: string; args: string[]; env: NodeJS.ProcessEnv }
  /** This Node cannot re-execute in place (before 22.15): V8's defaults stay. */
  | { kind: 'defaults' }

/** What a broker process should do about V8's collector flags, given how node was started. */
export function gcChoice(execPath: string, execArgv: readonly string[], argv: readonly string[], env: NodeJS.ProcessEnv, canReExec: boolean): GcChoice {
  const options = execArgv.filter((option) => GC_THREAD_OPTION.test(option.replaceAll('_', '-')))
  if (options.length > 0) return { kind: 'command-line', options }
  if (!canReExec) return { kind: 'defaults' }
  // argv[0] is node itself; the script and its arguments follow. A semi-space option the operator
  // set is theirs, so it wins over ours.
  const ownSemiSpace = execArgv.some((option) => SEMI_SPACE_OPTION.test(option))
  const mainFlags = ownSemiSpace ? [] : [MAIN_SEMI_SPACE_FLAG]
  const mainEnv = ownSemiSpace ? {} : { [MAIN_SEMI_SPACE_ENV]: String(MAIN_SEMI_SPACE_MB) }
  return {
    kind: 're-exec',
    execPath,
    args: [execPath, ...BROKER_GC_FLAGS, ...mainFlags, ...execArgv, ...argv.slice(1)],
    env: { ...env, ...mainEnv },
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
 * Re-executes this process with BROKER_GC_FLAGS when it should (see gcChoice); returns only when
 * it did not, with what was decided. Call it first thing, before any worker or socket exists.
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
 * and glibc's mmap threshold when the environment sets one (the README's "Where things live" says
 * what it trades).
 */
export function describeGcChoice(choice: KeptGcChoice, env: NodeJS.ProcessEnv = process.env): string {
  const threshold = env.MALLOC_MMAP_THRESHOLD_
  const malloc = threshold === undefined ? '' : `; MALLOC_MMAP_THRESHOLD_=${threshold}`
  const main = choice.kind === 'command-line' && choice.mainSemiSpaceMb !== undefined ? `; main thread's semi-spaces ${choice.mainSemiSpaceMb} MiB` : ''
  if (choice.kind === 'command-line') return `V8 garbage collection: ${choice.options.join(' ')}${main}${malloc}`
  return `V8 garbage collection: V8's defaults (this Node cannot re-execute itself with ${BROKER_GC_FLAGS.join(' ')}; Node 22.15 and later can, or pass it to node)`
}
