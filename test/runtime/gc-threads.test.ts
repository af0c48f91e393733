import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { BROKER_GC_FLAGS, BROKER_UV_THREADPOOL_SIZE, describeGcChoice, gcChoice, MAIN_SEMI_SPACE_MB, runWithBrokerGcFlags } from '../../src/runtime/gc-threads.js'

const NODE = '/usr/bin/node'
const ARGV = [NODE, '/opt/partita/dist/src/cli/main.js', 'start', '--port', '0']
const POOL = String(BROKER_UV_THREADPOOL_SIZE)
const POOL_LOG = `; libuv's thread pool: UV_THREADPOOL_SIZE=${POOL}`

describe('gcChoice', () => {
  it("re-executes with the broker's collector flags, ahead of node's own options, and libuv's pool size, when neither is set", () => {
    expect(BROKER_GC_FLAGS.length).toBeGreaterThan(0)
    expect(BROKER_UV_THREADPOOL_SIZE).toBeGreaterThan(4)
    expect(gcChoice(NODE, ['--enable-source-maps', '--cpu-prof'], ARGV, { HOME: '/root' }, true)).toEqual({
      kind: 're-exec',
      execPath: NODE,
      args: [NODE, ...BROKER_GC_FLAGS, `--max-semi-space-size=${MAIN_SEMI_SPACE_MB}`, '--enable-source-maps', '--cpu-prof', ...ARGV.slice(1)],
      env: { HOME: '/root', PARTITA_MAIN_SEMI_SPACE_MB: String(MAIN_SEMI_SPACE_MB), UV_THREADPOOL_SIZE: POOL },
    })
  })

  it("keeps an operator's UV_THREADPOOL_SIZE through the re-exec, and re-executes for the pool alone when the collector was chosen on node's command line", () => {
    const own = gcChoice(NODE, [], ARGV, { UV_THREADPOOL_SIZE: '64' }, true)
    expect(own.kind === 're-exec' && own.env.UV_THREADPOOL_SIZE).toBe('64')
    // An empty one is no choice (libuv would run one thread): ours replaces it.
    const empty = gcChoice(NODE, ['--no-single-threaded-gc'], ARGV, { UV_THREADPOOL_SIZE: '' }, true)
    expect(empty.kind === 're-exec' && empty.env.UV_THREADPOOL_SIZE).toBe(POOL)
    expect(gcChoice(NODE, ['--no-single-threaded-gc'], ARGV, {}, true)).toEqual({
      kind: 're-exec',
      execPath: NODE,
      args: [NODE, '--no-single-threaded-gc', ...ARGV.slice(1)],
      env: { UV_THREADPOOL_SIZE: POOL },
    })
    expect(describeGcChoice({ kind: 'command-line', options: ['--no-single-threaded-gc'] }, { UV_THREADPOOL_SIZE: '64' })).toBe(
      "V8 garbage collection: --no-single-threaded-gc; libuv's thread pool: UV_THREADPOOL_SIZE=64",
    )
  })

  it("leaves glibc's mmap threshold to the environment, passes an operator's through the re-exec, and logs it", () => {
    expect(gcChoice(NODE, [], ARGV, {}, true)).toMatchObject({ kind: 're-exec', env: { PARTITA_MAIN_SEMI_SPACE_MB: String(MAIN_SEMI_SPACE_MB) } })
    expect((gcChoice(NODE, [], ARGV, {}, true) as { env: NodeJS.ProcessEnv }).env.MALLOC_MMAP_THRESHOLD_).toBeUndefined()
    const choice = gcChoice(NODE, [], ARGV, { MALLOC_MMAP_THRESHOLD_: '262144' }, true)
    expect(choice.kind === 're-exec' && choice.env.MALLOC_MMAP_THRESHOLD_).toBe('262144')
    expect(describeGcChoice({ kind: 'command-line', options: [...BROKER_GC_FLAGS] }, { MALLOC_MMAP_THRESHOLD_: '65536', UV_THREADPOOL_SIZE: POOL })).toBe(
      `V8 garbage collection: ${BROKER_GC_FLAGS.join(' ')}${POOL_LOG}; MALLOC_MMAP_THRESHOLD_=65536`,
    )
    expect(describeGcChoice({ kind: 'command-line', options: [...BROKER_GC_FLAGS] }, { UV_THREADPOOL_SIZE: POOL })).toBe(`V8 garbage collection: ${BROKER_GC_FLAGS.join(' ')}${POOL_LOG}`)
  })

  it("keeps node's command line when it chose how the collector uses threads, in either spelling, and the pool's size is set, which also ends a re-exec", () => {
    for (const option of [...BROKER_GC_FLAGS, '--no-single-threaded-gc', '--single-threaded', '--concurrent-marking', '--no-parallel-scavenge', '--concurrent_sweeping', '--parallel-compaction=false', '--no-optimize-for-size', '--optimize_for_size']) {
      expect(gcChoice(NODE, ['--enable-source-maps', option], ARGV, { UV_THREADPOOL_SIZE: POOL }, true)).toEqual({ kind: 'command-line', options: [option] })
    }
  })

  it("keeps V8's defaults and libuv's, and says so with what to set, where Node cannot re-execute itself", () => {
    const choice = gcChoice(NODE, [], ARGV, {}, false)
    expect(choice).toEqual({ kind: 'defaults' })
    expect(gcChoice(NODE, ['--no-single-threaded-gc'], ARGV, {}, false)).toEqual({ kind: 'command-line', options: ['--no-single-threaded-gc'] })
    expect(describeGcChoice({ kind: 'defaults' }, {})).toMatch(
      new RegExp(`^V8 garbage collection: V8's defaults \\(.*Node 22\\.15.*\\); libuv's thread pool: 4 threads \\(set UV_THREADPOOL_SIZE=${POOL} for fsyncs side by side\\)$`),
    )
  })
})

describe('runWithBrokerGcFlags', () => {
  it("replaces the process through execve with the flags and the malloc setting, once, then releases the main thread's semi-space flag for workers", () => {
    const calls: Array<{ file: string; args: string[]; env: NodeJS.ProcessEnv }> = []
    const v8Flags: string[] = []
    const proc = {
      execPath: NODE,
      execArgv: [] as string[],
      argv: ARGV,
      env: {} as NodeJS.ProcessEnv,
      execve: (file: string, args: string[], env: NodeJS.ProcessEnv): never => {
        calls.push({ file, args, env })
        throw new Error('replaced')
      },
      setV8Flags: (flags: string) => void v8Flags.push(flags),
    }
    expect(() => runWithBrokerGcFlags(proc)).toThrow('replaced')
    const semiSpace = `--max-semi-space-size=${MAIN_SEMI_SPACE_MB}`
    expect(calls).toEqual([{ file: NODE, args: [NODE, ...BROKER_GC_FLAGS, semiSpace, ...ARGV.slice(1)], env: { PARTITA_MAIN_SEMI_SPACE_MB: String(MAIN_SEMI_SPACE_MB), UV_THREADPOOL_SIZE: POOL } }])
    // The re-executed process sees the flags on its command line and goes on, with the semi-space flag set back to 0.
    const reExecuted = { ...proc, execArgv: [...BROKER_GC_FLAGS, semiSpace], env: { ...calls[0].env } }
    const kept = runWithBrokerGcFlags(reExecuted)
    expect(kept).toEqual({ kind: 'command-line', options: [...BROKER_GC_FLAGS], mainSemiSpaceMb: MAIN_SEMI_SPACE_MB })
    expect(v8Flags).toEqual(['--max-semi-space-size=0'])
    expect(reExecuted.env.PARTITA_MAIN_SEMI_SPACE_MB).toBeUndefined()
    expect(describeGcChoice(kept, reExecuted.env)).toBe(`V8 garbage collection: ${BROKER_GC_FLAGS.join(' ')}; main thread's semi-spaces ${MAIN_SEMI_SPACE_MB} MiB${POOL_LOG}`)
    expect(calls).toHaveLength(1)
  })

  it("adds none of its V8 flags when the operator gave a semi-space size, which --optimize-for-size would override, and never releases theirs", () => {
    expect(BROKER_GC_FLAGS).toContain('--optimize-for-size')
    const choice = gcChoice(NODE, ['--max_semi_space_size=32'], ARGV, {}, true)
    expect(choice.kind === 're-exec' && choice.args).toEqual([NODE, '--max_semi_space_size=32', ...ARGV.slice(1)])
    expect(choice.kind === 're-exec' && choice.env.PARTITA_MAIN_SEMI_SPACE_MB).toBeUndefined()
    const v8Flags: string[] = []
    const kept = runWithBrokerGcFlags({ execPath: NODE, execArgv: [...BROKER_GC_FLAGS, '--max-semi-space-size=4'], argv: ARGV, env: {}, setV8Flags: (flags) => void v8Flags.push(flags) })
    expect(kept).toEqual({ kind: 'command-line', options: [...BROKER_GC_FLAGS] })
    expect(v8Flags).toEqual([])
  })

  it("lets a worker started after the release size its young generation from resourceLimits under the broker's flags, while the main thread keeps the flag's", () => {
    // V8's behaviour that the release relies on, checked in a fresh node.
    const script = `
      const { Worker } = require('node:worker_threads')
      const v8 = require('node:v8')
      const newSpaceMb = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576
      const churn = () => { let keep = []; for (let i = 0; i < 2e6; i++) { keep.push({ i }); if (keep.length > 2e5) keep = [] } }
      v8.setFlagsFromString('--max-semi-space-size=0')
      churn()
      const main = newSpaceMb()
      const body = 'const v8 = require("node:v8"); const churn = ' + churn + '; const newSpaceMb = ' + newSpaceMb + '; churn(); require("node:worker_threads").parentPort.postMessage(newSpaceMb())'
      const worker = new Worker(body, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: 48 } })
      worker.once('message', (worker) => console.log(JSON.stringify({ main, worker })))
    `
    // With the broker's flags where partita start re-executes with them (Node 22.15 and later; Node
    // 20's V8 keeps --optimize-for-size's 1 MiB semi-spaces through the release, and never gets it).
    // --optimize-for-size implies 1 MiB semi-spaces for every isolate; the release must undo that for workers too.
    const brokerFlags = typeof (process as { execve?: unknown }).execve === 'function' ? BROKER_GC_FLAGS : []
    const run = spawnSync(process.execPath, [...brokerFlags, `--max-semi-space-size=${MAIN_SEMI_SPACE_MB}`, '-e', script], { encoding: 'utf8', timeout: 30_000 })
    expect(run.status, run.stderr).toBe(0)
    const { main, worker } = JSON.parse(run.stdout) as { main: number; worker: number }
    // Two semi-spaces of the flag's size for main; a worker allowed 48 MiB grows past that.
    expect(main).toBeLessThanOrEqual(2 * MAIN_SEMI_SPACE_MB)
    expect(worker).toBeGreaterThan(2 * MAIN_SEMI_SPACE_MB)
  })
})
