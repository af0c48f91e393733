/**
 * The shard's group commit: urgent requests (acks=all, markers, followers, waiting consumers)
 * start a round at once; lazy ones (acks=0/1 appends) wait up to LAZY_SYNC_DELAY_MS, so acks=1
 * load alone does not fdatasync after every batch.
 */
import { describe, expect, it } from 'vitest'
import { FileHandleCache } from '../../src/storage/file-handle-cache.js'
import { GroupCommit, type GroupCommitMember, LAZY_SYNC_DELAY_MS, ROUNDS_IN_FLIGHT_MAX } from '../../src/storage/group-commit.js'
import { SimFileSystem } from '../../src/storage/sim-file-system.js'
import { HandTimers } from './group-commit-timers.js'

function member(): GroupCommitMember & { syncs: number } {
  const m = {
    syncs: 0,
    prepareSync: () => ({ files: [], dirs: [], onSynced: () => void m.syncs++, onFailed: () => {} }),
  }
  return m
}

/** A file system whose fdatasync of a file named in `gates` waits until the test opens that gate. */
class GatedFileSystem extends SimFileSystem {
  readonly gates = new Map<string, { opened: Promise<void>; open: () => void }>()
  readonly synced: string[] = []

  gate(filePath: string): () => void {
    let open!: () => void
    const opened = new Promise<void>((resolve) => (open = resolve))
    this.gates.set(filePath, { opened, open })
    return open
  }

  override async syncPath(filePath: string, dataOnly: boolean): Promise<void> {
    await this.gates.get(filePath)?.opened
    this.synced.push(filePath)
    return super.syncPath(filePath, dataOnly)
  }
}

/** A member whose every round syncs the next file of `files` and records the rounds it saw settle. */
function fileMember(files: string[], settled: string[], name: string): GroupCommitMember {
  let round = 0
  return {
    prepareSync: () => {
      const file = files[round++]
      return { files: [file], dirs: [], onSynced: () => void settled.push(`${name}:${file}`), onFailed: () => {} }
    },
  }
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

  it('starts an urgent round beside one still syncing, so it waits for its own fdatasync alone', async () => {
    const fs = new GatedFileSystem(1)
    const commit = new GroupCommit(new FileHandleCache({ fs }), new HandTimers())
    const settled: string[] = []
    const openSlow = fs.gate('/slow.log')
    const slow = commit.request(fileMember(['/slow.log'], settled, 'slow'))
    await turns()
    // The slow partition's round is still in its fdatasync; another partition's acks=all append asks.
    await commit.request(fileMember(['/fast.log'], settled, 'fast'))
    expect(settled).toEqual(['fast:/fast.log'])
    expect(commit.stats.rounds).toBe(2)
    openSlow()
    await slow
    expect(settled).toEqual(['fast:/fast.log', 'slow:/slow.log'])
  })

  it("settles one member's rounds in the order they started, even when the later one's fdatasync ends first", async () => {
    const fs = new GatedFileSystem(1)
    const commit = new GroupCommit(new FileHandleCache({ fs }), new HandTimers())
    const settled: string[] = []
    // A segment rolled between the rounds: the first syncs the old segment, the second the new one.
    const log = fileMember(['/00.log', '/10.log'], settled, 'log')
    const openOld = fs.gate('/00.log')
    const first = commit.request(log)
    await turns()
    const second = commit.request(log)
    await turns()
    expect(fs.synced).toEqual(['/10.log'])
    // Its offsets count on the old segment's data too: nothing may settle before the first round.
    expect(settled).toEqual([])
    openOld()
    await Promise.all([first, second])
    expect(settled).toEqual(['log:/00.log', 'log:/10.log'])
  })

  it(`runs at most ${ROUNDS_IN_FLIGHT_MAX} rounds at once, gathering later requests into the next`, async () => {
    const fs = new GatedFileSystem(1)
    const commit = new GroupCommit(new FileHandleCache({ fs }), new HandTimers())
    const settled: string[] = []
    const opens = Array.from({ length: ROUNDS_IN_FLIGHT_MAX }, (_, i) => fs.gate(`/busy-${i}.log`))
    const busy: Promise<void>[] = []
    for (let i = 0; i < ROUNDS_IN_FLIGHT_MAX; i++) {
      busy.push(commit.request(fileMember([`/busy-${i}.log`], settled, `busy-${i}`)))
      await turns()
    }
    const later = [commit.request(fileMember(['/a.log'], settled, 'a')), commit.request(fileMember(['/b.log'], settled, 'b'))]
    await turns()
    expect(commit.stats.rounds).toBe(ROUNDS_IN_FLIGHT_MAX)
    opens[0]()
    await Promise.all(later)
    expect(commit.stats.rounds).toBe(ROUNDS_IN_FLIGHT_MAX + 1)
    for (const open of opens) open()
    await Promise.all(busy)
  })

  it('fdatasyncs a file the cache holds open through that fd, opening nothing on the shard, and makes it durable', async () => {
    class CountingFileSystem extends SimFileSystem {
      opens = 0
      readonly fdSyncs: number[] = []
      override openSync(filePath: string, flags: Parameters<SimFileSystem['openSync']>[1]): number {
        this.opens++
        return super.openSync(filePath, flags)
      }
      override async syncFd(fd: number, dataOnly: boolean): Promise<void> {
        this.fdSyncs.push(fd)
        return super.syncFd(fd, dataOnly)
      }
    }
    const fs = new CountingFileSystem(1)
    const files = new FileHandleCache({ fs })
    const commit = new GroupCommit(files, new HandTimers())
    const fd = files.acquire('/p.log', 'w+')
    fs.writeSync(fd, Buffer.from('acked'), 0, 5, 0)
    fs.opens = 0
    const settled: string[] = []
    await commit.request(fileMember(['/p.log'], settled, 'p'))
    expect(settled).toEqual(['p:/p.log'])
    expect(fs.fdSyncs).toEqual([fd])
    expect(fs.opens).toBe(0)
    fs.powerCut()
    expect(fs.readFile('/p.log')?.toString()).toBe('acked')
  })
})
