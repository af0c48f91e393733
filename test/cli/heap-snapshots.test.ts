import { describe, expect, it } from 'vitest'
import { heapSnapshotSettings } from '../../src/cli/heap-snapshots.js'

describe('heapSnapshotSettings', () => {
  it('is null when node was not asked for heap snapshots on a signal', () => {
    expect(heapSnapshotSettings(['--single-threaded-gc'], undefined, '/work')).toBeNull()
    expect(heapSnapshotSettings([], '--max-old-space-size=512', '/work')).toBeNull()
  })

  it('reads the signal in either form, from the command line or NODE_OPTIONS, into the working directory', () => {
    expect(heapSnapshotSettings(['--heapsnapshot-signal=SIGUSR2'], undefined, '/work')).toEqual({ signal: 'SIGUSR2', dir: '/work' })
    expect(heapSnapshotSettings(['--heapsnapshot-signal', 'SIGUSR1'], undefined, '/work')).toEqual({ signal: 'SIGUSR1', dir: '/work' })
    expect(heapSnapshotSettings([], ' --heapsnapshot_signal=SIGUSR2  ', '/work')).toEqual({ signal: 'SIGUSR2', dir: '/work' })
  })

  it('writes where node writes its own: --diagnostic-dir when given', () => {
    expect(heapSnapshotSettings(['--heapsnapshot-signal=SIGUSR2', '--diagnostic-dir=/snaps'], undefined, '/work')).toEqual({ signal: 'SIGUSR2', dir: '/snaps' })
    expect(heapSnapshotSettings(['--heapsnapshot-signal=SIGUSR2'], '--diagnostic-dir /snaps', '/work')).toEqual({ signal: 'SIGUSR2', dir: '/snaps' })
  })

  it('lets the command line win over NODE_OPTIONS, and ignores a value that is no signal name', () => {
    expect(heapSnapshotSettings(['--heapsnapshot-signal=SIGUSR1'], '--heapsnapshot-signal=SIGUSR2', '/work')).toEqual({ signal: 'SIGUSR1', dir: '/work' })
    expect(heapSnapshotSettings(['--heapsnapshot-signal=usr2'], undefined, '/work')).toBeNull()
  })
})
