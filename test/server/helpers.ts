/**
 * A server under test: the real Core, GroupCoordinator and MetadataStore (in a temp dir) over the
 * in-memory partition router, behind the real TCP server on an ephemeral port.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GroupCoordinator } from '../../src/actors/group-coordinator.js'
import { resolveBrokerConfig, type BrokerOptions } from '../../src/metadata/broker-config.js'
import { Core } from '../../src/broker/core.js'
import { MetadataStore } from '../../src/controller/metadata-store.js'
import type { BrokerCore } from '../../src/broker/types.js'
import { SystemClock } from '../../src/common/clock.js'
import { startServer, type Server, type ServerOptions } from '../../src/server/server.js'
import { encodeBatch } from '../../src/storage/record-batch.js'
import { MemoryRouter } from './memory-router.js'
import { WireClient } from './wire-client.js'

export interface TestServer {
  server: Server
  core: Core
  router: MemoryRouter
  groups: GroupCoordinator
  warnings: string[]
  connect(): Promise<WireClient>
  close(): Promise<void>
}

export async function startTestServer(
  brokerOptions: BrokerOptions = {},
  serverOptions: Partial<ServerOptions> & { wrapCore?: (core: Core) => BrokerCore } = {},
): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'partita-'))
  const config = resolveBrokerConfig({ port: 0, groupInitialRebalanceDelayMs: 0, ...brokerOptions }, dir)
  const store = MetadataStore.open(join(dir, 'meta'))
  const groups = new GroupCoordinator({
    dataDir: join(dir, 'groups'),
    clock: new SystemClock(),
    initialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
    minSessionTimeoutMs: config.groupMinSessionTimeoutMs,
    maxSessionTimeoutMs: config.groupMaxSessionTimeoutMs,
  })
  await groups.open()
  const router = new MemoryRouter(config.brokers)
  let port = 0
  const core = new Core({ config, store, router, groups, advertisedPort: () => port })
  const warnings: string[] = []
  const { wrapCore, ...rest } = serverOptions
  const server = await startServer({
    core: wrapCore === undefined ? core : wrapCore(core),
    port: 0,
    logger: { warn: (message) => warnings.push(message) },
    ...rest,
  })
  port = server.port
  const clients: WireClient[] = []
  return {
    server,
    core,
    router,
    groups,
    warnings,
    async connect() {
      const client = await WireClient.connect(server.port)
      clients.push(client)
      return client
    },
    async close() {
      await Promise.all(clients.map((c) => c.close()))
      await server.close()
      await groups.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/**
 * The core with one method replaced; every other method is bound to the real core (its private
 * fields are not reachable through a Proxy receiver).
 */
export function overrideCore<M extends keyof BrokerCore>(core: Core, method: M, replacement: (real: Core[M]) => BrokerCore[M]): BrokerCore {
  return new Proxy(core, {
    get(target, property) {
      if (property === method) return replacement((target[method] as (...args: unknown[]) => unknown).bind(target) as Core[M])
      const value = Reflect.get(target, property, target) as unknown
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    },
  })
}

/** One uncompressed v2 batch of string values, as a producer sends it. */
export function batchOf(values: string[], baseTimestamp = 1_700_000_000_000): Buffer {
  return encodeBatch({ baseTimestamp, records: values.map((v) => ({ key: null, value: Buffer.from(v) })) })
}
