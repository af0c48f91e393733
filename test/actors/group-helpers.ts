import { ManualClock } from '../../src/common/clock.js'
import { GroupCoordinator, type GroupCoordinatorOptions, type GroupLog, type JoinGroupRequest, type JoinGroupResponse } from '../../src/actors/group-coordinator.js'
import { decodeRecord, encodeKey, encodeValue, type GroupRecord } from '../../src/actors/group/group-records.js'
import { PartitaError } from '../../src/common/errors.js'
import { decodeSubscription, encodeAssignment, encodeSubscription, rangeAssign, toTopicPartitions } from '../../src/client/assignors.js'

/**
 * A coordinator's partition of __consumer_offsets, in memory: every record is kept as the key and
 * value bytes Kafka's formats give it, and a coordinator that takes over reads them back.
 */
export class MemoryGroupLog implements GroupLog {
  readonly entries: Array<{ key: Buffer; value: Buffer | null }> = []
  /** While set, appends fail as they do when the partition's leadership has moved. */
  failing = false

  async append(records: GroupRecord[]): Promise<void> {
    if (this.failing) throw new PartitaError('PARTITA_TEST', 'not the leader any more')
    for (const record of records) this.entries.push({ key: encodeKey(record), value: encodeValue(record) })
  }

  records(): GroupRecord[] {
    return this.entries.map((e) => decodeRecord(e.key, e.value)).filter((r): r is GroupRecord => r !== null)
  }
}

export interface Harness {
  clock: ManualClock
  log: MemoryGroupLog
  coordinator: GroupCoordinator
  /** Closes this coordinator and loads a new one from the same partition, as after a failover. */
  reopen(): Promise<GroupCoordinator>
  cleanup(): Promise<void>
}

export async function harness(options: Partial<GroupCoordinatorOptions> = {}): Promise<Harness> {
  const clock = new ManualClock()
  const log = new MemoryGroupLog()
  const make = (): GroupCoordinator => new GroupCoordinator({ clock, log, ...options })
  const h: Harness = {
    clock,
    log,
    coordinator: make(),
    async reopen() {
      h.coordinator.close()
      h.coordinator = make()
      h.coordinator.load(log.records())
      return h.coordinator
    },
    async cleanup() {
      h.coordinator.close()
    },
  }
  h.coordinator.load([])
  return h
}

export function joinRequest(overrides: Partial<JoinGroupRequest> = {}): JoinGroupRequest {
  return {
    groupId: 'g',
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 60_000,
    memberId: '',
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: encodeSubscription({ topics: ['t'] }) }],
    clientId: 'client',
    clientHost: '/127.0.0.1',
    requireKnownMemberId: false,
    ...overrides,
  }
}

/** Whether a promise has settled once pending callbacks have run (no time passes). */
export async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false
  promise.then(
    () => (settled = true),
    () => (settled = true),
  )
  await new Promise((resolve) => setImmediate(resolve))
  return settled
}

/** The leader's side of the consumer protocol: decode subscriptions, range-assign, encode. */
export function leaderAssignments(leader: JoinGroupResponse, partitionCounts: Record<string, number>): { memberId: string; assignment: Buffer }[] {
  const members = leader.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, topics: decodeSubscription(m.metadata).topics }))
  const assignment = rangeAssign(members, partitionCounts)
  return members.map((m) => ({ memberId: m.memberId, assignment: encodeAssignment({ assignedPartitions: toTopicPartitions(assignment[m.memberId]) }) }))
}
