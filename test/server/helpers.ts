/**
 * A broker node under test without threads: the real NodeCore, group coordinators, controller,
 * supervisor and metadata store (in a temp dir) over in-memory partitions, behind the real TCP
 * server on an ephemeral port. The controller's image deltas are applied to the node's image at
 * once, as the ring would deliver them.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TxnCoordinators } from '../../src/broker/txn-coordinators.js'
import type { InitProducerIdResult } from '../../src/metadata/operations.js'
import { GroupCoordinators } from '../../src/broker/group-coordinators.js'
import { NodeCore } from '../../src/broker/node-core.js'
import { SystemClock } from '../../src/common/clock.js'
import { Controller } from '../../src/controller/controller.js'
import { ImagePublisher } from '../../src/controller/image-publisher.js'
import { MetadataStore } from '../../src/controller/metadata-store.js'
import { Supervisor } from '../../src/controller/supervisor.js'
import { resolveBrokerConfig, type BrokerOptions } from '../../src/metadata/broker-config.js'
import type { ControllerReplies, ControllerRequest } from '../../src/metadata/controller-messages.js'
import { MetadataImage } from '../../src/metadata/image.js'
import type { BrokerCore } from '../../src/server/core.js'
import { startServer, type Server, type ServerOptions } from '../../src/server/server.js'
import { advertisedEndpoint } from '../../src/start-broker.js'
import { ApiKey } from '../../src/protocol/index.js'
import { decodeRecords, encodeBatch, iterateBatches } from '../../src/records/record-batch.js'
import { MemoryPartitions } from './memory-partitions.js'
import { WireClient } from './wire-client.js'

export interface TestServer {
  server: Server
  core: NodeCore
  partitions: MemoryPartitions
  warnings: string[]
  connect(): Promise<WireClient>
  close(): Promise<void>
}

export async function startTestServer(
  brokerOptions: BrokerOptions = {},
  serverOptions: Partial<ServerOptions> & { wrapCore?: (core: NodeCore) => BrokerCore } = {},
): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'partita-'))
  const config = resolveBrokerConfig({ port: 0, brokers: 1, groupInitialRebalanceDelayMs: 0, offsetsTopicNumPartitions: 1, transactionStateLogNumPartitions: 4, ...brokerOptions }, dir)
  const store = MetadataStore.open(join(dir, 'meta'))
  const partitions = new MemoryPartitions(config.brokers)
  const image = new MetadataImage()
  const warnings: string[] = []
  const log = { warn: (message: string) => warnings.push(message), info: () => {} }
  const groups = new GroupCoordinators({ nodeId: 0, config, image, clock: new SystemClock(), partitions, log })
  // Markers go to this node's core (the only node here); it exists once the core does.
  let coreRef: NodeCore | undefined
  const txns: TxnCoordinators = new TxnCoordinators({
    nodeId: 0,
    config,
    image,
    clock: new SystemClock(),
    partitions,
    log,
    allocateProducerId: async () => ((await controller.handle({ op: 'initProducerId', transactionalId: null, producerId: -1, producerEpoch: -1, transactionTimeoutMs: -1 })).result as InitProducerIdResult).producerId,
    sendMarkers: (_brokerId, markers) => coreRef!.writeTxnMarkers(markers),
    verifyAt: async (_brokerId, request): Promise<number> => txns.verify(request),
  })
  let supervisor: Supervisor | undefined
  const publisher = new ImagePublisher(
    {
      clusterId: store.clusterId,
      topic: (name) => store.topic(name),
      send: (nodeId, delta) => {
        if (nodeId !== 0) return
        groups.onImage(image.apply(delta))
        txns.onImage()
      },
      liveNodes: () => supervisor?.liveBrokerIds() ?? [],
    },
    Array.from({ length: config.brokers }, (_, id) => advertisedEndpoint(config, id, 0)),
  )
  store.onChange((changes) => changes.forEach((c) => publisher.topicChanged(c.topic, c.partitions)))
  let port = 0
  supervisor = new Supervisor({
    config,
    store,
    host: partitions.host,
    clock: new SystemClock(),
    logger: log,
    nodes: {
      startNode: async (brokerId) => {
        image.apply(publisher.snapshotFor(brokerId))
        // Only broker 0 is this test's node; the others exist as ids that host replicas.
        return brokerId === 0 ? port : 40_000 + brokerId
      },
      nodeListening: (brokerId, listening) => publisher.setEndpoint(advertisedEndpoint(config, brokerId, listening)),
      liveBrokersChanged: () => publisher.brokersChanged(),
      // This test's server reads its connections from the start.
      serveNode: async () => {},
    },
  })
  const controller = new Controller({ config, store, supervisor, publisher })
  const core = new NodeCore({
    nodeId: 0,
    config,
    image,
    partitions,
    groups,
    txns,
    askController: async <K extends ControllerRequest['op']>(request: Extract<ControllerRequest, { op: K }>) =>
      (await controller.handle(request)).result as ControllerReplies[K],
  })
  coreRef = core
  const { wrapCore, ...rest } = serverOptions
  const server = await startServer({
    core: wrapCore === undefined ? core : wrapCore(core),
    port: 0,
    logger: { warn: (message) => warnings.push(message) },
    ...rest,
  })
  port = server.port
  await supervisor.start()
  publisher.flush()
  // As a client's FindCoordinator would, so group requests find their coordinators loaded.
  await core.findCoordinator('any', 0)
  await groups.whenLoaded()
  const clients: WireClient[] = []
  return {
    server,
    core,
    partitions,
    warnings,
    async connect() {
      const client = await WireClient.connect(server.port)
      clients.push(client)
      return client
    },
    async close() {
      await Promise.all(clients.map((c) => c.close()))
      await server.close()
      groups.close()
      txns.close()
      supervisor.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/**
 * The core with one method replaced; every other method is bound to the real core (its private
 * fields are not reachable through a Proxy receiver).
 */
export function overrideCore<M extends keyof BrokerCore>(core: NodeCore, method: M, replacement: (real: NodeCore[M]) => BrokerCore[M]): BrokerCore {
  return new Proxy(core, {
    get(target, property) {
      if (property === method) return replacement((target[method] as (...args: unknown[]) => unknown).bind(target) as NodeCore[M])
      const value = Reflect.get(target, property, target) as unknown
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    },
  })
}

/** One uncompressed v2 batch of string values, as a producer sends it. */
/** Stamped now by default: a batch from the past is deleted by the partition's first housekeeping pass (retention.ms). */
export function batchOf(values: string[], baseTimestamp = Date.now()): Buffer {
  return encodeBatch({ baseTimestamp, records: values.map((v) => ({ key: null, value: Buffer.from(v) })) })
}

/** The values one Fetch v11 of partition 0 from offset 0 returns (up to 4 MiB), in order. */
export async function fetchedValues(client: WireClient, topic: string): Promise<string[]> {
  const response = await client.request(ApiKey.Fetch, 11, {
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 4 << 20,
    topics: [{ topic, partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 4 << 20 }] }],
  })
  const records = response.responses[0].partitions[0].records as Buffer
  return [...iterateBatches(records)].flatMap(({ pos }) => decodeRecords(records, pos).map((r) => r.value!.toString()))
}
