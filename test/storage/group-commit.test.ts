/**
 * The shard's group commit: urgent requests (acks=all, markers, followers, waiting consumers)
 * start a round at once; lazy ones (acks=0/1 appends) wait up to LAZY_SYNC_DELAY_MS, so acks=1
 * load alone does not fdatasync after every batch.
 */
import { describe, expect, it } from 'vitest'
import { FileHandleCache } from '../../src/storage/file-handle-cache.js'
import { GroupCommit, type GroupCommitMember, LAZY_SYNC_DELAY_MS } from '../../src/storage/group-commit.js'
import { SimFileSystem } from '../../src/storage/sim-file-system.js'
import { HandTimers } from './group-commit-timers.js'

function member(): GroupCommitMember & { syncs: number } {
  const m = {
    syncs: 0,
    prepareSync: () => ({ files: [], dirs: [], onSynced: () => void m.syncs++, onFailed: () => {} }),
  }
  return m
}

async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve))
}

function commitWithHandTimers(): { commit: GroupCommit; timers: HandTimers } {
  const timers = new HandTimers()
  return { commit: new GroupCommit(new FileHandleCache({ fs: new SimFileSystem(1) }), timers), timers }
}

describe('GroupCommit', () => {
  it('starts no round for a lazy request until the lazy delay has passed', async () => {
    const { commit, timers } = commitWithHandTimers()
    const a = member()
    let synced = false
    void commit.request(a, true).then(() => (synced = true))
    await turns()
    expect(commit.stats.rounds).toBe(0)
    expect(synced).toBe(false)
    expect(timers.armed().map((d) => d.delayMs)).toEqual([LAZY_SYNC_DELAY_MS])
    timers.fireAll()
    await turns()
    expect(commit.stats.rounds).toBe(1)
    expect(synced).toBe(true)
    expect(a.syncs).toBe(1)
  })

  it('serves many lazy requests of many members in one round per delay', async () => {
    const { commit, timers } = commitWithHandTimers()
    const members = [member(), member(), member()]
    const waits: Promise<void>[] = []
    for (let i = 0; i < 10; i++) for (const m of members) waits.push(commit.request(m, true))
    await turns()
    expect(timers.armed()).toHaveLength(1)
    timers.fireAll()
    await Promise.all(waits)
    expect(commit.stats.rounds).toBe(1)
    expect(members.map((m) => m.syncs)).toEqual([1, 1, 1])
  })

  it('starts an urgent request at once, taking the lazy members waiting with it, and cancels the lazy delay', async () => {
    const { commit, timers } = commitWithHandTimers()
    const lazy = member()
    const urgent = member()
    const lazyDone = commit.request(lazy, true)
    await turns()
    expect(commit.stats.rounds).toBe(0)
    await Promise.all([commit.request(urgent), lazyDone])
    expect(commit.stats.rounds).toBe(1)
    expect([lazy.syncs, urgent.syncs]).toEqual([1, 1])
    expect(timers.armed()).toEqual([])
  })

  it('turns a member lazily waiting into an urgent one when it asks again urgently', async () => {
    const { commit } = commitWithHandTimers()
    const a = member()
    const first = commit.request(a, true)
    await turns()
    expect(commit.stats.rounds).toBe(0)
    await Promise.all([commit.request(a), first])
    expect(commit.stats.rounds).toBe(1)
    expect(a.syncs).toBe(1)
  })
})
