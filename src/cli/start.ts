/**
 * `partita start`: a broker in the foreground until SIGINT or SIGTERM, which close it cleanly
 * (logs flushed and marked clean, so the next start skips recovery).
 */
import { writeFileSync } from 'node:fs'
import type { Command } from 'commander'

interface StartOptions {
  host: string
  port: string
  advertisedHost?: string
  advertisedPort?: string
  dataDir: string
  brokers?: string
  advertisedListeners?: string
  numPartitions: string
  defaultReplicationFactor: string
  autoCreateTopics: boolean
  groupInitialRebalanceDelayMs: string
  retentionCheckIntervalMs: string
  adminPort: string
  adminHost: string
}

function integer(name: string, value: string, min: number): number {
  const parsed = Number(value)
  if (!Number.isInteger(parsed) || parsed < min) throw new Error(`--${name} must be an integer >= ${min}, got '${value}'`)
  return parsed
}

/** `0=host:9092,1=host:9093` into broker id -> `host:port`; a malformed entry is a one-line error. */
function parseListeners(list: string): Record<number, string> {
  const out: Record<number, string> = {}
  for (const entry of list.split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    const match = /^(\d+)=(.+):(\d+)$/.exec(entry)
    if (match === null) throw new Error(`--advertised-listeners entries are id=host:port, got '${entry}'`)
    out[Number(match[1])] = `${match[2]}:${match[3]}`
  }
  return out
}

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('run a broker in the foreground')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = any free port)', '9092')
    .option('--advertised-host <host>', 'host name clients are told to connect to')
    .option('--advertised-port <port>', "broker 0's port as clients are told it (broker i: port + i; default: the listening ports)")
    .option('--advertised-listeners <list>', 'per-broker addresses clients are told, as id=host:port,... (overrides the two above)')
    .option('--data-dir <dir>', 'where logs and metadata live', './data')
    .option('--brokers <n>', 'brokers on this box, each one thread with its own listener on port + id (default: one per core)')
    .option('--num-partitions <n>', 'partitions of an auto-created topic', '1')
    .option('--default-replication-factor <n>', 'replication factor of an auto-created topic', '1')
    .option('--no-auto-create-topics', 'refuse produce and metadata for unknown topics')
    .option('--group-initial-rebalance-delay-ms <ms>', 'wait for more members before the first rebalance', '3000')
    .option('--retention-check-interval-ms <ms>', 'how often retention, rolling and compaction run', '10000')
    .option('--admin-port <port>', "admin HTTP port for /metrics, /healthz, /readyz, /v1/status (0 = any free port, 'off' = none)", '9644')
    .option('--admin-host <host>', 'address the admin port binds', '127.0.0.1')
    .action(async (options: StartOptions) => {
      // Loaded here, not at the top: the client commands need none of the broker.
      const { startBroker } = await import('../start-broker.js')
      const broker = await startBroker({
        host: options.host,
        port: integer('port', options.port, 0),
        advertisedHost: options.advertisedHost,
        advertisedPort: options.advertisedPort === undefined ? undefined : integer('advertised-port', options.advertisedPort, 1),
        dataDir: options.dataDir,
        brokers: options.brokers === undefined ? undefined : integer('brokers', options.brokers, 1),
        advertisedListeners: options.advertisedListeners === undefined ? undefined : parseListeners(options.advertisedListeners),
        numPartitions: integer('num-partitions', options.numPartitions, 1),
        defaultReplicationFactor: integer('default-replication-factor', options.defaultReplicationFactor, 1),
        autoCreateTopics: options.autoCreateTopics,
        groupInitialRebalanceDelayMs: integer('group-initial-rebalance-delay-ms', options.groupInitialRebalanceDelayMs, 0),
        retentionCheckIntervalMs: integer('retention-check-interval-ms', options.retentionCheckIntervalMs, 1),
        adminPort: options.adminPort === 'off' ? null : integer('admin-port', options.adminPort, 0),
        adminHost: options.adminHost,
        logger: { warn: (message) => console.warn(`partita: ${message}`), info: (message) => console.log(`partita: ${message}`) },
      })
      // For profilers (bench:protocol): which OS thread is which, to split this process's CPU by
      // role. Written before anything says "listening", which is what a launcher waits for.
      const threadMapFile = process.env.PARTITA_THREAD_MAP_FILE
      if (threadMapFile !== undefined && threadMapFile !== '') writeFileSync(threadMapFile, JSON.stringify(broker.threadIds()))
      broker.ports.forEach((port, id) => console.log(`partita: broker ${id} listening on ${options.host}:${port}, advertised as ${broker.bootstrapServers.split(',')[id]}`))
      if (broker.adminAddress !== null) console.log(`partita: admin listening on ${broker.adminAddress.url} (/metrics, /healthz, /readyz, /v1/status)`)
      console.log(`partita: listening on ${broker.bootstrapServers} (data in ${options.dataDir})`)
      let closing = false
      const stop = (signal: string): void => {
        if (closing) return
        closing = true
        console.log(`partita: ${signal}, shutting down`)
        broker.close().then(
          () => process.exit(0),
          (error: unknown) => {
            console.error(`partita: unclean shutdown: ${error instanceof Error ? error.message : String(error)}`)
            process.exit(1)
          },
        )
      }
      process.on('SIGINT', () => stop('SIGINT'))
      process.on('SIGTERM', () => stop('SIGTERM'))
    })
}
