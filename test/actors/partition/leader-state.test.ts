import { describe, expect, it } from 'vitest'
import { LeaderState } from '../../../src/actors/partition/leader-state.js'

describe('leader state', () => {
  it('holds the high watermark back until every ISR follower has fetched', () => {
    const leader = new LeaderState(1, [1, 2, 3], [1, 2, 3], 0)
    expect(leader.highWatermarkCandidate(10)).toBe(-1)
    leader.recordFetch(2, 10, 5, 10)
    expect(leader.highWatermarkCandidate(10)).toBe(-1)
    leader.recordFetch(3, 7, 5, 10)
    expect(leader.highWatermarkCandidate(10)).toBe(7)
  })

  it('counts a follower toward the high watermark only as far as its copy is on its disk, and never moves that back', () => {
    const leader = new LeaderState(1, [1, 2], [1, 2], 0)
    leader.recordFetch(2, 10, 5, 10, 4)
    expect(leader.highWatermarkCandidate(10)).toBe(4)
    leader.recordDurable(2, 10)
    expect(leader.highWatermarkCandidate(10)).toBe(10)
    // A late report from before the last fetch changes nothing; one past the log end is capped.
    leader.recordDurable(2, 6)
    leader.recordDurable(2, 99)
    expect(leader.follower(2)!.durableOffset).toBe(10)
    expect(leader.highWatermarkCandidate(12)).toBe(10)
  })

  it('always keeps the leader in the ISR, even when the given ISR omits it', () => {
    const leader = new LeaderState(1, [1, 2], [2], 0)
    expect(leader.isr()).toEqual([1, 2])
    expect(leader.remove(1)).toBe(false)
    expect(leader.remove(2)).toBe(true)
    expect(leader.isr()).toEqual([1])
    expect(leader.highWatermarkCandidate(4)).toBe(4)
  })

  it('marks a follower lagging only after replica.lag.time.max.ms without catching up', () => {
    const leader = new LeaderState(1, [1, 2], [1, 2], 0)
    leader.recordFetch(2, 0, 100, 5) // behind the leader's end of 5
    expect(leader.laggingFollowers(30_000, 30_000, 5)).toEqual([])
    expect(leader.laggingFollowers(30_001, 30_000, 5)).toEqual([2])
    // Catching up to the leader's end at the time of the fetch resets the window.
    leader.recordFetch(2, 5, 30_001, 5)
    expect(leader.laggingFollowers(60_000, 30_000, 6)).toEqual([])
  })

  it('counts a follower as caught up at its previous fetch when it reached the end seen then', () => {
    const leader = new LeaderState(1, [1, 2], [1, 2], 0)
    leader.recordFetch(2, 3, 1_000, 5)
    leader.recordFetch(2, 5, 20_000, 9) // reached 5, the leader's end at the 1_000 fetch
    expect(leader.follower(2)!.lastCaughtUpTimeMs).toBe(1_000)
  })

  it('lets a follower rejoin the ISR once it reaches the high watermark and the epoch start', () => {
    const leader = new LeaderState(1, [1, 2], [1], 0)
    leader.recordFetch(2, 3, 10, 8)
    expect(leader.maybeExpand(2, 5, 0)).toBe(false)
    leader.recordFetch(2, 5, 20, 8)
    expect(leader.maybeExpand(2, 5, 6)).toBe(false)
    leader.recordFetch(2, 6, 30, 8)
    expect(leader.maybeExpand(2, 5, 6)).toBe(true)
    expect(leader.isr()).toEqual([1, 2])
  })
})
