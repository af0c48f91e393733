/**
 * Leader election, as the controller decides it (main thread, pure functions: no I/O, no timers).
 *
 * Kafka's rules, which keep every acknowledged record on the leader:
 * - A leader comes from the in-sync replicas (ISR): the preferred one (the current leader, then the
 *   ISR in order) if it is live.
 * - The ISR never shrinks to empty. When its last live member dies, that member stays in the ISR
 *   and the partition waits, leaderless, for it (or another ISR member) to come back: only an
 *   in-sync replica is known to hold every record acks=all confirmed.
 * - `unclean.leader.election.enable` trades that guarantee for availability: with no live ISR
 *   member, any live replica may lead, and its log becomes the truth (records only the old ISR
 *   held are lost). Off by default, as in Kafka.
 */
import { assert } from '../common/assert.js'
import { ErrorCode } from '../common/error-codes.js'

export interface ElectionInput {
  replicas: readonly number[]
  isr: readonly number[]
  /** The leader before this election, or -1. */
  leader: number
}

export interface ElectionResult {
  /** -1 when no replica may lead now. */
  leader: number
  isr: number[]
  /** True when the leader was not in the ISR (only with unclean election enabled). */
  unclean: boolean
}

/**
 * Elects a leader among live replicas. `isLive` says which brokers can serve now. The returned ISR
 * is the stored one without dead members, except that it is never emptied.
 */
export function electLeader(input: ElectionInput, isLive: (brokerId: number) => boolean, uncleanAllowed: boolean): ElectionResult {
  assert(input.isr.length > 0, 'the ISR is never empty')
  const liveIsr = input.isr.filter(isLive)
  if (liveIsr.length > 0) {
    const leader = input.leader !== -1 && liveIsr.includes(input.leader) ? input.leader : liveIsr[0]
    return { leader, isr: liveIsr, unclean: false }
  }
  const liveReplica = input.replicas.find(isLive)
  if (uncleanAllowed && liveReplica !== undefined) return { leader: liveReplica, isr: [liveReplica], unclean: true }
  return { leader: -1, isr: [...input.isr], unclean: false }
}

/**
 * The ISR after `brokerId` died: without it, unless it was the last member, which stays (so the
 * partition is led again when that broker returns).
 */
export function isrWithout(isr: readonly number[], brokerId: number): number[] {
  const rest = isr.filter((id) => id !== brokerId)
  return rest.length > 0 ? rest : [...isr]
}

/** ElectLeaders (KIP-460): 0 moves leadership to the preferred replica, 1 elects a leader for a leaderless partition. */
export type ElectionType = 0 | 1

/** What an asked-for election does: a new leader (and ISR), or the Kafka error that says why not. */
export type AskedElection = { leader: number; isr: number[] } | { errorCode: number; errorMessage: string }

/**
 * Decides an election an admin asked for, as Kafka's controller does:
 * - preferred (0): the first assigned replica leads if it is live and in sync; ELECTION_NOT_NEEDED
 *   when it already leads, PREFERRED_LEADER_NOT_AVAILABLE otherwise;
 * - unclean (1): only a partition without a live leader gets one, from the live ISR first, else any
 *   live replica (records only the old ISR held are lost); ELECTION_NOT_NEEDED when it has a
 *   leader, ELIGIBLE_LEADERS_NOT_AVAILABLE when no replica is live.
 */
export function decideAskedElection(input: ElectionInput, isLive: (brokerId: number) => boolean, type: ElectionType): AskedElection {
  if (type === 0) {
    const preferred = input.replicas[0]
    if (input.leader === preferred) return { errorCode: ErrorCode.ELECTION_NOT_NEEDED, errorMessage: 'Leader election not needed for topic partition.' }
    if (!isLive(preferred) || !input.isr.includes(preferred)) {
      return { errorCode: ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, errorMessage: `Failed to elect leader: preferred replica ${preferred} is not live and in sync.` }
    }
    return { leader: preferred, isr: [...input.isr] }
  }
  if (input.leader !== -1 && isLive(input.leader)) return { errorCode: ErrorCode.ELECTION_NOT_NEEDED, errorMessage: 'Leader election not needed for topic partition.' }
  const result = electLeader(input, isLive, true)
  if (result.leader === -1) return { errorCode: ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE, errorMessage: 'Failed to elect leader: no replica is live.' }
  return { leader: result.leader, isr: result.isr }
}
