/**
 * `startBroker`: the whole broker in this process, and the composition root of its layers. The
 * main thread runs the controller (metadata, admin decisions, elections, restarts) and carries no
 * record; each broker is one shard worker with its own Kafka listener, partition replicas and
 * group coordinators. The embedded producer, consumer and admin talk to the brokers over their
 * listeners, like every other Kafka client.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { PARTITION_ACTOR_KIND } from './actors/partition-messages.js'
import { startAdminServer, type AdminServer } from './admin/admin-server.js'
import type { ConsoleBackend, ConsoleMode } from './admin/console/api.js'
import { BROKER_NODE_ID, type BrokerNodeInit, type BrokerNodeMessage } from './broker/broker-node.js'
import { Admin } from './client/admin.js'
import { Consumer, ConsumerEvents, type ConsumerOptions } from './client/consumer.js'
import { Producer, type ProducerOptions } from './client/producer.js'
import { WireCluster } from './client/wire-cluster.js'
import { KafkaClient } from './client/wire/kafka-client.js'
import { SystemClock, type Clock } from './common/clock.js'
import { PartitaError } from './common/errors.js'
import { childLogger, createLogger, logAt, type Logger } from './common/logger.js'
import { startActorHost, type RuntimeActorHost } from './controller/actor-host.js'
import { Controller } from './controller/controller.js'
import { ImagePublisher } from './controller/image-publisher.js'
import { MetadataStore } from './controller/metadata-store.js'
import { Supervisor, type RecoveryReport } from './controller/supervisor.js'
import { resolveBrokerConfig, type BrokerConfig, type BrokerOptions } from './metadata/broker-config.js'
import { CONTROLLER_ID, type ControllerRequest } from './metadata/controller-messages.js'
import type { BrokerEndpoint } from './metadata/image.js'
import type { KafkaOperations } from './metadata/operations.js'
import { compiledUrl } from './runtime/compiled-url.js'
import { lockDataDir, type DataDirLock } from './storage/data-dir-lock.js'

/** The actor kind of the broker node every shard runs. */
const BROKER_NODE_KIND = 'broker-node'

/** The admin HTTP port `partita start` uses unless told otherwise (Redpanda's). */
export const ADMIN_PORT_DEFAULT = 9644

/** startBroker's options: the broker's, the admin port's among them. */
export type StartBrokerOptions = BrokerOptions

export interface Broker extends AsyncDisposable {
  /** Every broker's `host:port`, comma-separated: what Kafka clients bootstrap from. */
  readonly bootstrapServers: string
  /** Broker 0's listening port. */
  readonly port: number
  /** Each broker's listening port, by broker id. */
  readonly ports: readonly number[]
  readonly config: BrokerConfig
  /** Kafka's operations on this cluster over the wire, each sent to the broker that answers it. */
  readonly cluster: KafkaOperations
  readonly admin: Admin
  /** A kafkajs-shaped producer that talks to the brokers over their listeners. */
  producer(options?: ProducerOptions): Producer
  /** A kafkajs-shaped group consumer that talks to the brokers over their listeners. */
  consumer(options: ConsumerOptions): Consumer
  readonly faults: {
    /** Kills one broker's worker: its listener, connections and replicas go; the controller fails over and restarts it. */
    killBroker(brokerId: number): void
    /** Resolves when the broker next comes back serving all its partitions, with how long it took. */
    recovered(brokerId: number): Promise<RecoveryReport>
  }
  /** Where the admin HTTP port listens, or null when it is off. */
  readonly adminAddress: { host: string; port: number; url: string } | null
  /** The OS thread ids of the main thread and of each broker's shard, for per-thread CPU figures. */
  threadIds(): { main: number; shards: number[] }
  /** Writes a V8 heap snapshot of each broker's shard into `dir` (for memory investigations); returns the files. */
  writeHeapSnapshots(dir: string): Promise<string[]>
  close(): Promise<void>
}

/** Warnings and errors to stderr, for brokers started without a logger: one for the process. */
let defaultLogger: Logger | undefined

export async function startBroker(options: StartBrokerOptions = {}): Promise<Broker> {
  const ownsDataDir = options.dataDir === undefined
  const dataDir = ownsDataDir ? mkdtempSync(join(tmpdir(), 'partita-')) : resolve(options.dataDir!)
  const config = resolveBrokerConfig({ port: 0, ...options }, dataDir)
  const clock = options.clock ?? new SystemClock()
  const logger = options.logger ?? (defaultLogger ??= createLogger({ level: 'warn' }))
  const lock = lockDataDir(dataDir)
  try {
    const admin =
      options.adminPort === undefined || options.adminPort === null
        ? null
        : { host: options.adminHost ?? '127.0.0.1', port: options.adminPort, console: options.adminConsole ?? 'read-write', consoleSampleMs: options.adminConsoleSampleMs }
    return await startLocked(config, clock, logger, ownsDataDir, lock, admin)
  } catch (error) {
    lock.release()
    throw error
  }
}

/** Where clients are told to find broker `id` listening on `port`. */
export function advertisedEndpoint(config: BrokerConfig, id: number, port: number): BrokerEndpoint {
  const explicit = config.advertisedListeners[id]
  if (explicit !== undefined) {
    const at = explicit.lastIndexOf(':')
    return { nodeId: id, host: explicit.slice(0, at), port: Number(explicit.slice(at + 1)), rack: null }
  }
  return { nodeId: id, host: config.advertisedHost, port: config.advertisedPort === null ? port : config.advertisedPort + id, rack: null }
}

async function startLocked(
  config: BrokerConfig,
  clock: Clock,
  logger: Logger,
  ownsDataDir: boolean,
  lock: DataDirLock,
  adminAt: { host: string; port: number; console: ConsoleMode; consoleSampleMs?: number } | null,
): Promise<Broker> {
  const store = MetadataStore.open(join(config.dataDir, 'meta'))
  let supervisor: Supervisor | undefined
  let controller: Controller | undefined
  let host: RuntimeActorHost | undefined
  const publisher = new ImagePublisher(
    {
      clusterId: store.clusterId,
      topic: (name) => store.topic(name),
      send: (nodeId, delta) => host?.tell(nodeId, BROKER_NODE_ID, { op: 'metadata', delta } satisfies BrokerNodeMessage),
      liveNodes: () => supervisor?.liveBrokerIds() ?? [],
    },
    Array.from({ length: config.brokers }, (_, id) => advertisedEndpoint(config, id, 0)),
  )
  store.onChange((changes) => {
    for (const { topic, partitions } of changes) publisher.topicChanged(topic, partitions)
  })
  // A failure while handling a worker's death or an ISR change must not take the process down
  // with it (an unhandled rejection would): it is reported, and the next event tries again.
  const warn = (what: string, error: unknown): void => logger.warn(`${what}: ${error instanceof Error ? error.message : String(error)}`)
  // Each shard's lines carry its broker id (a pino child's field, or a prefix for a plain logger).
  const brokerLoggers = new Map<number, Logger>()
  const brokerLogger = (shard: number): Logger => {
    let found = brokerLoggers.get(shard)
    if (found === undefined) brokerLoggers.set(shard, (found = childLogger(logger, { broker: shard })))
    return found
  }
  host = await startActorHost(config, {
    actorModules: {
      [PARTITION_ACTOR_KIND]: compiledUrl(import.meta.url, './actors/partition-actor-module.js'),
      [BROKER_NODE_KIND]: compiledUrl(import.meta.url, './broker/broker-node.js'),
    },
    onEvent: (event) => {
      try {
        supervisor?.onPartitionEvent(event)
      } catch (error) {
        warn('recording an ISR change failed', error)
      }
    },
    onRequest: async (request) => {
      if (request.id !== CONTROLLER_ID || controller === undefined) throw new PartitaError('PARTITA_NO_SUCH_ACTOR', `the main thread has no ${String(request.id)}`)
      return { message: await controller.handle(request.message as ControllerRequest) }
    },
    onLog: (shard, event) => logAt(brokerLogger(shard), event),
    onShardFailure: (shard, reason) => logger.warn(`broker ${shard} failed: ${reason}`),
    onShardDown: (shard) => {
      publisher.forget(shard)
      supervisor?.onShardDown(shard).catch((error: unknown) => warn(`failing over broker ${shard} failed`, error))
    },
  })
  const actors = host
  supervisor = new Supervisor({
    config,
    store,
    host: actors,
    clock,
    logger,
    nodes: {
      startNode: async (brokerId, port) => {
        const init: BrokerNodeInit = { nodeId: brokerId, config, port, image: publisher.snapshotFor(brokerId) }
        await actors.spawn(brokerId, BROKER_NODE_KIND, BROKER_NODE_ID, init)
        const reply = await actors.request(brokerId, BROKER_NODE_ID, { op: 'listening' } satisfies BrokerNodeMessage)
        return (reply.message as { port: number }).port
      },
      nodeListening: (brokerId, port) => publisher.setEndpoint(advertisedEndpoint(config, brokerId, port)),
      serveNode: async (brokerId) => {
        // The image with the elections reaches the node before it answers anyone.
        publisher.flush()
        await actors.request(brokerId, BROKER_NODE_ID, { op: 'serve' } satisfies BrokerNodeMessage)
      },
      liveBrokersChanged: () => publisher.brokersChanged(),
    },
  })
  controller = new Controller({ config, store, supervisor, publisher, logger })
  const sup = supervisor
  let started = false
  let adminServer: AdminServer | null = null
  let client: KafkaClient | undefined
  // The console is a client of the brokers' own listeners, so it has nothing to use until they listen.
  let consoleBackend: ConsoleBackend | null = null
  try {
    // Listening before recovery, so /healthz answers and /readyz says 503 while logs are opened.
    if (adminAt !== null) {
      adminServer = await startAdminServer({
        host: adminAt.host,
        port: adminAt.port,
        source: {
          endpoints: () => Array.from({ length: config.brokers }, (_, id) => advertisedEndpoint(config, id, sup.ports()[id])),
          liveBrokerIds: () => sup.liveBrokerIds(),
          topics: () => store.topics(),
          started: () => started,
          askNode: async (brokerId, message) => (await actors.request(brokerId, BROKER_NODE_ID, message)).message,
          threadIds: () => actors.threadIds(),
          ringOccupancy: () => actors.ringOccupancy(),
          nowMs: () => clock.nowMs(),
        },
        console: { mode: adminAt.console, backend: () => consoleBackend, trafficSampleMs: adminAt.consoleSampleMs },
      })
    }
    // Every stored topic is in the first image a node gets: a node that knew none of them would
    // answer UNKNOWN_TOPIC_OR_PARTITION for a topic that holds records, which makes librdkafka's
    // idempotent producer give up on its sequence numbers. (Nodes answer nothing until the
    // elections anyway: see serveNode.)
    for (const topic of store.topics()) publisher.topicChanged(topic.name)
    await supervisor.start()
    await controller.resumeReassignments()
    started = true
    publisher.flush()
    client = await KafkaClient.connect({ bootstrapServers: bootstrapOf(config, supervisor.ports()), clientId: 'partita-embedded' })
  } catch (error) {
    await adminServer?.close()
    supervisor.stop()
    await host.stop()
    throw error
  }
  const cluster = new WireCluster(client)
  consoleBackend = { admin: new Admin(cluster), cluster, producer: new Producer(cluster, { allowAutoTopicCreation: false }), logDirs: client }
  const ports = sup.ports()

  let closed: Promise<void> | null = null
  const close = (): Promise<void> => {
    closed ??= (async () => {
      await adminServer?.close()
      await client.close()
      sup.stop()
      actors.quiesce()
      // Kafka's order: the listeners stop taking requests before any log closes, so a client sees
      // its connection close (and reconnects to the restarted broker), never a NOT_LEADER answer
      // from a broker on its way down that sends it rediscovering leaders and coordinators.
      const stopListening = { op: 'stopListening' } satisfies BrokerNodeMessage
      await Promise.all(sup.liveBrokerIds().map((id) => actors.request(id, BROKER_NODE_ID, stopListening).catch(() => undefined)))
      await sup.closeAll()
      await actors.stop()
      lock.release()
      if (ownsDataDir) rmSync(config.dataDir, { recursive: true, force: true })
    })()
    return closed
  }
  return {
    bootstrapServers: bootstrapOf(config, ports),
    port: ports[0],
    ports,
    config,
    cluster,
    admin: new Admin(cluster),
    producer: (producerOptions) => new Producer(cluster, producerOptions),
    consumer: (consumerOptions) => {
      // Connections of its own, as a separate Kafka client instance has: its long polls must not
      // hold the producer's and admin's answers (KafkaClient.sibling). The broker drops them at
      // close; a disconnect closes them early, and a reconnect opens them again.
      const own = client.sibling()
      const consumer = new Consumer(new WireCluster(own), consumerOptions)
      consumer.on(ConsumerEvents.DISCONNECT, () => void own.closeConnections())
      return consumer
    },
    faults: {
      killBroker: (brokerId) => sup.killBroker(brokerId),
      recovered: (brokerId) =>
        new Promise<RecoveryReport>((resolve) => {
          const off = sup.onRecovered((report) => {
            if (report.brokerId !== brokerId) return
            off()
            resolve(report)
          })
        }),
    },
    adminAddress: adminServer === null ? null : { host: adminServer.host, port: adminServer.port, url: adminServer.url },
    threadIds: () => actors.threadIds(),
    writeHeapSnapshots: (dir) => actors.writeHeapSnapshots(dir),
    close,
    [Symbol.asyncDispose]: close,
  }
}

function bootstrapOf(config: BrokerConfig, ports: readonly number[]): string {
  return ports.map((port, id) => advertisedEndpoint(config, id, port)).map((e) => `${e.host}:${e.port}`).join(',')
}
