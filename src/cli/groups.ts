/**
 * `partita groups list|describe|delete|offsets`: kafka-consumer-groups.sh over the Kafka
 * protocol. `offsets` shows, per partition with a committed offset, the log end and the lag.
 */
import type { Command } from 'commander'
import { ErrorCode } from '../common/error-codes.js'
import { decodeAssignment } from '../client/assignors.js'
import { OffsetSpec, type KafkaClient } from '../client/wire/kafka-client.js'
import { addBootstrapOption, check, CliError, printLines, table, withClient, type ClientCommandOptions } from './common.js'

interface GroupOptions extends ClientCommandOptions {
  group: string
}

export function registerGroups(program: Command): void {
  const groups = program.command('groups').description('list, describe, delete consumer groups and show their offsets')

  addBootstrapOption(groups.command('list').description('list group ids')).action(async (options: ClientCommandOptions) => {
    await withClient(options, async (client) => {
      printLines((await client.listGroups()).map((g) => g.groupId))
    })
  })

  addBootstrapOption(groups.command('describe').description("a group's state, protocol and members with their partitions"))
    .requiredOption('--group <id>', 'the group to describe')
    .action(async (options: GroupOptions) => {
      await withClient(options, async (client) => printLines(await describeGroup(client, options.group)))
    })

  addBootstrapOption(groups.command('delete').description('delete an empty group and its committed offsets'))
    .requiredOption('--group <id>', 'the group to delete')
    .action(async (options: GroupOptions) => {
      await withClient(options, async (client) => {
        const [result] = await client.deleteGroups([options.group])
        if (result === undefined) throw new CliError(`delete group '${options.group}': the broker did not answer for it`)
        check(result.errorCode, `delete group '${options.group}'`)
        printLines([`Deleted group ${options.group}.`])
      })
    })

  addBootstrapOption(groups.command('offsets').description('committed offset, log end offset and lag per partition'))
    .requiredOption('--group <id>', 'the group whose offsets to show')
    .action(async (options: GroupOptions) => {
      await withClient(options, async (client) => printLines(await groupOffsets(client, options.group)))
    })
}

async function describeGroup(client: KafkaClient, groupId: string): Promise<string[]> {
  const [group] = await client.describeGroups([groupId])
  if (group === undefined) throw new CliError(`describe group '${groupId}': the broker did not answer for it`)
  check(group.errorCode, `describe group '${groupId}'`)
  // Kafka answers an unknown group with state Dead and no error.
  if (group.groupState === 'Dead') throw new CliError(`describe group '${groupId}': GROUP_ID_NOT_FOUND`)
  const lines = [`Group: ${group.groupId}\tState: ${group.groupState}\tProtocolType: ${group.protocolType}\tProtocol: ${group.protocolData}\tMembers: ${group.members.length}`]
  for (const m of group.members) {
    lines.push(`\tMember: ${m.memberId}\tClientId: ${m.clientId}\tHost: ${m.clientHost}\tAssignment: ${assignmentText(group.protocolType, m.memberAssignment)}`)
  }
  return lines
}

function assignmentText(protocolType: string, bytes: Buffer): string {
  if (protocolType !== 'consumer') return `${bytes.length} bytes`
  try {
    const parts = decodeAssignment(bytes).assignedPartitions.flatMap((tp) => tp.partitions.map((p) => `${tp.topic}-${p}`))
    return parts.length === 0 ? '-' : parts.join(',')
  } catch {
    return `${bytes.length} bytes (undecodable)`
  }
}

async function groupOffsets(client: KafkaClient, groupId: string): Promise<string[]> {
  const response = await client.offsetFetch(groupId, null)
  check(response.errorCode, `fetch offsets of group '${groupId}'`)
  const committed = response.topics
    .flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex, offset: p.committedOffset, errorCode: p.errorCode })))
    .filter((c) => c.offset >= 0)
    .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1))
  if (committed.length === 0) {
    const [group] = await client.describeGroups([groupId])
    if (group === undefined || group.groupState === 'Dead') throw new CliError(`offsets of group '${groupId}': GROUP_ID_NOT_FOUND`)
    return [`Group ${groupId} has no committed offsets.`]
  }
  for (const c of committed) check(c.errorCode, `fetch offset of group '${groupId}' for ${c.topic}-${c.partition}`)
  const ends = await client.listOffsets(committed.map((c) => ({ topic: c.topic, partition: c.partition, timestamp: OffsetSpec.LATEST })))
  const endOf = new Map(ends.map((e) => [`${e.topic}-${e.partition}`, e]))
  const rows = committed.map((c) => {
    const end = endOf.get(`${c.topic}-${c.partition}`)
    const known = end !== undefined && end.errorCode === ErrorCode.NONE
    return [groupId, c.topic, c.partition, c.offset, known ? end.offset : '-', known ? Math.max(0, end.offset - c.offset) : '-']
  })
  return table(['GROUP', 'TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'LOG-END-OFFSET', 'LAG'], rows)
}
