import { describe, expect, it } from 'vitest'
import { BROKER_GC_FLAGS, BROKER_MALLOC_ENV, describeGcChoice, gcChoice, runWithBrokerGcFlags } from '../../src/runtime/gc-threads.js'

const NODE = '/usr/bin/node'
const ARGV = [NODE, '/opt/partita/dist/src/cli/main.js', 'start', '--port', '0']

describe('gcChoice', () => {
  it("re-executes with the broker's collector flags, ahead of node's own options, when node's command line says nothing of the collector", () => {
    expect(BROKER_GC_FLAGS.length).toBeGreaterThan(0)
    expect(gcChoice(NODE, ['--enable-source-maps', '--cpu-prof'], ARGV, { HOME: '/root' }, true)).toEqual({
      kind: 're-exec',
      execPath: NODE,
      args: [NODE, ...BROKER_GC_FLAGS, '--enable-source-maps', '--cpu-prof', ...ARGV.slice(1)],
      env: { HOME: '/root', MALLOC_MMAP_THRESHOLD_: '65536' },
    })
  })

  it("re-executes with glibc's fixed mmap threshold, unless the operator set one, and logs the one in force", () => {
    expect(BROKER_MALLOC_ENV).toEqual({ MALLOC_MMAP_THRESHOLD_: '65536' })
    const choice = gcChoice(NODE, [], ARGV, { MALLOC_MMAP_THRESHOLD_: '262144' }, true)
    expect(choice.kind === 're-exec' && choice.env).toEqual({ MALLOC_MMAP_THRESHOLD_: '262144' })
    expect(describeGcChoice({ kind: 'command-line', options: [...BROKER_GC_FLAGS] }, { MALLOC_MMAP_THRESHOLD_: '65536' })).toBe(
      `V8 garbage collection: ${BROKER_GC_FLAGS.join(' ')}; MALLOC_MMAP_THRESHOLD_=65536`,
    )
    expect(describeGcChoice({ kind: 'command-line', options: [...BROKER_GC_FLAGS] }, {})).toBe(`V8 garbage collection: ${BROKER_GC_FLAGS.join(' ')}`)
  })

  it("keeps node's command line when it chose how the collector uses threads, in either spelling, which also ends a re-exec", () => {
    for (const option of [...BROKER_GC_FLAGS, '--no-single-threaded-gc', '--single-threaded', '--concurrent-marking', '--no-parallel-scavenge', '--concurrent_sweeping', '--parallel-compaction=false']) {
      expect(gcChoice(NODE, ['--enable-source-maps', option], ARGV, {}, true)).toEqual({ kind: 'command-line', options: [option] })
    }
  })

  it("keeps V8's defaults, and says so, where Node cannot re-execute itself", () => {
    const choice = gcChoice(NODE, [], ARGV, {}, false)
    expect(choice).toEqual({ kind: 'defaults' })
    expect(describeGcChoice({ kind: 'defaults' })).toMatch(/^V8 garbage collection: V8's defaults \(.*Node 22\.15/)
  })
})

describe('runWithBrokerGcFlags', () => {
  it('replaces the process through execve with the flags and the malloc setting, once', () => {
    const calls: Array<{ file: string; args: string[]; env: NodeJS.ProcessEnv }> = []
    const proc = {
      execPath: NODE,
      execArgv: [] as string[],
      argv: ARGV,
      env: {},
      execve: (file: string, args: string[], env: NodeJS.ProcessEnv): never => {
        calls.push({ file, args, env })
        throw new Error('replaced')
      },
    }
    expect(() => runWithBrokerGcFlags(proc)).toThrow('replaced')
    expect(calls).toEqual([{ file: NODE, args: [NODE, ...BROKER_GC_FLAGS, ...ARGV.slice(1)], env: { ...BROKER_MALLOC_ENV } }])
    // The re-executed process sees the flags on its command line and goes on.
    expect(runWithBrokerGcFlags({ ...proc, execArgv: [...BROKER_GC_FLAGS], argv: ARGV })).toEqual({ kind: 'command-line', options: [...BROKER_GC_FLAGS] })
    expect(calls).toHaveLength(1)
  })
})
