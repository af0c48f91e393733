/**
 * Partition reassignment (KIP-455), as the controller decides it (main thread, pure functions: no
 * I/O). Kafka's steps, which never leave a partition with fewer copies than it had:
 * - Start: the replicas become the target followed by the original replicas the target drops
 *   (the union); the added ones open as followers and catch up.
 * - Completion: once every target replica is in the ISR, the replicas become the target, the
 *   removed ones leave the ISR, and a leader outside the target hands over to the first live
 *   in-sync target replica.
 * - Cancellation (a null replica list): back to the original replicas; the added ones go.
 * A new target while one runs replaces it, measured from the original replicas.
 */
import { assert } from '../common/assert.js'
import { ErrorCode } from '../common/error-codes.js'
import { KafkaError } from '../common/errors.js'
import type { PartitionState } from '../metadata/image.js'

/** A partition's replica sets after a reassignment step; the caller stores and announces them. */
export interface ReplicaChange {
  replicas: number[]
  isr: number[]
  addingReplicas?: number[]
  removingReplicas?: number[]
  /** Brokers whose replica is new and must be opened. */
  open: number[]
  /** Brokers whose replica leaves and is closed with its data deleted. */
  close: number[]
  /** True when the ISR had to be made up of out-of-sync replicas (a cancellation with none in sync). */
  unclean: boolean
}

export function isReassigning(state: PartitionState): boolean {
  return state.addingReplicas !== undefined || state.removingReplicas !== undefined
}

/** The replicas before the running reassignment (the current ones when none runs). */
export function originalReplicas(state: PartitionState): number[] {
  const adding = state.addingReplicas ?? []
  return state.replicas.filter((id) => !adding.includes(id))
}

/** The replicas the running reassignment moves to (the current ones when none runs). */
export function targetReplicas(state: PartitionState): number[] {
  const removing = state.removingReplicas ?? []
  return state.replicas.filter((id) => !removing.includes(id))
}

/** Starts (or replaces) a reassignment to `target`, an already checked replica list. */
export function startReassignment(state: PartitionState, target: readonly number[]): ReplicaChange {
  const original = originalReplicas(state)
  const adding = target.filter((id) => !original.includes(id))
  const removing = original.filter((id) => !target.includes(id))
  const replicas = [...target, ...removing]
  const isr = state.isr.filter((id) => replicas.includes(id))
  // Replicas an earlier reassignment was adding that this target drops.
  const close = state.replicas.filter((id) => !replicas.includes(id))
  const open = adding.filter((id) => !state.replicas.includes(id))
  // Only a replacement can drop every in-sync replica (the originals died after an added one caught up).
  if (isr.length === 0) throw new KafkaError(ErrorCode.REASSIGNMENT_IN_PROGRESS, `A new target for ${state.partition} would leave it no in-sync replica; cancel the running reassignment first.`)
  return { replicas, isr, open, close, unclean: false, ...reassigning(adding, removing) }
}

function reassigning(adding: number[], removing: number[]): Pick<ReplicaChange, 'addingReplicas' | 'removingReplicas'> {
  return adding.length === 0 && removing.length === 0 ? {} : { addingReplicas: adding, removingReplicas: removing }
}

/** Whether the running reassignment can complete: every target replica is in sync. */
export function canComplete(state: PartitionState): boolean {
  return isReassigning(state) && targetReplicas(state).every((id) => state.isr.includes(id))
}

/** Completes a reassignment whose target replicas are all in the ISR (see canComplete). */
export function completeReassignment(state: PartitionState): ReplicaChange {
  assert(canComplete(state), 'a reassignment completes only once its target is in sync')
  const target = targetReplicas(state)
  return { replicas: target, isr: target.filter((id) => state.isr.includes(id)), open: [], close: state.removingReplicas ?? [], unclean: false }
}

/**
 * Cancels the running reassignment: the original replicas again. If none of them is in sync (the
 * originals all died after the added ones caught up), the ISR becomes the originals, as Kafka's
 * revert does, and the step is unclean.
 */
export function cancelReassignment(state: PartitionState): ReplicaChange {
  assert(isReassigning(state), 'only a running reassignment is cancelled')
  const original = originalReplicas(state)
  const isr = state.isr.filter((id) => original.includes(id))
  const close = state.addingReplicas ?? []
  if (isr.length === 0) return { replicas: original, isr: [...original], open: [], close, unclean: true }
  return { replicas: original, isr, open: [], close, unclean: false }
}

/**
 * The leader after a step: the current one if it stays a replica, is live and in sync; otherwise
 * the first live in-sync replica in the new order (the target's first, preferably); -1 if none.
 */
export function leaderAfter(state: PartitionState, change: ReplicaChange, isLive: (brokerId: number) => boolean): number {
  const eligible = (id: number): boolean => isLive(id) && change.isr.includes(id)
  if (state.leader !== -1 && change.replicas.includes(state.leader) && eligible(state.leader)) return state.leader
  return change.replicas.find(eligible) ?? -1
}
