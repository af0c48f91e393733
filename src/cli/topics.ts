/**
 * `partita topic create|list|describe|delete|alter-config|add-partitions` (alias `topics`): rpk's
 * topic commands and kafka-topics.sh, over the Kafka protocol. Topics are named as arguments;
 * `--topic NAME` is kept for the commands' earlier form.
 */
import type { Command } from 'commander'
import { ErrorCode } from '../common/error-codes.js'
import { ApiKey, ZERO_UUID } from '../protocol/index.js'
import { AlterConfigOp, ConfigResourceType, OffsetSpec, type KafkaClient, type TopicInfo } from '../client/wire/kafka-client.js'
import {
  addBootstrapOption,
  check,
  CliError,
  collect,
  formatOption,
  parseConfigs,
  parseFormat,
  parseInteger,
  keyValues,
  printJson,
  printLines,
  table,
  withClient,
  type ClientCommandOptions,
} from './common.js'

/** DescribeConfigs v1+ config sources, by Kafka's names. */
const CONFIG_SOURCES: Record<number, string> = {
  [-1]: 'UNKNOWN',
  0: 'UNKNOWN',
  1: 'DYNAMIC_TOPIC_CONFIG',
  2: 'DYNAMIC_BROKER_CONFIG',
  3: 'DYNAMIC_DEFAULT_BROKER_CONFIG',
  4: 'STATIC_BROKER_CONFIG',
  5: 'DEFAULT_CONFIG',
  6: 'DYNAMIC_BROKER_LOGGER_CONFIG',
}

interface NamedOptions extends ClientCommandOptions {
  topic?: string
}

/** The topics named as arguments, or by --topic; at least one. */
function topicsOf(names: readonly string[], options: NamedOptions): string[] {
  const all = [...names, ...(options.topic === undefined ? [] : [options.topic])]
  if (all.length === 0) throw new CliError('name a topic')
  return all
}

export function registerTopics(program: Command): void {
  const topic = program.command('topic').alias('topics').description('create, list, describe, configure and delete topics')
  registerCreate(topic)
  registerList(topic)
  registerDescribe(topic)
  registerDelete(topic)
  registerAlterConfig(topic)
  registerAddPartitions(topic)
}

function registerCreate(topic: Command): void {
  interface Options extends NamedOptions {
    partitions?: string
    replicas?: string
    replicationFactor?: string
    config?: string[]
    ifNotExists?: boolean
  }
  addBootstrapOption(topic.command('create').argument('[topics...]').description('create topics'))
    .option('--topic <name>', 'a topic to create (as an argument is the same)')
    .option('-p, --partitions <n>', "partitions (default: the broker's num.partitions)")
    .option('-r, --replicas <n>', "replicas per partition (default: the broker's default.replication.factor)")
    .option('--replication-factor <n>', 'the same as --replicas')
    .option('-c, --config <key=value>', 'a topic config (repeatable)', collect)
    .option('--if-not-exists', 'succeed when the topic already exists')
    .action(async (names: string[], options: Options) => {
      const topics = topicsOf(names, options)
      const numPartitions = options.partitions === undefined ? -1 : parseInteger('partitions', options.partitions, 1, 2 ** 31 - 1)
      const replicas = options.replicas ?? options.replicationFactor
      const replicationFactor = replicas === undefined ? -1 : parseInteger('replicas', replicas, 1, 32767)
      const configs = parseConfigs(options.config)
      await withClient(options, async (client) => {
        const response = await client.createTopics(topics.map((name) => ({ name, numPartitions, replicationFactor, configs })))
        const lines: string[] = []
        for (const name of topics) {
          const result = response.topics.find((t) => t.name === name)
          if (result === undefined) throw new CliError(`create topic '${name}': the broker did not answer for it`)
          if (result.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS && options.ifNotExists === true) continue
          check(result.errorCode, `create topic '${name}'`, result.errorMessage)
          lines.push(`Created topic ${name}.`)
        }
        printLines(lines)
      })
    })
}

function registerList(topic: Command): void {
  formatOption(addBootstrapOption(topic.command('list').description('topics with their partition and replica counts')))
    .option('-i, --internal', 'include internal topics')
    .option('--exclude-internal', 'leave out internal topics (the default)')
    .action(async (options: ClientCommandOptions & { internal?: boolean; format: string }) => {
      const format = parseFormat(options.format)
      await withClient(options, async (client) => {
        const meta = await client.metadata(null)
        const topics = meta.topics.filter((t) => options.internal === true || !t.isInternal).sort((a, b) => (a.name < b.name ? -1 : 1))
        const rows = topics.map((t) => ({ name: t.name, partitions: t.partitions.length, replicas: t.partitions[0]?.replicas.length ?? 0, internal: t.isInternal }))
        if (format === 'json') printJson(rows)
        else printLines(table(['NAME', 'PARTITIONS', 'REPLICAS'], rows.map((r) => [r.name, r.partitions, r.replicas])))
      })
    })
}

function registerDescribe(topic: Command): void {
  formatOption(addBootstrapOption(topic.command('describe').argument('[topics...]').description('partitions (leader, replicas, ISR, log start, high watermark) and configs with their source')))
    .option('--topic <name>', 'a topic to describe (as an argument is the same; default: every topic)')
    .action(async (names: string[], options: NamedOptions & { format: string }) => {
      const format = parseFormat(options.format)
      const wanted = [...names, ...(options.topic === undefined ? [] : [options.topic])]
      await withClient(options, async (client) => {
        const meta = await client.metadata(wanted.length === 0 ? null : wanted)
        const described: TopicDescription[] = []
        for (const t of meta.topics.sort((a, b) => (a.name < b.name ? -1 : 1))) {
          check(t.errorCode, `describe topic '${t.name}'`)
          described.push(await describeTopic(client, t))
        }
        if (format === 'json') printJson(described)
        else printLines(described.flatMap((d, i) => [...(i > 0 ? [''] : []), ...describeText(d)]))
      })
    })
}

function registerDelete(topic: Command): void {
  addBootstrapOption(topic.command('delete').argument('[topics...]').description('delete topics'))
    .option('--topic <name>', 'a topic to delete (as an argument is the same)')
    .action(async (names: string[], options: NamedOptions) => {
      const topics = topicsOf(names, options)
      await withClient(options, async (client) => {
        const response = await client.deleteTopics(topics)
        const lines: string[] = []
        for (const name of topics) {
          const result = response.responses.find((r) => r.name === name)
          if (result === undefined) throw new CliError(`delete topic '${name}': the broker did not answer for it`)
          check(result.errorCode, `delete topic '${name}'`, result.errorMessage)
          lines.push(`Deleted topic ${name}.`)
        }
        printLines(lines)
      })
    })
}

function registerAlterConfig(topic: Command): void {
  interface Options extends NamedOptions {
    set?: string[]
    config?: string[]
    delete?: string[]
    deleteConfig?: string[]
  }
  addBootstrapOption(topic.command('alter-config').argument('[topics...]').description("set or delete topics' configs"))
    .option('--topic <name>', 'a topic to configure (as an argument is the same)')
    .option('-s, --set <key=value>', 'set a config (repeatable)', collect)
    .option('--config <key=value>', 'the same as --set', collect)
    .option('-d, --delete <key>', 'remove a config, back to the default (repeatable)', collect)
    .option('--delete-config <key>', 'the same as --delete', collect)
    .action(async (names: string[], options: Options) => {
      const topics = topicsOf(names, options)
      const set = parseConfigs([...(options.set ?? []), ...(options.config ?? [])])
      const removed = [...(options.delete ?? []), ...(options.deleteConfig ?? [])]
      if (Object.keys(set).length === 0 && removed.length === 0) throw new CliError('alter-config needs --set or --delete')
      await withClient(options, async (client) => {
        for (const name of topics) await alterTopicConfig(client, name, set, removed)
        printLines(topics.map((name) => `Altered config of topic ${name}.`))
      })
    })
}

function registerAddPartitions(topic: Command): void {
  addBootstrapOption(topic.command('add-partitions').argument('[topics...]').description('add partitions to topics'))
    .option('--topic <name>', 'a topic to grow (as an argument is the same)')
    .option('-n, --num <n>', 'partitions to add')
    .option('--total <n>', 'the partition count to grow to (instead of --num)')
    .action(async (names: string[], options: NamedOptions & { num?: string; total?: string }) => {
      const topics = topicsOf(names, options)
      if ((options.num === undefined) === (options.total === undefined)) throw new CliError('add-partitions needs one of --num or --total')
      const add = options.num === undefined ? null : parseInteger('num', options.num, 1, 2 ** 31 - 1)
      const total = options.total === undefined ? null : parseInteger('total', options.total, 1, 2 ** 31 - 1)
      await withClient(options, async (client) => {
        const lines: string[] = []
        for (const name of topics) {
          const current = await client.topic(name)
          const count = total ?? current.partitions.length + add!
          const response = await client.createPartitions(name, count)
          const result = response.results.find((r) => r.name === name) ?? response.results[0]
          if (result === undefined) throw new CliError(`add partitions to '${name}': the broker did not answer for it`)
          check(result.errorCode, `add partitions to '${name}'`, result.errorMessage)
          lines.push(`Topic ${name} has ${count} partitions.`)
        }
        printLines(lines)
      })
    })
}

interface PartitionDescription {
  partition: number
  leader: number
  leaderEpoch: number
  replicas: number[]
  isr: number[]
  offline: number[]
  logStartOffset: number | null
  highWatermark: number | null
}

interface TopicDescription {
  name: string
  topicId: string | null
  internal: boolean
  partitions: PartitionDescription[]
  configs: { key: string; value: string | null; source: string }[]
}

async function describeTopic(client: KafkaClient, topic: TopicInfo): Promise<TopicDescription> {
  const response = await client.describeConfigs([{ type: ConfigResourceType.TOPIC, name: topic.name }])
  const result = response.results[0]
  if (result !== undefined) check(result.errorCode, `describe configs of '${topic.name}'`, result.errorMessage)
  const configs = (result?.configs ?? [])
    .map((c) => ({
      key: c.name,
      value: c.isSensitive ? '(sensitive)' : c.value,
      source: c.configSource === -1 ? (c.isDefault ? 'DEFAULT_CONFIG' : 'DYNAMIC_TOPIC_CONFIG') : (CONFIG_SOURCES[c.configSource] ?? String(c.configSource)),
    }))
    .sort((a, b) => (a.key < b.key ? -1 : 1))
  const tps = topic.partitions.map((p) => ({ topic: topic.name, partition: p.partition }))
  const [starts, ends] = await Promise.all([offsetsOf(client, tps, OffsetSpec.EARLIEST), offsetsOf(client, tps, OffsetSpec.LATEST)])
  return {
    name: topic.name,
    // Metadata below v10 carries no topic ids; a zero id means "not told".
    topicId: topic.topicId === ZERO_UUID ? null : topic.topicId,
    internal: topic.isInternal,
    partitions: topic.partitions.map((p) => ({
      partition: p.partition,
      leader: p.leader,
      leaderEpoch: p.leaderEpoch,
      replicas: p.replicas,
      isr: p.isr,
      offline: p.offline,
      logStartOffset: starts.get(p.partition) ?? null,
      highWatermark: ends.get(p.partition) ?? null,
    })),
    configs,
  }
}

/** Offsets by partition; a partition without a leader just has none. */
async function offsetsOf(client: KafkaClient, tps: { topic: string; partition: number }[], spec: number): Promise<Map<number, number>> {
  if (tps.length === 0) return new Map()
  const results = await client.listOffsets(tps.map((tp) => ({ ...tp, timestamp: spec })))
  return new Map(results.filter((r) => r.errorCode === ErrorCode.NONE).map((r) => [r.partition, r.offset]))
}

function describeText(d: TopicDescription): string[] {
  const replicationFactor = d.partitions[0]?.replicas.length ?? 0
  const summary = [
    ['NAME', d.name],
    ...(d.topicId === null ? [] : [['TOPIC-ID', d.topicId]]),
    ['PARTITIONS', String(d.partitions.length)],
    ['REPLICAS', String(replicationFactor)],
    ...(d.internal ? [['INTERNAL', 'true']] : []),
  ]
  const partitions = table(
    ['PARTITION', 'LEADER', 'EPOCH', 'REPLICAS', 'IN-SYNC-REPLICAS', 'LOG-START-OFFSET', 'HIGH-WATERMARK'],
    d.partitions.map((p) => [
      p.partition,
      p.leader < 0 ? '-' : p.leader,
      p.leaderEpoch,
      `[${p.replicas.join(',')}]`,
      `[${p.isr.join(',')}]`,
      p.logStartOffset ?? '-',
      p.highWatermark ?? '-',
    ]),
  )
  const configs = table(['KEY', 'VALUE', 'SOURCE'], d.configs.map((c) => [c.key, c.value ?? '-', c.source]))
  return [...keyValues(summary), '', ...partitions, '', ...configs]
}

/**
 * Incremental where the broker serves it; otherwise the legacy call, which replaces the whole
 * override set, so the current overrides are read first and merged.
 */
async function alterTopicConfig(client: KafkaClient, topic: string, set: Record<string, string>, removed: readonly string[]): Promise<void> {
  if (client.bootstrap.brokerVersions(ApiKey.IncrementalAlterConfigs) !== undefined) {
    const changes = [
      ...Object.entries(set).map(([name, value]) => ({ name, op: AlterConfigOp.SET, value })),
      ...removed.map((name) => ({ name, op: AlterConfigOp.DELETE, value: null })),
    ]
    const response = await client.incrementalAlterConfigs([{ type: ConfigResourceType.TOPIC, name: topic, changes }])
    const result = response.responses[0]
    if (result !== undefined) check(result.errorCode, `alter config of '${topic}'`, result.errorMessage)
    return
  }
  const current = await client.describeConfigs([{ type: ConfigResourceType.TOPIC, name: topic }])
  const described = current.results[0]
  if (described !== undefined) check(described.errorCode, `describe configs of '${topic}'`, described.errorMessage)
  const configs: Record<string, string | null> = {}
  for (const c of described?.configs ?? []) {
    const dynamic = c.configSource === -1 ? !c.isDefault : c.configSource === 1
    if (dynamic && !removed.includes(c.name)) configs[c.name] = c.value
  }
  Object.assign(configs, set)
  const response = await client.alterConfigs([{ type: ConfigResourceType.TOPIC, name: topic, configs }])
  const result = response.responses[0]
  if (result !== undefined) check(result.errorCode, `alter config of '${topic}'`, result.errorMessage)
}
