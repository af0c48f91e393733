import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ManualClock } from '../../src/common/clock.js'
import { GroupCoordinator, type GroupCoordinatorOptions, type JoinGroupRequest, type JoinGroupResponse } from '../../src/actors/group-coordinator.js'
import { decodeSubscription, encodeAssignment, encodeSubscription, rangeAssign, toTopicPartitions } from '../../src/client/assignors.js'

export interface Harness {
  clock: ManualClock
  dataDir: string
  coordinator: GroupCoordinator
  reopen(): Promise<GroupCoordinator>
  cleanup(): Promise<void>
}

export async function harness(options: Partial<GroupCoordinatorOptions> = {}): Promise<Harness> {
  const clock = new ManualClock()
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'partita-'))
  const make = (): GroupCoordinator => new GroupCoordinator({ dataDir, clock, ...options })
  const h: Harness = {
    clock,
    dataDir,
    coordinator: make(),
    async reopen() {
      await h.coordinator.close()
      h.coordinator = make()
      await h.coordinator.open()
      return h.coordinator
    },
    async cleanup() {
      await h.coordinator.close()
      fs.rmSync(dataDir, { recursive: true, force: true })
    },
  }
  await h.coordinator.open()
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
