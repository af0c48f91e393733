/**
 * The actor module the shard workers load for partitions (runs on a shard worker thread): it
 * opens the replica and adapts the runtime's actor contract to the PartitionActor.
 */
import type { Actor, ActorContext } from '../runtime/actor.js'
import type { OpenPartition, PartitionEvent, PartitionRequest } from './partition-messages.js'
import { PartitionActor } from './partition-actor.js'

export async function createActor(init: unknown, context: ActorContext): Promise<Actor> {
  const open = init as OpenPartition
  const actor = await PartitionActor.open(open, {
    clock: context.clock,
    housekeepingIntervalMs: open.housekeepingIntervalMs,
    emit: (event: PartitionEvent) => context.emit(event),
    request: (shard, id, message, payload) => context.request({ shard, id }, message, payload),
  })
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
