/**
 * The bench's Kafka producer sends as Kafka's own producer does (its Sender thread): the batches
 * ready at one moment go out together, one Produce request per leader carrying at most one batch
 * per partition, with at most `inFlightPerConnection` requests outstanding on each leader's
 * connection (max.in.flight.requests.per.connection). A second batch of a partition waits for the
 * next request, so each partition's batches leave in the order they were given. One request per
 * batch instead would cost the broker a request (parse, route, append, answer) for every 16 KiB.
 */
import { ErrorCode } from '../common/error-codes.js'
import { KafkaError } from '../common/errors.js'
import type { KafkaClient } from '../client/wire/kafka-client.js'

interface Queued {
  partition: number
  batch: Buffer
  resolve: () => void
  reject: (error: unknown) => void
}

export interface BatchSenderOptions {
  /** The wire client (only its produce is used, which routes each partition to its leader). */
  client: Pick<KafkaClient, 'produce'>
  topic: string
  acks: -1 | 0 | 1
  /** The leader of each partition, by partition index (-1: unknown; the client routes afresh). */
  leaders: readonly number[]
  inFlightPerConnection: number
}

export class BatchSender {
  readonly #options: BatchSenderOptions
  /** Waiting batches by leader, oldest first; bounded by the caller's window of unanswered sends. */
  readonly #queues = new Map<number, Queued[]>()
  readonly #inFlight = new Map<number, number>()
  #drainScheduled = false

  constructor(options: BatchSenderOptions) {
    if (!Number.isInteger(options.inFlightPerConnection) || options.inFlightPerConnection < 1) throw new RangeError(`inFlightPerConnection must be a positive integer, got ${options.inFlightPerConnection}`)
    this.#options = options
  }

  /** Resolves once the partition's leader acknowledged the batch (as acks asks). */
  send(partition: number, batch: Buffer): Promise<void> {
    const leader = this.#options.leaders[partition] ?? -1
    return new Promise<void>((resolve, reject) => {
      let queue = this.#queues.get(leader)
      if (queue === undefined) this.#queues.set(leader, (queue = []))
      queue.push({ partition, batch, resolve, reject })
      this.#scheduleDrain()
    })
  }

  /** Batches given in the same turn of the event loop share requests. */
  #scheduleDrain(): void {
    if (this.#drainScheduled) return
    this.#drainScheduled = true
    queueMicrotask(() => {
      this.#drainScheduled = false
      this.#drain()
    })
  }

  #drain(): void {
    for (const [leader, queue] of this.#queues) {
      // Bounded: each pass takes at least one batch off the queue, or stops at the in-flight limit.
      while (queue.length > 0 && (this.#inFlight.get(leader) ?? 0) < this.#options.inFlightPerConnection) {
        this.#sendOne(leader, takeOnePerPartition(queue))
      }
    }
  }

  #sendOne(leader: number, items: Queued[]): void {
    const { client, topic, acks } = this.#options
    this.#inFlight.set(leader, (this.#inFlight.get(leader) ?? 0) + 1)
    client
      .produce(
        items.map((i) => ({ topic, partition: i.partition, records: i.batch })),
        { acks },
      )
      .then(
        (results) => {
          results.forEach((result, n) => {
            if (result.errorCode === ErrorCode.NONE) items[n].resolve()
            else items[n].reject(new KafkaError(result.errorCode, `producing to ${topic}-${result.partition}: ${result.errorMessage ?? ''}`))
          })
        },
        (error: unknown) => {
          for (const item of items) item.reject(error)
        },
      )
      .finally(() => {
        this.#inFlight.set(leader, this.#inFlight.get(leader)! - 1)
        this.#drain()
      })
  }
}

/** The oldest waiting batch of each partition, taken off the queue in order; later ones stay. */
function takeOnePerPartition(queue: Queued[]): Queued[] {
  const taken: Queued[] = []
  const seen = new Set<number>()
  let kept = 0
  for (const item of queue) {
    if (seen.has(item.partition)) queue[kept++] = item
    else {
      seen.add(item.partition)
      taken.push(item)
    }
  }
  queue.length = kept
  return taken
}
