/**
 * A broker node: the actor module the controller spawns once on every shard (runs on that
 * shard's thread; one shard is one broker). It owns the broker's Kafka listener, so a
 * connection is accepted, framed, decoded, handled and answered on this thread; its metadata
 * image, which the controller keeps current with deltas; and the group coordinators of the
 * __consumer_offsets partitions it leads. The partition replicas it hosts are sibling actors on
 * the same shard, called directly.
 */
import { SystemClock } from '../common/clock.js'
import { assert } from '../common/assert.js'
import { emittingLogger, type Logger } from '../common/logger.js'
import { ErrorCode } from '../common/error-codes.js'
import { decompress } from '../records/compression.js'
import { decodeRecords, iterateBatches } from '../records/record-batch.js'
import type { BrokerConfig } from '../metadata/broker-config.js'
import { CONTROLLER_ID, type ControllerReplies, type ControllerReply, type ControllerRequest } from '../metadata/controller-messages.js'
import { MetadataImage, type MetadataDelta } from '../metadata/image.js'
import { MAIN_THREAD, type Actor, type ActorContext, type Reply } from '../runtime/actor.js'
import { startServer, type Server } from '../server/server.js'
import { GroupCoordinators } from './group-coordinators.js'
import { TxnCoordinators, type TxnVerifyRequest } from './txn-coordinators.js'
import type { TxnMarkerEntry, TxnMarkerResult } from '../server/core.js'
import { LocalPartitions } from './local-partitions.js'
import { NodeCore } from './node-core.js'
import { NodeMetrics, type NodeMetricsSnapshot, type NodeTraffic, type ReplicaSnapshot } from './node-metrics.js'

/** The actor id of the broker node on every shard. */
export const BROKER_NODE_ID = 'broker'

export interface BrokerNodeInit {
  nodeId: number
  config: BrokerConfig
  /** The port to listen on: 0 on a first start with ephemeral ports, the same port on a restart. */
  port: number
  /** The whole current image. */
  image: MetadataDelta
}

export type BrokerNodeMessage =
  /** A change to the metadata image (a tell). */
  | { op: 'metadata'; delta: MetadataDelta }
  /** Reply: { port }, the port the listener is bound to. */
  | { op: 'listening' }
  /** Reply: {} once the listener reads its connections (held, unread, since the node started). */
  | { op: 'serve' }
  /** Reply: {} once the listener takes no connection and every connection is dropped (shutdown's first step). */
  | { op: 'stopListening' }
  /** Reply: NodeMetricsSnapshot (counters, the replicas hosted here, the groups coordinated here). */
  | { op: 'metrics' }
  /** Reply: NodeTraffic, the per-topic counters alone (cheap: no replica is asked), for the console's rates. */
  | { op: 'traffic' }
  /** Reply: { timestampsMs }, the timestamp of the record at each offset (-1 if none), for lag in seconds. */
  | { op: 'recordTimestamps'; at: Array<{ topic: string; partition: number; offset: number }> }
  /** A transaction coordinator on another broker ends transactions here (WriteTxnMarkers). Reply: { results }. */
  | { op: 'writeTxnMarkers'; markers: TxnMarkerEntry[] }
  /** A partition leader or group coordinator on another broker verifies a transactional write (KIP-890). Reply: { errorCode }. */
  | { op: 'verifyTxn'; request: TxnVerifyRequest }

/** Offsets one recordTimestamps request may ask about: each is one local read. */
export const RECORD_TIMESTAMPS_MAX = 10_000
/** Enough to return the first batch at an offset: a fetch returns at least one whole batch (KIP-74). */
const TIMESTAMP_READ_BYTES = 1

export async function createActor(init: unknown, context: ActorContext): Promise<Actor> {
  const node = await BrokerNode.start(init as BrokerNodeInit, context)
  return {
    receive: (message, _payload, reply) => node.receive(message as BrokerNodeMessage, reply),
    stop: () => node.stop(),
  }
}

class BrokerNode {
  readonly #image = new MetadataImage()
  readonly #groups: GroupCoordinators
  readonly #txns: TxnCoordinators
  readonly #core: NodeCore
  readonly #context: ActorContext
  readonly #nodeId: number
  readonly #partitions: LocalPartitions
  readonly #metrics = new NodeMetrics()
  /** Callers waiting for the image to reach a version, in no particular order (a handful at most). */
  readonly #versionWaiters = new Set<{ version: number; resolve: () => void }>()
  #server: Server | null = null
  /** Goes to the main thread, which logs it as this broker's. */
  readonly #log: Logger

  private constructor(init: BrokerNodeInit, context: ActorContext) {
    this.#context = context
    this.#nodeId = init.nodeId
    this.#image.apply(init.image)
    const partitions = new LocalPartitions(context)
    this.#partitions = partitions
    this.#log = emittingLogger((event) => context.emit(event))
    this.#groups = new GroupCoordinators({ nodeId: init.nodeId, config: init.config, image: this.#image, clock: new SystemClock(), partitions, log: this.#log })
    this.#txns = new TxnCoordinators({
      nodeId: init.nodeId,
      config: init.config,
      image: this.#image,
      clock: new SystemClock(),
      partitions,
      log: this.#log,
      allocateProducerId: async () => (await this.#askController({ op: 'initProducerId', transactionalId: null, producerId: -1, producerEpoch: -1, transactionTimeoutMs: -1 })).producerId,
      sendMarkers: (brokerId, markers) => this.#sendMarkers(brokerId, markers),
      verifyAt: async (brokerId, request) => {
        // Explicitly cross-shard: the coordinator of this transactional id is that broker's.
        const reply = await this.#context.request<{ errorCode: number }>({ shard: brokerId, id: BROKER_NODE_ID }, { op: 'verifyTxn', request } satisfies BrokerNodeMessage)
        return reply.message.errorCode
      },
    })
    this.#core = new NodeCore({
      nodeId: init.nodeId,
      config: init.config,
      image: this.#image,
      partitions,
      groups: this.#groups,
      txns: this.#txns,
      metrics: this.#metrics,
      askController: (request, timeoutMs) => this.#askController(request, timeoutMs),
    })
    this.#groups.onImage()
    this.#txns.onImage()
  }

  /**
   * Markers for partitions led by `brokerId`: this node's own core, or that broker's node actor on
   * its shard (one shard is one broker), as Kafka's coordinator sends WriteTxnMarkers to leaders.
   */
  async #sendMarkers(brokerId: number, markers: TxnMarkerEntry[]): Promise<TxnMarkerResult[]> {
    if (brokerId === this.#nodeId) return this.#core.writeTxnMarkers(markers)
    const reply = await this.#context.request<{ results: TxnMarkerResult[] }>({ shard: brokerId, id: BROKER_NODE_ID }, { op: 'writeTxnMarkers', markers } satisfies BrokerNodeMessage)
    return reply.message.results
  }

  static async start(init: BrokerNodeInit, context: ActorContext): Promise<BrokerNode> {
    const node = new BrokerNode(init, context)
    node.#server = await startServer({
      core: node.#core,
      host: init.config.host,
      port: init.port,
      socketRequestMaxBytes: init.config.socketRequestMaxBytes,
      maxConnections: init.config.maxConnections,
      maxConnectionsPerIp: init.config.maxConnectionsPerIp,
      maxConnectionsPerIpOverrides: init.config.maxConnectionsPerIpOverrides,
      connectionsMaxIdleMs: init.config.connectionsMaxIdleMs,
      // Bound now (the endpoint is advertised), read once the controller says the partitions
      // this node leads are elected: see 'serve'.
      serving: false,
      logger: node.#log,
      onRequestDone: (apiKey, durationMs) => node.#metrics.requestDone(apiKey, durationMs),
    })
    return node
  }

  receive(message: BrokerNodeMessage, reply: Reply): void {
    switch (message.op) {
      case 'metadata': {
        const removedTopics = this.#image.apply(message.delta)
        this.#groups.onImage(removedTopics)
        this.#metrics.forgetTopics(removedTopics)
        this.#txns.onImage()
        for (const waiter of this.#versionWaiters) {
          if (this.#image.version < waiter.version) continue
          this.#versionWaiters.delete(waiter)
          waiter.resolve()
        }
        return
      }
      case 'listening':
        assert(this.#server !== null, 'the listener is bound before the node answers')
        reply.ok({ port: this.#server.port })
        return
      case 'serve':
        assert(this.#server !== null, 'the listener is bound before the node is told to serve')
        this.#server.serve()
        reply.ok({})
        return
      case 'stopListening':
        this.#server?.stopAccepting()
        reply.ok({})
        return
      case 'metrics':
        this.#snapshot().then(
          (snapshot) => reply.ok(snapshot),
          (error: unknown) => reply.fail(error),
        )
        return
      case 'traffic':
        reply.ok({ nodeId: this.#nodeId, topics: this.#metrics.traffic(new Set(this.#image.topics.keys())) } satisfies NodeTraffic)
        return
      case 'writeTxnMarkers':
        this.#core.writeTxnMarkers(message.markers).then(
          (results) => reply.ok({ results }),
          (error: unknown) => reply.fail(error),
        )
        return
      case 'verifyTxn':
        reply.ok({ errorCode: this.#txns.verify(message.request) })
        return
      case 'recordTimestamps':
        assert(message.at.length <= RECORD_TIMESTAMPS_MAX, `at most ${RECORD_TIMESTAMPS_MAX} offsets per recordTimestamps request`)
        Promise.all(message.at.map((at) => this.#recordTimestamp(at.topic, at.partition, at.offset))).then(
          (timestampsMs) => reply.ok({ timestampsMs }),
          (error: unknown) => reply.fail(error),
        )
        return
    }
  }

  async #snapshot(): Promise<NodeMetricsSnapshot> {
    const hosted: Array<{ topic: string; partition: number }> = []
    for (const topic of this.#image.topics.values()) {
      for (const p of topic.partitions) if (p.replicas.includes(this.#nodeId)) hosted.push({ topic: topic.name, partition: p.partition })
    }
    // A replica that is closing or not yet open is left out of this scrape, not an error.
    const replicas = await Promise.all(
      hosted.map(async ({ topic, partition }): Promise<ReplicaSnapshot | null> => {
        try {
          const stats = (await this.#partitions.request(topic, partition, { op: 'stats' })).message
          const { role, leaderEpoch, logStartOffset, logEndOffset, highWatermark, sizeBytes } = stats
          return { topic, partition, role, leaderEpoch, logStartOffset, logEndOffset, highWatermark, sizeBytes }
        } catch {
          return null
        }
      }),
    )
    return {
      nodeId: this.#nodeId,
      ...this.#metrics.counters(new Set(this.#image.topics.keys())),
      replicas: replicas.filter((r): r is ReplicaSnapshot => r !== null),
      groups: this.#groups.snapshot(),
    }
  }

  /** The timestamp of the first record at or after `offset` in the local leader's log, or -1. */
  async #recordTimestamp(topic: string, partition: number, offset: number): Promise<number> {
    try {
      const request = { op: 'fetch', fetchId: -1, replicaId: -1, fetchOffset: offset, maxBytes: TIMESTAMP_READ_BYTES, maxWaitMs: 0, minBytes: 0, currentLeaderEpoch: -1 } as const
      const reply = await this.#partitions.request(topic, partition, request)
      const bytes = reply.payload
      if (reply.message.errorCode !== ErrorCode.NONE || bytes === undefined) return -1
      for (const { pos, size } of iterateBatches(bytes)) {
        for (const record of decodeRecords(bytes.subarray(pos, pos + size), 0, decompress)) if (record.offset >= offset) return record.timestampMs
      }
      return -1
    } catch {
      return -1
    }
  }

  async #askController<K extends ControllerRequest['op']>(request: Extract<ControllerRequest, { op: K }>, timeoutMs?: number): Promise<ControllerReplies[K]> {
    const options = timeoutMs === undefined ? undefined : { timeoutMs }
    const reply = await this.#context.request<ControllerReply<ControllerReplies[K]>>({ shard: MAIN_THREAD, id: CONTROLLER_ID }, request, undefined, options)
    await this.#imageAt(reply.message.imageVersion)
    return reply.message.result
  }

  /** Resolves once the image holds version `version` (the controller sends it before its answer). */
  #imageAt(version: number): Promise<void> {
    if (this.#image.version >= version) return Promise.resolve()
    return new Promise((resolve) => this.#versionWaiters.add({ version, resolve }))
  }

  async stop(): Promise<void> {
    this.#metrics.close()
    this.#groups.close()
    this.#txns.close()
    await this.#server?.close()
  }
}
