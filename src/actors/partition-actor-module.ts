/**
 * The actor module the shard workers load for partitions (runs on a shard worker thread): it
 * opens the replica and adapts the runtime's actor contract to the PartitionActor.
 */
import { getHeapStatistics } from 'node:v8'
import { PartitaError } from '../common/errors.js'
import { emittingLogger } from '../common/logger.js'
import type { Actor, ActorContext } from '../runtime/actor.js'
import type { OpenPartition, PartitionEvent, PartitionRequest } from './partition-messages.js'
import { PartitionActor } from './partition-actor.js'

export async function createActor(init: unknown, context: ActorContext): Promise<Actor> {
  const open = init as OpenPartition
  checkHeapRoom(open)
  let actor: PartitionActor
  try {
    actor = await PartitionActor.open(open, {
      clock: context.clock,
      log: emittingLogger((event) => context.emit(event)),
      housekeepingIntervalMs: open.housekeepingIntervalMs,
      emit: (event: PartitionEvent) => context.emit(event),
      request: (shard, id, message, payload, options) => context.request({ shard, id }, message, payload, options),
      tell: (shard, id, message) => context.send({ shard, id }, message),
      crashOnInvariantViolation: (error) => context.crashOnInvariantViolation(error),
    })
  } catch (error) {
    throw asResourceLimit(error) ?? error
  }
  return {
    receive: (message, payload, reply) =>
      actor.handle(
        message as PartitionRequest,
        payload,
        (answer, bytes) => void reply.ok(answer, bytes),
        (error) => void reply.fail(error),
      ),
    stop: () => actor.close(false),
  }
}

/**
 * Past this share of the shard's heap limit no new partition is opened: the shard would run out
 * of memory serving the ones it has. The request that asked is refused instead.
 */
const HEAP_USED_SHARE_MAX = 0.85

function checkHeapRoom(open: OpenPartition): void {
  const heap = getHeapStatistics()
  if (heap.used_heap_size <= heap.heap_size_limit * HEAP_USED_SHARE_MAX) return
  const mb = (bytes: number): number => Math.round(bytes / 1024 / 1024)
  throw new PartitaError(
    'PARTITA_RESOURCE_LIMIT',
    `memory limit: shard heap holds ${mb(heap.used_heap_size)} of ${mb(heap.heap_size_limit)} MB; not opening ${open.topic}-${open.partition}`,
  )
}

/** Running out of file descriptors, disk space or memory is a limit the request hit, not a broken log. */
function asResourceLimit(error: unknown): PartitaError | null {
  const message = error instanceof Error ? error.message : String(error)
  const limit = /\b(EMFILE|ENFILE|ENOSPC|ENOMEM)\b/.exec(message)
  if (limit === null) return null
  const what = { EMFILE: 'open files limit', ENFILE: 'system open files limit', ENOSPC: 'disk full', ENOMEM: 'out of memory' }[limit[1]]
  return new PartitaError('PARTITA_RESOURCE_LIMIT', `${what} (${limit[1]}): ${message}`)
}
