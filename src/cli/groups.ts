/**
 * `partita group list|describe|seek|delete` (alias `groups`): rpk group and
 * kafka-consumer-groups.sh over the Kafka protocol. `describe` prints rpk's columns, the total lag,
 * and the lag in seconds: the age of the oldest record the group has not consumed yet.
 */
import type { Command } from 'commander'
import { ErrorCode } from '../common/error-codes.js'
import { decodeAssignment } from '../client/assignors.js'
import { lagSecondsOf } from '../client/lag-seconds.js'
import { partitionKey } from '../client/group-member.js'
import { OffsetSpec, type KafkaClient, type TopicPartition } from '../client/wire/kafka-client.js'
import {
  addBootstrapOption,
  check,
  CliError,
  formatOption,
  keyValues,
  parseFormat,
  printJson,
  printLines,
  table,
  withClient,
  type ClientCommandOptions,
} from './common.js'
import { parseOffsetSpec, resolveOffsets } from './offsets.js'

interface NamedOptions extends ClientCommandOptions {
  group?: string
}

function groupsOf(names: readonly string[], options: NamedOptions): string[] {
  const all = [...names, ...(options.group === undefined ? [] : [options.group])]
  if (all.length === 0) throw new CliError('name a group')
  return all
}

export function registerGroups(program: Command): void {
  const group = program.command('group').alias('groups').description('list, describe, seek and delete consumer groups')

  formatOption(addBootstrapOption(group.command('list').description('groups with their coordinator and state'))).action(
    async (options: ClientCommandOptions & { format: string }) => {
      const format = parseFormat(options.format)
      await withClient(options, async (client) => {
        const groups = (await client.listGroups()).sort((a, b) => (a.groupId < b.groupId ? -1 : 1))
        const described = groups.length === 0 ? [] : await client.describeGroups(groups.map((g) => g.groupId))
        const stateOf = new Map(described.map((d) => [d.groupId, d.groupState]))
        const rows = groups.map((g) => ({ group: g.groupId, protocolType: g.protocolType, state: stateOf.get(g.groupId) ?? '' }))
        if (format === 'json') printJson(rows)
        else printLines(table(['GROUP', 'PROTOCOL-TYPE', 'STATE'], rows.map((r) => [r.group, r.protocolType, r.state])))
      })
    },
  )

  for (const [name, description] of [
    ['describe', "a group's state, members, and per partition its offsets and lag"],
    ['offsets', 'the same as describe (the earlier name)'],
  ] as const) {
    formatOption(addBootstrapOption(group.command(name).argument('[groups...]').description(description)))
      .option('--group <id>', 'a group (as an argument is the same)')
      .action(async (names: string[], options: NamedOptions & { format: string }) => {
        const format = parseFormat(options.format)
        await withClient(options, async (client) => {
          const described: GroupDescription[] = []
          for (const id of groupsOf(names, options)) described.push(await describeGroup(client, id))
          if (format === 'json') printJson(described)
          else printLines(described.flatMap((d, i) => [...(i > 0 ? [''] : []), ...describeText(d)]))
        })
      })
  }

  addBootstrapOption(group.command('seek').argument('[group]').description("move a stopped group's committed offsets"))
    .option('--group <id>', 'the group (as an argument is the same)')
    .requiredOption('--to <where>', 'start, end, an offset, -N or @TIMESTAMP')
    .option('--topics <list>', 'only these topics, comma-separated (default: every topic the group has offsets for)')
    .action(async (name: string | undefined, options: NamedOptions & { to: string; topics?: string }) => {
      const [groupId] = groupsOf(name === undefined ? [] : [name], options)
      const spec = parseOffsetSpec(options.to)
      const only = options.topics?.split(',').map((t) => t.trim()).filter((t) => t !== '')
      await withClient(options, async (client) => printLines(await seekGroup(client, groupId, spec, only)))
    })

  addBootstrapOption(group.command('delete').argument('[groups...]').description('delete empty groups and their committed offsets'))
    .option('--group <id>', 'a group (as an argument is the same)')
    .action(async (names: string[], options: NamedOptions) => {
      const ids = groupsOf(names, options)
      await withClient(options, async (client) => {
        const results = await client.deleteGroups(ids)
        for (const id of ids) {
          const result = results.find((r) => r.groupId === id)
          if (result === undefined) throw new CliError(`delete group '${id}': the broker did not answer for it`)
          check(result.errorCode, `delete group '${id}'`)
        }
        printLines(ids.map((id) => `Deleted group ${id}.`))
      })
    })
}

interface PartitionLag {
  topic: string
  partition: number
  currentOffset: number | null
  logStartOffset: number | null
  logEndOffset: number | null
  lag: number | null
  /** Age of the oldest unconsumed record, in seconds; 0 when caught up; null when unknown. */
  lagSeconds: number | null
  memberId: string | null
  clientId: string | null
  host: string | null
}

interface GroupDescription {
  group: string
  coordinator: number
  state: string
  protocolType: string
  protocol: string
  members: number
  totalLag: number
  /** The largest partition lag in seconds. */
  lagSeconds: number
  partitions: PartitionLag[]
}

async function describeGroup(client: KafkaClient, groupId: string): Promise<GroupDescription> {
  const [group] = await client.describeGroups([groupId])
  if (group === undefined) throw new CliError(`describe group '${groupId}': the broker did not answer for it`)
  check(group.errorCode, `describe group '${groupId}'`)
  // Kafka answers an unknown group with state Dead and no error.
  if (group.groupState === 'Dead') throw new CliError(`describe group '${groupId}': GROUP_ID_NOT_FOUND`)
  const owners = new Map<string, { memberId: string; clientId: string; host: string }>()
  for (const m of group.members) {
    for (const tp of assignedPartitions(group.protocolType, m.memberAssignment)) {
      owners.set(partitionKey(tp.topic, tp.partition), { memberId: m.memberId, clientId: m.clientId, host: m.clientHost })
    }
  }
  const committed = await committedOffsets(client, groupId)
  const keys = new Set([...committed.keys(), ...owners.keys()])
  const tps = [...keys].map(splitKey).sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1))
  const [starts, ends] = await Promise.all([listed(client, tps, OffsetSpec.EARLIEST), listed(client, tps, OffsetSpec.LATEST)])
  const partitions: PartitionLag[] = tps.map((tp) => {
    const key = partitionKey(tp.topic, tp.partition)
    const current = committed.get(key) ?? null
    const end = ends.get(key) ?? null
    const owner = owners.get(key)
    return {
      ...tp,
      currentOffset: current,
      logStartOffset: starts.get(key) ?? null,
      logEndOffset: end,
      lag: current === null || end === null ? null : Math.max(0, end - current),
      lagSeconds: null,
      memberId: owner?.memberId ?? null,
      clientId: owner?.clientId ?? null,
      host: owner?.host ?? null,
    }
  })
  await addLagSeconds(client, partitions)
  return {
    group: groupId,
    coordinator: await client.findCoordinator(groupId),
    state: group.groupState,
    protocolType: group.protocolType,
    protocol: group.protocolData,
    members: group.members.length,
    totalLag: partitions.reduce((sum, p) => sum + (p.lag ?? 0), 0),
    lagSeconds: partitions.reduce((most, p) => Math.max(most, p.lagSeconds ?? 0), 0),
    partitions,
  }
}

function describeText(d: GroupDescription): string[] {
  const summary = keyValues([
    ['GROUP', d.group],
    ['COORDINATOR', String(d.coordinator)],
    ['STATE', d.state],
    ['BALANCER', d.protocol === '' ? '-' : d.protocol],
    ['MEMBERS', String(d.members)],
    ['TOTAL-LAG', String(d.totalLag)],
    ['LAG-SECONDS', String(d.lagSeconds)],
  ])
  const dash = (v: string | number | null): string | number => (v === null || v === '' ? '-' : v)
  const rows = table(
    ['TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'LOG-START-OFFSET', 'LOG-END-OFFSET', 'LAG', 'MEMBER-ID', 'CLIENT-ID', 'HOST'],
    d.partitions.map((p) => [p.topic, p.partition, dash(p.currentOffset), dash(p.logStartOffset), dash(p.logEndOffset), dash(p.lag), dash(p.memberId), dash(p.clientId), dash(p.host)]),
  )
  return [...summary, '', ...rows]
}

function assignedPartitions(protocolType: string, bytes: Buffer): TopicPartition[] {
  if (protocolType !== 'consumer' || bytes.length === 0) return []
  try {
    return decodeAssignment(bytes).assignedPartitions.flatMap((tp) => tp.partitions.map((partition) => ({ topic: tp.topic, partition })))
  } catch {
    // Another client's assignment format: the partitions still show through their offsets.
    return []
  }
}

function splitKey(key: string): TopicPartition {
  const at = key.lastIndexOf('\0')
  return { topic: key.slice(0, at), partition: Number(key.slice(at + 1)) }
}

async function committedOffsets(client: KafkaClient, groupId: string): Promise<Map<string, number>> {
  const response = await client.offsetFetch(groupId, null)
  check(response.errorCode, `fetch offsets of group '${groupId}'`)
  const out = new Map<string, number>()
  for (const t of response.topics) {
    for (const p of t.partitions) {
      check(p.errorCode, `fetch offset of group '${groupId}' for ${t.name}-${p.partitionIndex}`)
      if (p.committedOffset >= 0) out.set(partitionKey(t.name, p.partitionIndex), p.committedOffset)
    }
  }
  return out
}

async function listed(client: KafkaClient, tps: TopicPartition[], spec: number): Promise<Map<string, number>> {
  if (tps.length === 0) return new Map()
  const results = await client.listOffsets(tps.map((tp) => ({ ...tp, timestamp: spec })))
  return new Map(results.filter((r) => r.errorCode === ErrorCode.NONE).map((r) => [partitionKey(r.topic, r.partition), r.offset]))
}

/** Lag in seconds per partition (see lagSecondsOf): 0 when caught up. */
async function addLagSeconds(client: KafkaClient, partitions: PartitionLag[]): Promise<void> {
  for (const p of partitions) if (p.lag === 0) p.lagSeconds = 0
  const lagging = partitions.filter((p) => p.lag !== null && p.lag > 0 && p.currentOffset !== null)
  const seconds = await lagSecondsOf(
    (inputs) => client.fetch(inputs, { maxWaitMs: 0 }),
    lagging.map((p) => ({ topic: p.topic, partition: p.partition, fromOffset: Math.max(p.currentOffset!, p.logStartOffset ?? 0) })),
  )
  lagging.forEach((p, i) => (p.lagSeconds = seconds[i]))
}

async function seekGroup(client: KafkaClient, groupId: string, spec: ReturnType<typeof parseOffsetSpec>, only: string[] | undefined): Promise<string[]> {
  const [group] = await client.describeGroups([groupId])
  if (group === undefined) throw new CliError(`seek group '${groupId}': the broker did not answer for it`)
  check(group.errorCode, `seek group '${groupId}'`)
  // Offsets of a live group belong to its members: they would overwrite them at their next commit.
  if (group.groupState !== 'Empty' && group.groupState !== 'Dead') {
    throw new CliError(`seek group '${groupId}': the group is ${group.groupState}, stop its consumers first`)
  }
  const committed = await committedOffsets(client, groupId)
  let tps = [...committed.keys()].map(splitKey)
  if (only !== undefined) {
    tps = []
    for (const topic of only) tps.push(...(await client.topic(topic)).partitions.map((p) => ({ topic, partition: p.partition })))
  }
  if (tps.length === 0) throw new CliError(`seek group '${groupId}': it has no offsets; name the topics with --topics`)
  const targets = await resolveOffsets(client, tps, spec)
  const byTopic = new Map<string, { partitionIndex: number; committedOffset: number; committedLeaderEpoch: number; committedMetadata: string }[]>()
  for (const tp of tps) {
    const list = byTopic.get(tp.topic) ?? []
    list.push({ partitionIndex: tp.partition, committedOffset: targets.get(partitionKey(tp.topic, tp.partition))!, committedLeaderEpoch: -1, committedMetadata: '' })
    byTopic.set(tp.topic, list)
  }
  // Generation -1 and no member: an admin commit, which Kafka takes for a group with no members.
  const response = await client.offsetCommit({
    groupId,
    generationIdOrMemberEpoch: -1,
    memberId: '',
    groupInstanceId: null,
    retentionTimeMs: -1,
    topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
  })
  for (const t of response.topics) for (const p of t.partitions) check(p.errorCode, `seek group '${groupId}' on ${t.name}-${p.partitionIndex}`)
  const rows = tps.map((tp) => {
    const key = partitionKey(tp.topic, tp.partition)
    return [tp.topic, tp.partition, committed.get(key) ?? '-', targets.get(key)!]
  })
  return table(['TOPIC', 'PARTITION', 'PRIOR-OFFSET', 'CURRENT-OFFSET'], rows)
}
