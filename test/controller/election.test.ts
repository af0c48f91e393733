import { describe, expect, it } from 'vitest'
import { electLeader, isrWithout } from '../../src/controller/election.js'

const liveOnly = (...ids: number[]) => (id: number) => ids.includes(id)

describe('leader election', () => {
  it('keeps the current leader while it is live and in sync', () => {
    expect(electLeader({ replicas: [0, 1, 2], isr: [0, 1, 2], leader: 1 }, liveOnly(0, 1, 2), false)).toEqual({ leader: 1, isr: [0, 1, 2], unclean: false })
  })

  it('elects the first live in-sync replica when the leader died, and drops dead members from the ISR', () => {
    expect(electLeader({ replicas: [0, 1, 2], isr: [0, 1, 2], leader: 0 }, liveOnly(1, 2), false)).toEqual({ leader: 1, isr: [1, 2], unclean: false })
  })

  it('leaves the partition leaderless, with its ISR intact, when no in-sync replica is live', () => {
    expect(electLeader({ replicas: [0], isr: [0], leader: 0 }, liveOnly(), false)).toEqual({ leader: -1, isr: [0], unclean: false })
    expect(electLeader({ replicas: [0, 1], isr: [0], leader: 0 }, liveOnly(1), false)).toEqual({ leader: -1, isr: [0], unclean: false })
  })

  it('elects the last in-sync replica again when it comes back', () => {
    expect(electLeader({ replicas: [0, 1], isr: [0], leader: -1 }, liveOnly(0, 1), false)).toEqual({ leader: 0, isr: [0], unclean: false })
  })

  it('lets an out-of-sync replica lead only with unclean election enabled', () => {
    expect(electLeader({ replicas: [0, 1], isr: [0], leader: 0 }, liveOnly(1), true)).toEqual({ leader: 1, isr: [1], unclean: true })
    expect(electLeader({ replicas: [0, 1], isr: [0], leader: 0 }, liveOnly(), true)).toEqual({ leader: -1, isr: [0], unclean: false })
  })

  it('never empties the ISR when its last member dies', () => {
    expect(isrWithout([0, 1], 1)).toEqual([0])
    expect(isrWithout([1], 1)).toEqual([1])
  })
})
