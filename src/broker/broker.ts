/**
 * `startBroker`: the whole broker in this process. The main thread holds the supervisor, the
 * group coordinator, the broker core and (unless `port: null`) the TCP listener; the partition
 * replicas live on the shard workers.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { GroupCoordinator } from '../actors/group-coordinator.js'
import { Supervisor, type RecoveryReport, type SupervisorLogger } from '../actors/supervisor.js'
import { SystemClock, type Clock } from '../common/clock.js'
import { startServer, type Server } from '../server/server.js'
import { resolveBrokerConfig, type BrokerConfig, type BrokerOptions } from './broker-config.js'
import { Core } from './core.js'
import { lockDataDir, type DataDirLock } from './data-dir-lock.js'
import { MetadataStore } from './metadata-store.js'
import { startActorHost, type RuntimeActorHost } from './actor-host.js'
import { Admin } from '../client/admin.js'
import { Consumer, type ConsumerOptions } from '../client/consumer.js'
import { Producer, type ProducerOptions } from '../client/producer.js'

export interface Broker extends AsyncDisposable {
  /** `host:port` for Kafka clients; empty when started with `port: null`. */
  readonly bootstrapServers: string
  readonly port: number | null
  readonly config: BrokerConfig
  readonly core: Core
  readonly admin: Admin
  /** A kafkajs-shaped producer that talks to this broker in-process (no sockets). */
  producer(options?: ProducerOptions): Producer
  /** A kafkajs-shaped group consumer that talks to this broker in-process. */
  consumer(options: ConsumerOptions): Consumer
  /**
   * OS thread ids, so a profiler can split this process's CPU by role: the main thread's (on Linux
   * it equals the process id) and each shard worker's by shard index (null while it is down).
   */
  threadIds(): { main: number; shards: (number | null)[] }
  readonly faults: {
    /** Kills every shard worker of one logical broker; the supervisor fails over and restarts it. */
    killBroker(brokerId: number): void
    /** Resolves when the broker next comes back serving all its partitions, with how long it took. */
    recovered(brokerId: number): Promise<RecoveryReport>
  }
  close(): Promise<void>
}

export async function startBroker(options: BrokerOptions = {}): Promise<Broker> {
  const ownsDataDir = options.dataDir === undefined
  const dataDir = ownsDataDir ? mkdtempSync(join(tmpdir(), 'partita-')) : resolve(options.dataDir!)
  const config = resolveBrokerConfig(options, dataDir)
  const clock = options.clock ?? new SystemClock()
  const logger = options.logger ?? { warn: (message: string) => console.warn(`[partita] ${message}`), info: () => {} }
  const lock = lockDataDir(dataDir)
  try {
    return await startLocked(config, clock, logger, ownsDataDir, lock)
  } catch (error) {
    lock.release()
    throw error
  }
}

async function startLocked(config: BrokerConfig, clock: Clock, logger: SupervisorLogger, ownsDataDir: boolean, lock: DataDirLock): Promise<Broker> {
  const dataDir = config.dataDir
  const store = MetadataStore.open(join(dataDir, 'meta'))
  const groups = new GroupCoordinator({
    dataDir: join(dataDir, 'groups'),
    clock,
    initialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
    minSessionTimeoutMs: config.groupMinSessionTimeoutMs,
    maxSessionTimeoutMs: config.groupMaxSessionTimeoutMs,
  })
  await groups.open()

  let supervisor: Supervisor | undefined
  // A failure while handling a worker's death or an ISR change must not take the process down
  // with it (an unhandled rejection would): it is reported, and the next event tries again.
  const warn = (what: string, error: unknown): void => logger.warn(`${what}: ${error instanceof Error ? error.message : String(error)}`)
  const host: RuntimeActorHost = await startActorHost(config, {
    onEvent: (event) => {
      try {
        supervisor?.onPartitionEvent(event)
      } catch (error) {
        warn('recording an ISR change failed', error)
      }
    },
    onShardFailure: (shard, reason) => logger.warn(`shard ${shard} failed: ${reason}`),
    onShardDown: (shard) => {
      supervisor?.onShardDown(shard).catch((error: unknown) => warn(`failing over shard ${shard} failed`, error))
    },
  })
  supervisor = new Supervisor({ config, store, host, clock, logger })
  let server: Server | null = null
  const core = new Core({ config, store, router: supervisor, groups, advertisedPort: () => config.advertisedPort ?? server?.port ?? config.port ?? 0 })
  try {
    await supervisor.start()
    if (config.port !== null) {
      server = await startServer({ core, host: config.host, port: config.port, socketRequestMaxBytes: config.socketRequestMaxBytes })
    }
  } catch (error) {
    supervisor.stop()
    await host.stop()
    await groups.close()
    throw error
  }

  let closed: Promise<void> | null = null
  const close = (): Promise<void> => {
    closed ??= (async () => {
      await server?.close()
      supervisor.stop()
      await supervisor.closeAll()
      await host.stop()
      await groups.close()
      lock.release()
      if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true })
    })()
    return closed
  }
  const port = server?.port ?? null
  return {
    bootstrapServers: port === null ? '' : `${config.advertisedHost}:${config.advertisedPort ?? port}`,
    port,
    config,
    core,
    admin: new Admin(core),
    producer: (producerOptions) => new Producer(core, producerOptions),
    consumer: (consumerOptions) => new Consumer(core, consumerOptions),
    threadIds: () => ({ main: process.pid, shards: host.threadIds() }),
    faults: {
      killBroker: (brokerId) => supervisor.killBroker(brokerId),
      recovered: (brokerId) =>
        new Promise<RecoveryReport>((resolve) => {
          const off = supervisor.onRecovered((report) => {
            if (report.brokerId !== brokerId) return
            off()
            resolve(report)
          })
        }),
    },
    close,
    [Symbol.asyncDispose]: close,
  }
}
