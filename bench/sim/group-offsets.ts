/**
 * The group coordinator in the power-cut simulation: the broker's own GroupCoordinators (the
 * code that serves OffsetCommit and OffsetFetch) over the simulation's `__consumer_offsets`
 * replica, reached through a PartitionAccess that calls the replicas directly instead of through
 * the shard's actors. Commits go through the coordinator's real path (its records, appended with
 * acks=all through `appendInternal`), and a restarted coordinator loads them as a broker does.
 *
 * Checked after every power cut and reload: a commit the coordinator acknowledged is never lost
 * and never moved backwards (each group commits increasing offsets per partition, so the loaded
 * offset is at least the highest acknowledged one, and is one that was committed).
 */
import type { PartitionReplica } from '../../src/actors/partition/partition-replica.js'
import { GroupCoordinators } from '../../src/broker/group-coordinators.js'
import type { LocalReply, PartitionAccess } from '../../src/broker/local-partitions.js'
import type { PartitionReplies, PartitionRequest } from '../../src/actors/partition-messages.js'
import type { ManualClock } from '../../src/common/clock.js'
import { ErrorCode } from '../../src/common/error-codes.js'
import { KafkaError } from '../../src/common/errors.js'
import { resolveBrokerConfig } from '../../src/metadata/broker-config.js'
import { MetadataImage, type TopicState } from '../../src/metadata/image.js'
import { OFFSETS_TOPIC } from '../../src/metadata/topic-names.js'

export const GROUPS = ['g0', 'g1']

/** Load attempts (each after the coordinator's retry pause) before a reload counts as failed. */
const LOAD_ATTEMPTS_MAX = 20
const LOAD_RETRY_MS = 50

/** The broker's access to its local replicas, here the simulation's, called in-thread. */
class ReplicaAccess implements PartitionAccess {
  readonly #replicas: ReadonlyMap<string, PartitionReplica>

  constructor(replicas: ReadonlyMap<string, PartitionReplica>) {
    this.#replicas = replicas
  }

  async request<M extends PartitionRequest>(topic: string, partition: number, message: M, payload?: Buffer): Promise<LocalReply<PartitionReplies[M['op']]>> {
    const replica = this.#replicas.get(`${topic}-${partition}`)
    if (replica === undefined) throw new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `no replica of ${topic}-${partition}`)
    return (await serve(replica, message, payload)) as LocalReply<PartitionReplies[M['op']]>
  }

  tell(): void {}
}

async function serve(replica: PartitionReplica, message: PartitionRequest, payload: Buffer | undefined): Promise<LocalReply<unknown>> {
  switch (message.op) {
    case 'produce':
      return { message: await replica.produce(payload ?? Buffer.alloc(0), message.acks, message.timeoutMs, { fromCoordinator: message.origin === 'coordinator' }) }
    case 'fetch': {
      const { records, ...result } = await replica.fetch(message)
      return { message: result, payload: records ?? undefined }
    }
    case 'listOffsets':
      return { message: replica.listOffsets(message.timestamp, message.isolationLevel) }
    default:
      throw new Error(`the simulation's coordinator does not send ${message.op}`)
  }
}

/** What was committed, kept apart from the code under test. */
export class OffsetsModel {
  /** `group/partition` -> the last offset committed (acknowledged or not). */
  readonly #issued = new Map<string, number>()
  /** `group/partition` -> the highest offset whose commit was acknowledged. */
  readonly #acked = new Map<string, number>()
  acknowledged = 0

  /** The next offset `group` commits for `partition`: always higher than its last. */
  issue(group: string, partition: number, step: number): number {
    const key = `${group}/${partition}`
    const offset = (this.#issued.get(key) ?? -1) + 1 + step
    this.#issued.set(key, offset)
    return offset
  }

  acknowledge(group: string, partition: number, offset: number): void {
    const key = `${group}/${partition}`
    this.#acked.set(key, Math.max(this.#acked.get(key) ?? -1, offset))
    this.acknowledged++
  }

  /** A message when `loaded` (group -> partition -> offset) lost or moved back an acknowledged commit. */
  violation(loaded: ReadonlyMap<string, number>): string | null {
    for (const [key, offset] of this.#acked) {
      const found = loaded.get(key)
      if (found === undefined) return `the acknowledged commit of ${key} at ${offset} is lost`
      if (found < offset) return `the committed offset of ${key} went back from ${offset} to ${found}`
    }
    for (const [key, found] of loaded) {
      if (found > (this.#issued.get(key) ?? -1)) return `${key} loaded offset ${found}, which was never committed`
    }
    return null
  }
}

/** The coordinators of one incarnation, loaded from the `__consumer_offsets` replica. */
export class SimGroupCoordinators {
  readonly #groups: GroupCoordinators

  private constructor(groups: GroupCoordinators) {
    this.#groups = groups
  }

  /**
   * Starts the coordinator of `__consumer_offsets`-0 (led here at `leaderEpoch`) and waits for its
   * load; null when it does not load.
   */
  static async start(
    replicas: ReadonlyMap<string, PartitionReplica>,
    topics: TopicState[],
    leaderEpoch: number,
    clock: ManualClock,
    settle: () => Promise<void>,
    warn: (message: string) => void,
  ): Promise<SimGroupCoordinators | null> {
    const image = new MetadataImage()
    const offsetsTopic: TopicState = {
      name: OFFSETS_TOPIC,
      topicId: 'offsets',
      configs: {},
      partitions: [{ partition: 0, replicas: [0], leader: 0, leaderEpoch, isr: [0] }],
    }
    image.apply({ version: 1, clusterId: 'sim', topics: [...topics, offsetsTopic] })
    const groups = new GroupCoordinators({
      nodeId: 0,
      config: resolveBrokerConfig({ brokers: 1, offsetsTopicNumPartitions: 1 }, '/data'),
      image,
      clock,
      partitions: new ReplicaAccess(replicas),
      log: { warn },
    })
    groups.onImage()
    const sim = new SimGroupCoordinators(groups)
    // Bounded: a load that keeps failing is retried on the manual clock a few times, then reported.
    for (let attempt = 0; attempt < LOAD_ATTEMPTS_MAX; attempt++) {
      await settle()
      if ((await groups.listGroups({})).errorCode === ErrorCode.NONE) return sim
      clock.advance(LOAD_RETRY_MS)
    }
    groups.close()
    return null
  }

  /** A generation-less commit (as a consumer without a group membership makes); resolves to its error code. */
  async commit(group: string, topic: string, partition: number, offset: number): Promise<number> {
    const [answer] = await this.#groups.commitOffsets({ groupId: group, generationId: -1, memberId: '', offsets: [{ topic, partition, offset }] })
    return answer.errorCode
  }

  /** Every group's committed offsets, `group/partition` -> offset, as OffsetFetch answers them. */
  async committed(): Promise<Map<string, number>> {
    const loaded = new Map<string, number>()
    for (const group of GROUPS) {
      const answer = await this.#groups.fetchOffsets({ groupId: group, topics: null })
      if (answer.errorCode !== ErrorCode.NONE) throw new Error(`OffsetFetch of ${group} answered error ${answer.errorCode}`)
      for (const topic of answer.topics) {
        for (const p of topic.partitions) if (p.offset >= 0) loaded.set(`${group}/${p.partition}`, p.offset)
      }
    }
    return loaded
  }

  close(): void {
    this.#groups.close()
  }
}
