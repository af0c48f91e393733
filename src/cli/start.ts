/**
 * `partita start`: a broker in the foreground until SIGINT or SIGTERM, which close it cleanly
 * (logs flushed and marked clean, so the next start skips recovery). Its configuration comes from
 * --config, PARTITA_* variables and flags (see config.ts); --print-config shows it and exits.
 * Ready lines go to stdout (launchers wait for `listening on`); log events go to stderr.
 */
import { writeFileSync } from 'node:fs'
import type { Command } from 'commander'
import { createLogger, type Logger } from '../common/logger.js'
import type { Broker } from '../start-broker.js'
import { listenerNames, parseListener } from '../metadata/config-keys.js'
import { CliError, collect, formatOption, parseFormat, printLines, table } from './common.js'
import { environmentEntries, readConfigFile, resolveConfig, valueBefore, type ConfigEntry, type LoadedConfig } from './config.js'
import { describeGcChoice, runWithBrokerGcFlags } from '../runtime/gc-threads.js'
import { heapSnapshotSettings } from './heap-snapshots.js'

interface StartOptions {
  config?: string
  printConfig?: boolean
  format: string
  set?: string[]
  [flag: string]: unknown
}

/** Flags that set one key each: option name (commander's camel case) to key and flag. */
const KEY_FLAGS: ReadonlyArray<{ option: string; flag: string; key: string; description: string }> = [
  { option: 'dataDir', flag: '--data-dir <dir>', key: 'log.dirs', description: 'where logs and metadata live (log.dirs; default ./data)' },
  { option: 'brokers', flag: '--brokers <n>', key: 'num.brokers', description: 'brokers on this box, each one thread with its own listener on port + id (default: one per core)' },
  { option: 'numPartitions', flag: '--num-partitions <n>', key: 'num.partitions', description: 'partitions of an auto-created topic' },
  { option: 'defaultReplicationFactor', flag: '--default-replication-factor <n>', key: 'default.replication.factor', description: 'replication factor of an auto-created topic' },
  { option: 'advertisedListeners', flag: '--advertised-listeners <list>', key: 'advertised.listeners', description: 'per-broker addresses clients are told, as id=host:port,...' },
  { option: 'groupInitialRebalanceDelayMs', flag: '--group-initial-rebalance-delay-ms <ms>', key: 'group.initial.rebalance.delay.ms', description: 'wait for more members before the first rebalance' },
  { option: 'retentionCheckIntervalMs', flag: '--retention-check-interval-ms <ms>', key: 'log.retention.check.interval.ms', description: 'how often retention, rolling and compaction run' },
  { option: 'adminPort', flag: '--admin-port <port>', key: 'admin.port', description: "the admin HTTP port: /metrics, /healthz, /readyz, /v1/status (0: a free port; 'off': none; default 9644)" },
  { option: 'console', flag: '--console <mode>', key: 'admin.console', description: 'the web console on the admin port: read-write, read-only or off (default read-write)' },
  { option: 'adminHost', flag: '--admin-host <host>', key: 'admin.host', description: 'the admin HTTP address (default 127.0.0.1)' },
  { option: 'logLevel', flag: '--log-level <level>', key: 'log.level', description: 'fatal, error, warn, info, debug, trace or silent (default info)' },
]

export function registerStart(program: Command): void {
  const command = program
    .command('start')
    .description('run a broker in the foreground')
    .option('--config <file>', 'a .properties or .json file of Kafka config keys (then PARTITA_* variables, then flags)')
    .option('--print-config', 'print each config value and where it came from, then exit')
    .option('-s, --set <key=value>', 'any config key (repeatable)', collect)
    .option('--host <host>', "the listeners' address (default 127.0.0.1)")
    .option('--port <port>', "broker 0's port; broker i listens on port + i (0: a free port each; default 9092)")
    .option('--advertised-host <host>', 'host name clients are told to connect to')
    .option('--advertised-port <port>', "broker 0's port as clients are told it (broker i: port + i)")
    .option('--no-auto-create-topics', 'refuse produce and metadata for unknown topics')
  for (const f of KEY_FLAGS) command.option(f.flag, f.description)
  formatOption(command).action(async (options: StartOptions, self: Command) => {
    const format = parseFormat(options.format)
    const loaded = loadStartConfig(options, self)
    if (options.printConfig === true) {
      printConfig(loaded, format)
      return
    }
    await run(loaded)
  })
}

/** The file, the environment and the flags, in that order of precedence. */
export function loadStartConfig(options: StartOptions, command: Command, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const file = options.config === undefined ? [] : readConfigFile(options.config)
  const environment = environmentEntries(env)
  const given = (option: string): boolean => command.getOptionValueSource(option) === 'cli'
  const flags: ConfigEntry[] = []
  for (const pair of options.set ?? []) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw new CliError(`malformed --set '${pair}', expected key=value`)
    flags.push({ key: pair.slice(0, eq).trim(), value: pair.slice(eq + 1), source: '--set' })
  }
  for (const f of KEY_FLAGS) {
    if (given(f.option)) flags.push({ key: f.key, value: String(options[f.option]), source: `flag ${f.flag.split(' ')[0]}` })
  }
  if (given('autoCreateTopics')) flags.push({ key: 'auto.create.topics.enable', value: String(options.autoCreateTopics), source: 'flag --no-auto-create-topics' })
  // --host and --port each replace their half of listeners, whatever set the other half.
  const names = (): ReturnType<typeof listenerNames> =>
    listenerNames(valueBefore('controller.listener.names', file, environment, flags), valueBefore('listener.security.protocol.map', file, environment, flags))
  if (given('host') || given('port')) {
    const before = parseListener(valueBefore('listeners', file, environment, flags) ?? 'PLAINTEXT://127.0.0.1:9092', names())
    const host = given('host') ? String(options.host) : before.host
    const port = given('port') ? String(options.port) : String(before.port)
    flags.push({ key: 'listeners', value: `PLAINTEXT://${host}:${port}`, source: given('host') && given('port') ? 'flag --host --port' : given('host') ? 'flag --host' : 'flag --port' })
  }
  if (given('advertisedHost') || given('advertisedPort')) {
    const listeners = parseListener(valueBefore('listeners', file, environment, flags) ?? 'PLAINTEXT://127.0.0.1:9092', names())
    const host = given('advertisedHost') ? String(options.advertisedHost) : listeners.host
    const port = given('advertisedPort') ? String(options.advertisedPort) : '0'
    flags.push({ key: 'advertised.listeners', value: `PLAINTEXT://${host}:${port}`, source: 'flag --advertised-host/--advertised-port' })
  }
  return resolveConfig(file, environment, flags)
}

function printConfig(loaded: LoadedConfig, format: 'text' | 'json'): void {
  if (format === 'json') {
    printLines(loaded.values.map((v) => JSON.stringify({ key: v.key, value: v.value, source: v.source })))
    return
  }
  printLines(table(['KEY', 'VALUE', 'SOURCE'], loaded.values.map((v) => [v.key, v.value ?? '-', v.source])))
}

async function run(loaded: LoadedConfig): Promise<void> {
  // First, before any thread or socket exists: this may replace the process with itself under
  // V8 flags that only a process's start can set (gc-threads.ts).
  const gcChoice = runWithBrokerGcFlags()
  const { broker: options, logLevel } = loaded.settings
  const logger = createLogger({ level: logLevel })
  // Handlers go in before anything is printed: a launcher that signals as soon as it reads the
  // ready line must find them there (a signal before a handler would kill the process uncleanly).
  let stopping: string | null = null
  let broker: Broker | null = null
  const stop = (signal: string): void => {
    if (stopping !== null) return
    stopping = signal
    logger.info(`${signal}: shutting down`)
    if (broker !== null) close(broker)
  }
  const close = (started: Broker): void => {
    started.close().then(
      () => {
        logger.info('stopped cleanly')
        process.exit(0)
      },
      (error: unknown) => {
        logger.error(`unclean shutdown: ${error instanceof Error ? error.message : String(error)}`)
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
  logger.info(describeGcChoice(gcChoice))
  // Loaded here, not at the top: the client commands need none of the broker.
  const { startBroker } = await import('../start-broker.js')
  const started = await startBroker({ ...options, logger })
  broker = started
  if (stopping !== null) {
    close(started)
    return
  }
  // For profilers (bench:protocol): which OS thread is which, to split this process's CPU by
  // role. Written before anything says "listening", which is what a launcher waits for.
  const threadMapFile = process.env.PARTITA_THREAD_MAP_FILE
  if (threadMapFile !== undefined && threadMapFile !== '') writeFileSync(threadMapFile, JSON.stringify(started.threadIds()))
  watchHeapSnapshotSignal(started, logger)
  const host = started.config.host
  const lines = started.ports.map((port, id) => `partita: broker ${id} listening on ${host}:${port} (advertised as ${started.bootstrapServers.split(',')[id]})`)
  if (started.adminAddress !== null) lines.push(`partita: admin listening on ${started.adminAddress.url} (/metrics, /healthz, /readyz, /v1/status)`)
  lines.push(`partita: listening on ${started.bootstrapServers} (data in ${started.config.dataDir})`)
  logger.info(`started ${started.ports.length} brokers on ${started.bootstrapServers}`)
  printLines(lines)
}

/** Answers node's --heapsnapshot-signal with a snapshot of every shard too (heap-snapshots.ts). */
function watchHeapSnapshotSignal(broker: Broker, logger: Logger): void {
  const settings = heapSnapshotSettings(process.execArgv, process.env.NODE_OPTIONS, process.cwd())
  if (settings === null) return
  let writing = false
  process.on(settings.signal, () => {
    // One round at a time: each snapshot pauses its shard and costs about its heap in memory.
    if (writing) return
    writing = true
    broker.writeHeapSnapshots(settings.dir).then(
      (files) => logger.info(`${settings.signal}: heap snapshots of the shards written: ${files.join(', ')}`),
      (error: unknown) => logger.warn(`${settings.signal}: heap snapshots of the shards failed: ${error instanceof Error ? error.message : String(error)}`),
    ).finally(() => (writing = false))
  })
}
