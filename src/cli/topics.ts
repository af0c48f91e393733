/**
 * `partita topics list|create|delete|describe|alter-config`: kafka-topics.sh and the topic half
 * of kafka-configs.sh, over the Kafka protocol.
 */
import type { Command } from 'commander'
import { ErrorCode } from '../common/error-codes.js'
import { ApiKey, ZERO_UUID } from '../protocol/index.js'
import { AlterConfigOp, ConfigResourceType, type KafkaClient, type TopicInfo } from '../client/wire/kafka-client.js'
import { addBootstrapOption, check, CliError, collect, parseConfigs, parseInteger, printLines, withClient, type ClientCommandOptions } from './common.js'

// DescribeConfigs v1+ config sources; DEFAULT_CONFIG (5) is what describe leaves out, as Kafka does.
const CONFIG_SOURCE_DEFAULT = 5

interface CreateOptions extends ClientCommandOptions {
  topic: string
  partitions?: string
  replicationFactor?: string
  config?: string[]
  ifNotExists?: boolean
}

interface DescribeOptions extends ClientCommandOptions {
  topic?: string
}

interface AlterOptions extends ClientCommandOptions {
  topic: string
  config?: string[]
  deleteConfig?: string[]
}

export function registerTopics(program: Command): void {
  const topics = program.command('topics').description('list, create, delete, describe and configure topics')

  addBootstrapOption(topics.command('list').description('list topic names'))
    .option('--exclude-internal', 'leave out internal topics')
    .action(async (options: ClientCommandOptions & { excludeInternal?: boolean }) => {
      await withClient(options, async (client) => {
        const meta = await client.metadata(null)
        const names = meta.topics.filter((t) => options.excludeInternal !== true || !t.isInternal).map((t) => t.name)
        printLines(names.sort())
      })
    })

  addBootstrapOption(topics.command('create').description('create a topic'))
    .requiredOption('--topic <name>', 'the topic to create')
    .option('--partitions <n>', "partition count (default: the broker's num.partitions)")
    .option('--replication-factor <n>', "replicas per partition (default: the broker's default.replication.factor)")
    .option('--config <name=value>', 'a topic config override (repeatable)', collect)
    .option('--if-not-exists', 'succeed when the topic already exists')
    .action(async (options: CreateOptions) => {
      const numPartitions = options.partitions === undefined ? -1 : parseInteger('partitions', options.partitions, 1, 2 ** 31 - 1)
      const replicationFactor = options.replicationFactor === undefined ? -1 : parseInteger('replication-factor', options.replicationFactor, 1, 32767)
      const configs = parseConfigs(options.config)
      await withClient(options, async (client) => {
        const response = await client.createTopics([{ name: options.topic, numPartitions, replicationFactor, configs }])
        const result = response.topics.find((t) => t.name === options.topic)
        if (result === undefined) throw new CliError(`create topic '${options.topic}': the broker did not answer for it`)
        if (result.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS && options.ifNotExists === true) return
        check(result.errorCode, `create topic '${options.topic}'`, result.errorMessage)
        printLines([`Created topic ${options.topic}.`])
      })
    })

  addBootstrapOption(topics.command('delete').description('delete a topic'))
    .requiredOption('--topic <name>', 'the topic to delete')
    .action(async (options: ClientCommandOptions & { topic: string }) => {
      await withClient(options, async (client) => {
        const response = await client.deleteTopics([options.topic])
        const result = response.responses.find((r) => r.name === options.topic) ?? response.responses[0]
        if (result === undefined) throw new CliError(`delete topic '${options.topic}': the broker did not answer for it`)
        check(result.errorCode, `delete topic '${options.topic}'`, result.errorMessage)
        printLines([`Deleted topic ${options.topic}.`])
      })
    })

  addBootstrapOption(topics.command('describe').description('partitions, leaders, replicas, ISR and non-default configs'))
    .option('--topic <name>', 'the topic to describe (default: every topic)')
    .action(async (options: DescribeOptions) => {
      await withClient(options, async (client) => {
        const meta = await client.metadata(options.topic === undefined ? null : [options.topic])
        const lines: string[] = []
        for (const topic of meta.topics.sort((a, b) => (a.name < b.name ? -1 : 1))) {
          check(topic.errorCode, `describe topic '${topic.name}'`)
          lines.push(...(await describeTopic(client, topic)))
        }
        printLines(lines)
      })
    })

  addBootstrapOption(topics.command('alter-config').description("set or delete a topic's config overrides"))
    .requiredOption('--topic <name>', 'the topic to configure')
    .option('--config <name=value>', 'set an override (repeatable)', collect)
    .option('--delete-config <name>', 'remove an override (repeatable)', collect)
    .action(async (options: AlterOptions) => {
      const set = parseConfigs(options.config)
      const removed = options.deleteConfig ?? []
      if (Object.keys(set).length === 0 && removed.length === 0) throw new CliError('alter-config needs --config or --delete-config')
      await withClient(options, async (client) => {
        await alterTopicConfig(client, options.topic, set, removed)
        printLines([`Altered config of topic ${options.topic}.`])
      })
    })
}

async function describeTopic(client: KafkaClient, topic: TopicInfo): Promise<string[]> {
  const response = await client.describeConfigs([{ type: ConfigResourceType.TOPIC, name: topic.name }])
  const result = response.results[0]
  if (result !== undefined) check(result.errorCode, `describe configs of '${topic.name}'`, result.errorMessage)
  const overrides = (result?.configs ?? [])
    .filter((c) => (c.configSource === -1 ? !c.isDefault : c.configSource !== CONFIG_SOURCE_DEFAULT))
    .map((c) => `${c.name}=${c.isSensitive ? '(sensitive)' : (c.value ?? '')}`)
    .sort()
  const replicationFactor = topic.partitions[0]?.replicas.length ?? 0
  // Metadata below v10 carries no topic ids; a zero id means "not told", so it is left out.
  const topicId = topic.topicId === ZERO_UUID ? '' : `\tTopicId: ${topic.topicId}`
  const lines = [
    `Topic: ${topic.name}${topicId}\tPartitionCount: ${topic.partitions.length}\tReplicationFactor: ${replicationFactor}\tConfigs: ${overrides.join(',')}`,
  ]
  for (const p of topic.partitions) {
    const offline = p.offline.length > 0 ? `\tOffline: ${p.offline.join(',')}` : ''
    lines.push(`\tTopic: ${topic.name}\tPartition: ${p.partition}\tLeader: ${p.leader < 0 ? 'none' : p.leader}\tReplicas: ${p.replicas.join(',')}\tIsr: ${p.isr.join(',')}${offline}`)
  }
  return lines
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
