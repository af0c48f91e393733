import { afterEach, describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/common/error-codes.js'
import type { GroupCoordinator, JoinGroupResponse, SyncGroupResponse } from '../../src/actors/group-coordinator.js'
import { decodeAssignment, encodeSubscription } from '../../src/client/assignors.js'
import { harness, isSettled, joinRequest, leaderAssignments, type Harness } from './group-helpers.js'

let current: Harness | null = null
afterEach(async () => {
  await current?.cleanup()
  current = null
})

async function setup(options: Parameters<typeof harness>[0] = {}): Promise<Harness> {
  current = await harness(options)
  return current
}

interface Formed {
  joins: JoinGroupResponse[]
  syncs: SyncGroupResponse[]
  leader: JoinGroupResponse
}

/** Syncs every joined member (the leader with range assignments) and returns the responses. */
async function syncAll(c: GroupCoordinator, joins: JoinGroupResponse[], partitionCounts: Record<string, number>): Promise<SyncGroupResponse[]> {
  const leader = joins.find((j) => j.memberId === j.leader)!
  const followerSyncs = joins
    .filter((j) => j !== leader)
    .map((j) => c.syncGroup({ groupId: 'g', generationId: j.generationId, memberId: j.memberId, assignments: [] }))
  const leaderSync = c.syncGroup({ groupId: 'g', generationId: leader.generationId, memberId: leader.memberId, assignments: leaderAssignments(leader, partitionCounts) })
  const all = await Promise.all([...followerSyncs, leaderSync])
  // Back in join order.
  const byMember = new Map(joins.filter((j) => j !== leader).map((j, i) => [j.memberId, all[i]]))
  byMember.set(leader.memberId, all[all.length - 1])
  return joins.map((j) => byMember.get(j.memberId)!)
}

/** n members join an Empty group together and sync; the initial delay is waited out. */
async function formGroup(h: Harness, n: number, partitionCounts: Record<string, number> = { t: 6 }): Promise<Formed> {
  const pending = Array.from({ length: n }, (_, i) => h.coordinator.joinGroup(joinRequest({ clientId: `c${i}` })))
  h.clock.advance(6_000)
  const joins = await Promise.all(pending)
  const syncs = await syncAll(h.coordinator, joins, partitionCounts)
  return { joins, syncs, leader: joins.find((j) => j.memberId === j.leader)! }
}

function partitionsOf(sync: SyncGroupResponse): string[] {
  return decodeAssignment(sync.assignment).assignedPartitions.flatMap(({ topic, partitions }) => partitions.map((p) => `${topic}-${p}`))
}

function expectDisjointCover(syncs: SyncGroupResponse[], expected: string[]): void {
  const all = syncs.flatMap(partitionsOf)
  expect(new Set(all).size).toBe(all.length)
  expect([...all].sort()).toEqual([...expected].sort())
}

describe('GroupCoordinator membership', () => {
  it('forms one generation of two members with one leader who sees both subscriptions', async () => {
    const h = await setup()
    const { joins, syncs, leader } = await formGroup(h, 2)
    expect(joins.map((j) => j.errorCode)).toEqual([0, 0])
    expect(new Set(joins.map((j) => j.generationId))).toEqual(new Set([1]))
    expect(new Set(joins.map((j) => j.leader)).size).toBe(1)
    expect(leader.memberId).toBe(joins[0].memberId)
    expect(leader.members.map((m) => m.memberId)).toEqual(joins.map((j) => j.memberId))
    expect(joins[1].members).toEqual([])
    expect(joins[0].memberId).toMatch(/^c0-[0-9a-f-]{36}$/)
    expect(joins.every((j) => j.protocolType === 'consumer' && j.protocolName === 'range')).toBe(true)
    expect(syncs.map((s) => s.errorCode)).toEqual([0, 0])
    // Range gives the member whose id sorts first the first half.
    const [low, high] = joins[0].memberId < joins[1].memberId ? [0, 1] : [1, 0]
    expect(partitionsOf(syncs[low])).toEqual(['t-0', 't-1', 't-2'])
    expect(partitionsOf(syncs[high])).toEqual(['t-3', 't-4', 't-5'])
    expectDisjointCover(syncs, ['t-0', 't-1', 't-2', 't-3', 't-4', 't-5'])
    expect(h.coordinator.describeGroups(['g'])[0].groupState).toBe('Stable')
  })

  it("keeps a member's subscription and assignment in bytes of its own, not in the request frames they came in", async () => {
    const h = await setup()
    // As decoded from the wire: bytes in memory shared with others (a read, a pool slab).
    const inFrame = (bytes: Buffer): { view: Buffer; frame: Buffer } => {
      const frame = Buffer.alloc(64 * 1024)
      bytes.copy(frame, 100)
      return { view: frame.subarray(100, 100 + bytes.length), frame }
    }
    const subscription = encodeSubscription({ topics: ['t'] })
    const joinFrame = inFrame(subscription)
    const pending = h.coordinator.joinGroup(joinRequest({ protocols: [{ name: 'range', metadata: joinFrame.view }] }))
    h.clock.advance(6_000)
    const join = await pending
    const [{ assignment }] = leaderAssignments(join, { t: 2 })
    const syncFrame = inFrame(assignment)
    await h.coordinator.syncGroup({ groupId: 'g', generationId: join.generationId, memberId: join.memberId, assignments: [{ memberId: join.memberId, assignment: syncFrame.view }] })
    // The shared memory is reused, as a pooled read buffer is.
    joinFrame.frame.fill(0xee)
    syncFrame.frame.fill(0xee)
    const [member] = h.coordinator.describeGroups(['g'])[0].members
    expect(member.memberMetadata).toEqual(subscription)
    expect(member.memberAssignment).toEqual(assignment)
    expect(member.memberMetadata.buffer.byteLength).toBe(subscription.length)
    expect(member.memberAssignment.buffer.byteLength).toBe(assignment.length)
  })

  it('hands each of three members its own part of a range assignment over two topics', async () => {
    const h = await setup()
    const pending = [0, 1, 2].map((i) =>
      h.coordinator.joinGroup(joinRequest({ clientId: `c${i}`, protocols: [{ name: 'range', metadata: encodeSubscription({ topics: ['a', 'b'] }) }] })),
    )
    h.clock.advance(6_000)
    const joins = await Promise.all(pending)
    expect(new Set(joins.map((j) => j.leader)).size).toBe(1)
    const syncs = await syncAll(h.coordinator, joins, { a: 4, b: 3 })
    expect(syncs.every((s) => partitionsOf(s).length >= 2)).toBe(true)
    expectDisjointCover(syncs, ['a-0', 'a-1', 'a-2', 'a-3', 'b-0', 'b-1', 'b-2'])
  })

  it('rebalances when a member leaves: the others rejoin into the next generation and cover all partitions', async () => {
    const h = await setup()
    const { joins } = await formGroup(h, 3)
    const left = h.coordinator.leaveGroup({ groupId: 'g', members: [{ memberId: joins[1].memberId }] })
    expect(left).toEqual({ errorCode: 0, members: [{ memberId: joins[1].memberId, groupInstanceId: null, errorCode: 0 }] })
    expect(h.coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: joins[0].memberId }).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
    const first = h.coordinator.joinGroup(joinRequest({ memberId: joins[0].memberId, clientId: 'c0' }))
    expect(await isSettled(first)).toBe(false)
    const second = h.coordinator.joinGroup(joinRequest({ memberId: joins[2].memberId, clientId: 'c2' }))
    const rejoined = await Promise.all([first, second])
    expect(rejoined.map((j) => j.generationId)).toEqual([2, 2])
    expect(rejoined[0].members.map((m) => m.memberId)).toEqual([joins[0].memberId, joins[2].memberId])
    expectDisjointCover(await syncAll(h.coordinator, rejoined, { t: 6 }), ['t-0', 't-1', 't-2', 't-3', 't-4', 't-5'])
  })

  it('removes a member whose session expires and rebalances the rest', async () => {
    const h = await setup()
    const { joins } = await formGroup(h, 3)
    const [a, silent, c] = joins
    // a and c heartbeat every 3 s; the silent member's 10 s session runs out.
    for (let t = 0; t < 9_000; t += 3_000) {
      h.clock.advance(3_000)
      expect(h.coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: a.memberId }).errorCode).toBe(0)
      expect(h.coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: c.memberId }).errorCode).toBe(0)
    }
    h.clock.advance(1_500)
    expect(h.coordinator.describeGroups(['g'])[0].members.map((m) => m.memberId)).toEqual([a.memberId, c.memberId])
    expect(h.coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: silent.memberId }).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    expect(h.coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: a.memberId }).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
    const rejoined = await Promise.all([
      h.coordinator.joinGroup(joinRequest({ memberId: a.memberId })),
      h.coordinator.joinGroup(joinRequest({ memberId: c.memberId })),
    ])
    expect(rejoined.map((j) => j.generationId)).toEqual([2, 2])
    expect(rejoined[0].members).toHaveLength(2)
  })

  it('expires a session that ran out while the broker was frozen, even when the heartbeat is read before the timer fires', async () => {
    const h = await setup()
    const { joins } = await formGroup(h, 2)
    const [a, b] = joins
    // SIGSTOP for 10 s, past the 10 s sessions: on SIGCONT the waiting heartbeat is handled first.
    h.clock.jump(10_001)
    expect(h.coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: a.memberId }).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    // The other member is overdue too, and its overdue timer then fires: the group starts over.
    h.clock.advance(0)
    expect(h.coordinator.describeGroups(['g'])[0].members).toEqual([])
    expect(h.coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: b.memberId }).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
  })

  it('refuses an OffsetCommit read before the expiry timer of a session that ran out while the broker was frozen, and rebalances', async () => {
    const h = await setup()
    const { joins } = await formGroup(h, 2)
    const [a, b] = joins
    h.clock.jump(10_001)
    const commit = await h.coordinator.commitOffsets({ groupId: 'g', generationId: 1, memberId: a.memberId, offsets: [{ topic: 't', partition: 0, offset: 7, metadata: '' }] })
    expect(commit.map((p) => p.errorCode)).toEqual([ErrorCode.UNKNOWN_MEMBER_ID])
    expect(h.coordinator.describeGroups(['g'])[0].members.map((m) => m.memberId)).toEqual([b.memberId])
  })

  it('removes members that do not rejoin before the rebalance timeout', async () => {
    const h = await setup()
    const { joins } = await formGroup(h, 2)
    const rejoin = h.coordinator.joinGroup(joinRequest({ memberId: joins[0].memberId, rebalanceTimeoutMs: 20_000 }))
    // The other member stays alive (its heartbeats say REBALANCE_IN_PROGRESS) but never rejoins;
    // the group waits for the largest rebalance timeout among its members, 60 s.
    for (let t = 0; t < 55_000; t += 5_000) {
      h.clock.advance(5_000)
      expect(h.coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: joins[1].memberId }).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
    }
    h.clock.advance(4_999)
    expect(await isSettled(rejoin)).toBe(false)
    h.clock.advance(1)
    const response = await rejoin
    expect(response.generationId).toBe(2)
    expect(response.members.map((m) => m.memberId)).toEqual([joins[0].memberId])
  })

  it('refuses a session timeout at any int32 extreme with INVALID_SESSION_TIMEOUT, before anything else', async () => {
    const h = await setup()
    for (const sessionTimeoutMs of [-(2 ** 31), -1, 0, 1, 2 ** 31 - 1]) {
      const response = await h.coordinator.joinGroup(joinRequest({ sessionTimeoutMs, memberId: 'unknown' }))
      expect(response.errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT)
    }
    expect(h.coordinator.listGroups().groups).toEqual([])
  })

  it('waits a rebalance timeout of 2^31-1 ms out for a live member that does not rejoin', async () => {
    const h = await setup()
    const sessionTimeoutMs = 1_800_000
    const rebalanceTimeoutMs = 2 ** 31 - 1
    const pending = [0, 1].map((i) => h.coordinator.joinGroup(joinRequest({ clientId: `c${i}`, sessionTimeoutMs, rebalanceTimeoutMs })))
    h.clock.advance(6_000)
    const joins = await Promise.all(pending)
    await syncAll(h.coordinator, joins, { t: 2 })
    const leader = joins.find((j) => j.memberId === j.leader)!
    const other = joins.find((j) => j !== leader)!
    const rejoin = h.coordinator.joinGroup(joinRequest({ memberId: leader.memberId, sessionTimeoutMs, rebalanceTimeoutMs }))
    let waitedMs = 0
    // The other member stays alive by heartbeat but never rejoins; steps well inside its session.
    for (const stepMs = 1_000_000; waitedMs + stepMs < rebalanceTimeoutMs; waitedMs += stepMs) {
      h.clock.advance(stepMs)
      expect(h.coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: other.memberId }).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
    }
    h.clock.advance(rebalanceTimeoutMs - waitedMs - 1)
    expect(await isSettled(rejoin)).toBe(false)
    h.clock.advance(1)
    expect(await rejoin).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 2, members: [{ memberId: leader.memberId }] })
  })

  it('asks for a member id first only from JoinGroup v4 (KIP-394)', async () => {
    const h = await setup()
    const first = await h.coordinator.joinGroup(joinRequest({ requireKnownMemberId: true, clientId: 'kafkajs' }))
    expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED)
    expect(first.memberId).toMatch(/^kafkajs-/)
    const second = h.coordinator.joinGroup(joinRequest({ requireKnownMemberId: true, memberId: first.memberId }))
    h.clock.advance(3_000)
    expect(await second).toMatchObject({ errorCode: 0, memberId: first.memberId, leader: first.memberId, generationId: 1 })

    const old = h.coordinator.joinGroup(joinRequest({ groupId: 'g3', requireKnownMemberId: false, clientId: 'old' }))
    h.clock.advance(3_000)
    const oldResponse = await old
    expect(oldResponse.errorCode).toBe(0)
    expect(oldResponse.memberId).toMatch(/^old-/)
  })

  it('forgets a KIP-394 member id that is not used within the session timeout', async () => {
    const h = await setup()
    const first = await h.coordinator.joinGroup(joinRequest({ requireKnownMemberId: true }))
    h.clock.advance(10_000)
    const late = await h.coordinator.joinGroup(joinRequest({ requireKnownMemberId: true, memberId: first.memberId }))
    expect(late.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
  })

  it('picks the protocol by vote among those every member supports', async () => {
    const h = await setup()
    const proto = (name: string): { name: string; metadata: Buffer } => ({ name, metadata: Buffer.from(name) })
    const pending = [
      h.coordinator.joinGroup(joinRequest({ protocols: [proto('range'), proto('roundrobin'), proto('sticky')] })),
      h.coordinator.joinGroup(joinRequest({ protocols: [proto('roundrobin'), proto('range')] })),
      h.coordinator.joinGroup(joinRequest({ protocols: [proto('sticky'), proto('roundrobin'), proto('range')] })),
    ]
    h.clock.advance(6_000)
    const joins = await Promise.all(pending)
    // range: 1 vote (the leader); roundrobin: 1; sticky is not common; the third votes roundrobin.
    expect(joins.map((j) => j.protocolName)).toEqual(['roundrobin', 'roundrobin', 'roundrobin'])
    expect(joins[0].members.map((m) => m.metadata.toString())).toEqual(['roundrobin', 'roundrobin', 'roundrobin'])
  })

  it('refuses a joiner that shares no protocol or protocol type with the group', async () => {
    const h = await setup()
    const first = h.coordinator.joinGroup(joinRequest())
    const noCommon = await h.coordinator.joinGroup(joinRequest({ protocols: [{ name: 'sticky', metadata: Buffer.alloc(0) }] }))
    expect(noCommon.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
    const otherType = await h.coordinator.joinGroup(joinRequest({ protocolType: 'connect' }))
    expect(otherType.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
    const empty = await h.coordinator.joinGroup(joinRequest({ groupId: 'other', protocols: [] }))
    expect(empty.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
    h.clock.advance(3_000)
    expect((await first).members).toHaveLength(1)
  })

  it('holds the first rebalance for the initial delay, extending it for each new joiner up to the rebalance timeout', async () => {
    const h = await setup()
    const single = h.coordinator.joinGroup(joinRequest({ groupId: 'solo' }))
    h.clock.advance(2_999)
    expect(await isSettled(single)).toBe(false)
    h.clock.advance(1)
    expect((await single).generationId).toBe(1)

    const a = h.coordinator.joinGroup(joinRequest())
    h.clock.advance(1_000)
    const b = h.coordinator.joinGroup(joinRequest())
    h.clock.advance(2_000)
    expect(await isSettled(a)).toBe(false)
    h.clock.advance(2_999)
    expect(await isSettled(b)).toBe(false)
    h.clock.advance(1)
    expect((await a).members).toHaveLength(2)

    // A 4 s rebalance timeout leaves 1 s after the first 3 s delay: the extension is capped.
    const c = h.coordinator.joinGroup(joinRequest({ groupId: 'capped', rebalanceTimeoutMs: 4_000 }))
    h.clock.advance(1_000)
    h.coordinator.joinGroup(joinRequest({ groupId: 'capped', rebalanceTimeoutMs: 4_000 })).catch(() => undefined)
    h.clock.advance(2_999)
    expect(await isSettled(c)).toBe(false)
    h.clock.advance(1)
    expect((await c).members).toHaveLength(2)
  })

  it('honours a configured initial rebalance delay', async () => {
    const h = await setup({ initialRebalanceDelayMs: 500 })
    const join = h.coordinator.joinGroup(joinRequest())
    h.clock.advance(499)
    expect(await isSettled(join)).toBe(false)
    h.clock.advance(1)
    expect((await join).errorCode).toBe(0)
  })

  it('answers SyncGroup errors: unknown member, wrong generation, rebalance in progress', async () => {
    const h = await setup()
    const { joins } = await formGroup(h, 2)
    const sync = (memberId: string, generationId: number): Promise<SyncGroupResponse> => h.coordinator.syncGroup({ groupId: 'g', generationId, memberId, assignments: [] })
    expect((await sync('nobody', 1)).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    expect((await h.coordinator.syncGroup({ groupId: 'nope', generationId: 1, memberId: 'x', assignments: [] })).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    expect((await sync(joins[1].memberId, 7)).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION)
    const stable = await sync(joins[1].memberId, 1)
    expect(stable.errorCode).toBe(0)
    expect(partitionsOf(stable).length).toBe(3)
    const rejoin = h.coordinator.joinGroup(joinRequest({ memberId: joins[0].memberId }))
    expect((await sync(joins[1].memberId, 1)).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
    h.clock.advance(60_000)
    await rejoin
  })

  it('answers a pending SyncGroup with REBALANCE_IN_PROGRESS when a rebalance starts before the leader assigns', async () => {
    const h = await setup()
    const pending = [h.coordinator.joinGroup(joinRequest()), h.coordinator.joinGroup(joinRequest())]
    h.clock.advance(6_000)
    const joins = await Promise.all(pending)
    const followerSync = h.coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: joins[1].memberId, assignments: [] })
    expect(await isSettled(followerSync)).toBe(false)
    const newcomer = h.coordinator.joinGroup(joinRequest())
    expect((await followerSync).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
    h.clock.advance(60_000)
    expect((await newcomer).generationId).toBe(2)
  })

  it('answers Heartbeat errors: unknown member, wrong generation', async () => {
    const h = await setup()
    const { joins } = await formGroup(h, 1)
    expect(h.coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: joins[0].memberId }).errorCode).toBe(0)
    expect(h.coordinator.heartbeat({ groupId: 'g', generationId: 2, memberId: joins[0].memberId }).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION)
    expect(h.coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: 'x' }).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    expect(h.coordinator.heartbeat({ groupId: 'none', generationId: 1, memberId: 'x' }).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
  })

  it('leaves a batch of members at once (LeaveGroup v3+), reporting unknown ones per member', async () => {
    const h = await setup()
    const { joins } = await formGroup(h, 3)
    const response = h.coordinator.leaveGroup({ groupId: 'g', members: joins.map((j) => ({ memberId: j.memberId })).concat([{ memberId: 'ghost' }]) })
    expect(response.members.map((m) => m.errorCode)).toEqual([0, 0, 0, ErrorCode.UNKNOWN_MEMBER_ID])
    h.clock.advance(60_000)
    expect(h.coordinator.listGroups().groups).toEqual([{ groupId: 'g', protocolType: 'consumer', groupState: 'Empty' }])
  })

  it('enforces group.max.size, the session timeout range and a non-empty group id', async () => {
    const h = await setup({ groupMaxSize: 2 })
    const a = h.coordinator.joinGroup(joinRequest())
    const b = h.coordinator.joinGroup(joinRequest())
    expect((await h.coordinator.joinGroup(joinRequest())).errorCode).toBe(ErrorCode.GROUP_MAX_SIZE_REACHED)
    expect((await h.coordinator.joinGroup(joinRequest({ sessionTimeoutMs: 5_999 }))).errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT)
    expect((await h.coordinator.joinGroup(joinRequest({ sessionTimeoutMs: 1_800_001 }))).errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT)
    expect((await h.coordinator.joinGroup(joinRequest({ groupId: '' }))).errorCode).toBe(ErrorCode.INVALID_GROUP_ID)
    h.clock.advance(6_000)
    expect((await a).members).toHaveLength(2)
    await b
  })

  it('lets a static member restart with its group.instance.id without a rebalance, fencing the old id', async () => {
    const h = await setup()
    const pending = [h.coordinator.joinGroup(joinRequest({ groupInstanceId: 'i-0' })), h.coordinator.joinGroup(joinRequest({ groupInstanceId: 'i-1' }))]
    h.clock.advance(6_000)
    const joins = await Promise.all(pending)
    expect(joins[0].memberId).toMatch(/^i-0-/)
    const syncs = await syncAll(h.coordinator, joins, { t: 4 })
    const restarted = await h.coordinator.joinGroup(joinRequest({ groupInstanceId: 'i-1', requireKnownMemberId: true }))
    expect(restarted).toMatchObject({ errorCode: 0, generationId: 1 })
    expect(restarted.memberId).not.toBe(joins[1].memberId)
    const again = await h.coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: restarted.memberId, groupInstanceId: 'i-1', assignments: [] })
    expect(again.assignment.equals(syncs[1].assignment)).toBe(true)
    expect(h.coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: joins[1].memberId, groupInstanceId: 'i-1' }).errorCode).toBe(ErrorCode.FENCED_INSTANCE_ID)
    expect(h.coordinator.describeGroups(['g'])[0].groupState).toBe('Stable')
  })
})

describe('GroupCoordinator offsets', () => {
  const offset = (partition: number, value: number): { topic: string; partition: number; offset: number; metadata: string } => ({ topic: 't', partition, offset: value, metadata: '' })

  it('accepts a generation-less commit for an unknown group, creating it Empty', async () => {
    const h = await setup()
    const results = await h.coordinator.commitOffsets({ groupId: 'simple', generationId: -1, memberId: '', offsets: [offset(0, 42)] })
    expect(results).toEqual([{ topic: 't', partition: 0, errorCode: 0 }])
    expect(h.coordinator.listGroups().groups).toEqual([{ groupId: 'simple', protocolType: '', groupState: 'Empty' }])
    expect(h.coordinator.fetchOffsets({ groupId: 'simple', topics: [{ topic: 't', partitions: [0, 1] }] }).topics).toEqual([
      {
        topic: 't',
        partitions: [
          { partition: 0, offset: 42, leaderEpoch: -1, metadata: '', errorCode: 0 },
          { partition: 1, offset: -1, leaderEpoch: -1, metadata: '', errorCode: 0 },
        ],
      },
    ])
  })

  it('answers every commit error: wrong generation, unknown member, rebalance in progress, generation-less on a live group', async () => {
    const h = await setup()
    const { joins } = await formGroup(h, 2)
    const commit = (generationId: number, memberId: string, groupId = 'g'): Promise<number[]> =>
      h.coordinator.commitOffsets({ groupId, generationId, memberId, offsets: [offset(0, 1), offset(1, 2)] }).then((r) => r.map((p) => p.errorCode))
    expect(await commit(1, joins[0].memberId)).toEqual([0, 0])
    expect(await commit(2, joins[0].memberId)).toEqual([ErrorCode.ILLEGAL_GENERATION, ErrorCode.ILLEGAL_GENERATION])
    expect(await commit(1, 'stranger')).toEqual([ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.UNKNOWN_MEMBER_ID])
    expect(await commit(-1, '')).toEqual([ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.UNKNOWN_MEMBER_ID])
    expect(await commit(3, 'x', 'never-seen')).toEqual([ErrorCode.ILLEGAL_GENERATION, ErrorCode.ILLEGAL_GENERATION])
    expect(await commit(1, joins[0].memberId, '')).toEqual([ErrorCode.INVALID_GROUP_ID, ErrorCode.INVALID_GROUP_ID])

    // PreparingRebalance: as Kafka, the still-current generation may commit (eager consumers commit before rejoining).
    const rejoins = [h.coordinator.joinGroup(joinRequest({ memberId: joins[0].memberId }))]
    expect(await commit(1, joins[1].memberId)).toEqual([0, 0])
    rejoins.push(h.coordinator.joinGroup(joinRequest({ memberId: joins[1].memberId })))
    const next = await Promise.all(rejoins)
    // CompletingRebalance: joined the new generation but no assignment yet.
    expect(await commit(2, joins[1].memberId)).toEqual([ErrorCode.REBALANCE_IN_PROGRESS, ErrorCode.REBALANCE_IN_PROGRESS])
    await syncAll(h.coordinator, next, { t: 2 })
    expect(await commit(2, joins[1].memberId)).toEqual([0, 0])
  })

  it('rejects commit metadata beyond offset.metadata.max.bytes per partition', async () => {
    const h = await setup({ offsetMetadataMaxBytes: 10 })
    const results = await h.coordinator.commitOffsets({
      groupId: 's',
      generationId: -1,
      memberId: '',
      offsets: [{ topic: 't', partition: 0, offset: 1, metadata: 'x'.repeat(11) }, { topic: 't', partition: 1, offset: 1, metadata: 'ok' }],
    })
    expect(results.map((r) => r.errorCode)).toEqual([ErrorCode.OFFSET_METADATA_TOO_LARGE, 0])
  })

  it('accepts a generation-less commit only while the group is Empty', async () => {
    const h = await setup()
    const { joins } = await formGroup(h, 1)
    h.coordinator.leaveGroup({ groupId: 'g', members: [{ memberId: joins[0].memberId }] })
    expect(h.coordinator.describeGroups(['g'])[0].groupState).toBe('Empty')
    const results = await h.coordinator.commitOffsets({ groupId: 'g', generationId: -1, memberId: '', offsets: [offset(0, 5)] })
    expect(results[0].errorCode).toBe(0)
  })

  it('fetches every committed partition when topics is null', async () => {
    const h = await setup()
    await h.coordinator.commitOffsets({ groupId: 's', generationId: -1, memberId: '', offsets: [offset(1, 7), { topic: 'a', partition: 0, offset: 3, leaderEpoch: 4, metadata: 'm' }, offset(0, 6)] })
    const response = h.coordinator.fetchOffsets({ groupId: 's', topics: null })
    expect(response.topics.map((t) => [t.topic, t.partitions.map((p) => [p.partition, p.offset, p.leaderEpoch, p.metadata])])).toEqual([
      ['a', [[0, 3, 4, 'm']]],
      ['t', [[0, 6, -1, ''], [1, 7, -1, '']]],
    ])
    expect(h.coordinator.fetchOffsets({ groupId: 'unknown' })).toEqual({ errorCode: 0, topics: [] })
  })

  it('keeps commits, groups and a Stable group\'s members when another coordinator loads the partition', async () => {
    const h = await setup()
    const { joins } = await formGroup(h, 1)
    await h.coordinator.commitOffsets({ groupId: 'g', generationId: 1, memberId: joins[0].memberId, offsets: [offset(0, 10), offset(1, 20)] })
    await h.coordinator.commitOffsets({ groupId: 'g', generationId: 1, memberId: joins[0].memberId, offsets: [offset(0, 11)] })
    await h.coordinator.commitOffsets({ groupId: 's', generationId: -1, memberId: '', offsets: [offset(3, 30)] })
    const c = await h.reopen()
    expect(c.fetchOffsets({ groupId: 'g' }).topics[0].partitions.map((p) => p.offset)).toEqual([11, 20])
    expect(c.fetchOffsets({ groupId: 's' }).topics[0].partitions.map((p) => p.offset)).toEqual([30])
    expect(c.listGroups().groups).toEqual([
      { groupId: 'g', protocolType: 'consumer', groupState: 'Stable' },
      { groupId: 's', protocolType: '', groupState: 'Empty' },
    ])
    // As after a Kafka coordinator moves, the member carries on in its generation with its assignment.
    expect(c.heartbeat({ groupId: 'g', generationId: 1, memberId: joins[0].memberId }).errorCode).toBe(ErrorCode.NONE)
    const synced = await c.syncGroup({ groupId: 'g', generationId: 1, memberId: joins[0].memberId, assignments: [] })
    expect(synced.errorCode).toBe(ErrorCode.NONE)
    expect(synced.assignment.length).toBeGreaterThan(0)
    // A member that never heartbeats to the new coordinator is expired within its session.
    h.clock.advance(10_001)
    expect(c.listGroups().groups.find((g) => g.groupId === 'g')?.groupState).toBe('Empty')
  })

  it('answers a commit that could not be replicated with NOT_COORDINATOR, and does not apply it', async () => {
    const h = await setup()
    await h.coordinator.commitOffsets({ groupId: 's', generationId: -1, memberId: '', offsets: [offset(0, 1)] })
    h.log.failing = true
    const results = await h.coordinator.commitOffsets({ groupId: 's', generationId: -1, memberId: '', offsets: [offset(0, 2)] })
    expect(results.map((r) => r.errorCode)).toEqual([ErrorCode.NOT_COORDINATOR])
    expect(h.coordinator.fetchOffsets({ groupId: 's' }).topics[0].partitions[0].offset).toBe(1)
  })

  it('writes commits and group metadata in Kafka\'s record formats, later records winning on load', async () => {
    const h = await setup()
    for (let i = 0; i < 10; i++) await h.coordinator.commitOffsets({ groupId: 's', generationId: -1, memberId: '', offsets: [offset(i % 3, i)] })
    const keys = h.log.entries.map((e) => e.key.readInt16BE(0))
    expect(new Set(keys)).toEqual(new Set([1]))
    const c = await h.reopen()
    expect(c.fetchOffsets({ groupId: 's' }).topics[0].partitions.map((p) => p.offset)).toEqual([9, 7, 8])
  })
})

describe('GroupCoordinator offset retention', () => {
  const DAY_MS = 24 * 60 * 60 * 1000
  const offset = (partition: number, value: number) => ({ topic: 't', partition, offset: value, metadata: '' })

  it('expires an Empty group\'s offsets once it has been empty for offsets.retention.minutes, then deletes the group', async () => {
    const h = await setup({ offsetsRetentionMs: 7 * DAY_MS })
    const { joins } = await formGroup(h, 1)
    await h.coordinator.commitOffsets({ groupId: 'g', generationId: 1, memberId: joins[0].memberId, offsets: [offset(0, 10)] })
    // Retention counts from when the group emptied, not from the commit.
    h.clock.advance(5_000)
    await h.coordinator.leaveGroup({ groupId: 'g', members: [{ memberId: joins[0].memberId }] })
    h.clock.advance(7 * DAY_MS - 1)
    expect(await h.coordinator.expireOffsets()).toBe(0)
    expect(h.coordinator.fetchOffsets({ groupId: 'g' }).topics[0].partitions[0].offset).toBe(10)
    h.clock.advance(1)
    expect(await h.coordinator.expireOffsets()).toBe(1)
    expect(h.coordinator.fetchOffsets({ groupId: 'g' }).topics).toEqual([])
    expect(h.coordinator.listGroups().groups).toEqual([])
    // The expiry is in the log: a coordinator that loads the partition sees neither.
    const c = await h.reopen()
    expect(c.fetchOffsets({ groupId: 'g' }).topics).toEqual([])
    expect(c.listGroups().groups).toEqual([])
  })

  it('counts a generation-less group\'s offsets from each commit', async () => {
    const h = await setup({ offsetsRetentionMs: DAY_MS })
    await h.coordinator.commitOffsets({ groupId: 's', generationId: -1, memberId: '', offsets: [offset(0, 1)] })
    h.clock.advance(DAY_MS / 2)
    await h.coordinator.commitOffsets({ groupId: 's', generationId: -1, memberId: '', offsets: [offset(1, 2)] })
    h.clock.advance(DAY_MS / 2)
    expect(await h.coordinator.expireOffsets()).toBe(1)
    expect(h.coordinator.fetchOffsets({ groupId: 's' }).topics[0].partitions.map((p) => [p.partition, p.offset])).toEqual([[1, 2]])
    h.clock.advance(DAY_MS / 2)
    expect(await h.coordinator.expireOffsets()).toBe(1)
    expect(h.coordinator.listGroups().groups).toEqual([])
  })
})

describe('GroupCoordinator describe, list, delete', () => {
  it('describes a Stable group with metadata and assignments, and an unknown group as Dead', async () => {
    const h = await setup()
    const { joins, syncs } = await formGroup(h, 2)
    const [described, unknown] = h.coordinator.describeGroups(['g', 'missing'])
    expect(described).toMatchObject({ errorCode: 0, groupState: 'Stable', protocolType: 'consumer', protocolData: 'range' })
    expect(described.members.map((m) => [m.memberId, m.clientId, m.clientHost])).toEqual(joins.map((j, i) => [j.memberId, `c${i}`, '/127.0.0.1']))
    expect(described.members[1].memberAssignment.equals(syncs[1].assignment)).toBe(true)
    expect(unknown).toEqual({ errorCode: 0, groupId: 'missing', groupState: 'Dead', protocolType: '', protocolData: '', members: [] })
  })

  it('lists groups with their states, filtered by state when asked', async () => {
    const h = await setup()
    await formGroup(h, 1)
    h.coordinator.joinGroup(joinRequest({ groupId: 'forming' })).catch(() => undefined)
    await h.coordinator.commitOffsets({ groupId: 'simple', generationId: -1, memberId: '', offsets: [{ topic: 't', partition: 0, offset: 0 }] })
    const states = Object.fromEntries(h.coordinator.listGroups().groups.map((g) => [g.groupId, g.groupState]))
    expect(states).toEqual({ g: 'Stable', forming: 'PreparingRebalance', simple: 'Empty' })
    expect(h.coordinator.listGroups({ statesFilter: ['stable', 'Empty'] }).groups.map((g) => g.groupId).sort()).toEqual(['g', 'simple'])
    h.clock.advance(3_000)
  })

  it('deletes only Empty groups, with their offsets, and reports unknown ones', async () => {
    const h = await setup()
    const { joins } = await formGroup(h, 1)
    await h.coordinator.commitOffsets({ groupId: 's', generationId: -1, memberId: '', offsets: [{ topic: 't', partition: 0, offset: 9 }] })
    const results = await h.coordinator.deleteGroups(['g', 's', 'nope', ''])
    expect(results.map((r) => r.errorCode)).toEqual([ErrorCode.NON_EMPTY_GROUP, 0, ErrorCode.GROUP_ID_NOT_FOUND, ErrorCode.INVALID_GROUP_ID])
    expect(h.coordinator.fetchOffsets({ groupId: 's', topics: [{ topic: 't', partitions: [0] }] }).topics[0].partitions[0].offset).toBe(-1)
    h.coordinator.leaveGroup({ groupId: 'g', members: [{ memberId: joins[0].memberId }] })
    expect((await h.coordinator.deleteGroups(['g']))[0].errorCode).toBe(0)
    expect(h.coordinator.listGroups().groups).toEqual([])
    const c = await h.reopen()
    expect(c.listGroups().groups).toEqual([])
    expect(c.fetchOffsets({ groupId: 's' }).topics).toEqual([])
  })
})
