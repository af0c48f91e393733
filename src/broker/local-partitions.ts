/**
 * A broker node's calls into the partition replicas on its own shard (runs on that shard's
 * thread). These are the hot path of Produce, Fetch and ListOffsets: a call goes straight into
 * the replica's mailbox on this thread, with no ring, no encoding and no timer. A partition with
 * no replica here answers NOT_LEADER_OR_FOLLOWER, as Kafka does for a request sent to the wrong
 * broker; clients then refresh their metadata.
 */
import { ErrorCode } from '../common/error-codes.js'
import { KafkaError } from '../common/errors.js'
import { partitionActorId, type PartitionReplies, type PartitionRequest } from '../actors/partition-messages.js'
import type { ActorContext } from '../runtime/actor.js'

export interface LocalReply<T> {
  message: T
  payload?: Buffer
}

/** How a broker node reaches the partition replicas it hosts. */
export interface PartitionAccess {
  /** Asks the replica; rejects with a KafkaError the caller can answer (NOT_LEADER_OR_FOLLOWER when there is none). */
  request<M extends PartitionRequest>(topic: string, partition: number, message: M, payload?: Buffer): Promise<LocalReply<PartitionReplies[M['op']]>>
  /** Fire-and-forget (cancelling a parked fetch). */
  tell(topic: string, partition: number, message: PartitionRequest): void
}

export class LocalPartitions implements PartitionAccess {
  readonly #context: ActorContext

  constructor(context: ActorContext) {
    this.#context = context
  }

  /** Asks this shard's replica of the partition; rejects with a KafkaError the caller can answer. */
  request<M extends PartitionRequest>(topic: string, partition: number, message: M, payload?: Buffer): Promise<LocalReply<PartitionReplies[M['op']]>> {
    // A rejection handler rather than an async wrapper: this runs once per partition of every
    // produce and fetch, and the wrapper cost a promise and a resume more.
    let asked: Promise<LocalReply<PartitionReplies[M['op']]>>
    try {
      asked = this.#context.request<PartitionReplies[M['op']]>({ shard: this.#context.address.shard, id: partitionActorId(topic, partition) }, message, payload)
    } catch (error) {
      return Promise.reject(asKafkaError(error, topic, partition))
    }
    return asked.then(undefined, (error: unknown) => {
      throw asKafkaError(error, topic, partition)
    })
  }

  /** Fire-and-forget to this shard's replica (cancelling a parked fetch). */
  tell(topic: string, partition: number, message: PartitionRequest): void {
    this.#context.send({ shard: this.#context.address.shard, id: partitionActorId(topic, partition) }, message)
  }
}

/** A missing or stopped replica is NOT_LEADER_OR_FOLLOWER; a Kafka error keeps its code. */
function asKafkaError(error: unknown, topic: string, partition: number): KafkaError {
  if (typeof error === 'object' && error !== null) {
    const { errorCode, code, message } = error as { errorCode?: number; code?: string; message?: string }
    if (typeof errorCode === 'number') return new KafkaError(errorCode, message)
    if (code === 'PARTITA_NO_SUCH_ACTOR') return new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `This broker hosts no replica of ${topic}-${partition}`)
    if (code === 'PARTITA_MAILBOX_FULL') return new KafkaError(ErrorCode.REQUEST_TIMED_OUT, message)
  }
  return new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, error instanceof Error ? error.message : String(error))
}
