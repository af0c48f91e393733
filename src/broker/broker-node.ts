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
import type { BrokerConfig } from '../metadata/broker-config.js'
import { CONTROLLER_ID, type ControllerReplies, type ControllerReply, type ControllerRequest } from '../metadata/controller-messages.js'
import { MetadataImage, type MetadataDelta } from '../metadata/image.js'
import { MAIN_THREAD, type Actor, type ActorContext, type Reply } from '../runtime/actor.js'
import { startServer, type Server } from '../server/server.js'
import { GroupCoordinators } from './group-coordinators.js'
import { LocalPartitions } from './local-partitions.js'
import { NodeCore } from './node-core.js'

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
  readonly #core: NodeCore
  readonly #context: ActorContext
  /** Callers waiting for the image to reach a version, in no particular order (a handful at most). */
  readonly #versionWaiters = new Set<{ version: number; resolve: () => void }>()
  #server: Server | null = null

  private constructor(init: BrokerNodeInit, context: ActorContext) {
    this.#context = context
    this.#image.apply(init.image)
    const partitions = new LocalPartitions(context)
    const warn = (message: string): void => console.warn(`[partita] broker ${init.nodeId}: ${message}`)
    this.#groups = new GroupCoordinators({ nodeId: init.nodeId, config: init.config, image: this.#image, clock: new SystemClock(), partitions, log: { warn } })
    this.#core = new NodeCore({
      nodeId: init.nodeId,
      config: init.config,
      image: this.#image,
      partitions,
      groups: this.#groups,
      askController: (request, timeoutMs) => this.#askController(request, timeoutMs),
    })
    this.#groups.onImage()
  }

  static async start(init: BrokerNodeInit, context: ActorContext): Promise<BrokerNode> {
    const node = new BrokerNode(init, context)
    node.#server = await startServer({ core: node.#core, host: init.config.host, port: init.port, socketRequestMaxBytes: init.config.socketRequestMaxBytes })
    return node
  }

  receive(message: BrokerNodeMessage, reply: Reply): void {
    switch (message.op) {
      case 'metadata':
        this.#image.apply(message.delta)
        this.#groups.onImage()
        for (const waiter of this.#versionWaiters) {
          if (this.#image.version < waiter.version) continue
          this.#versionWaiters.delete(waiter)
          waiter.resolve()
        }
        return
      case 'listening':
        assert(this.#server !== null, 'the listener is bound before the node answers')
        reply.ok({ port: this.#server.port })
        return
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
    this.#groups.close()
    await this.#server?.close()
  }
}
