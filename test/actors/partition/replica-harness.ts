/**
 * Test wiring for partition replicas: real PartitionLogs in a temp dir, a ManualClock, batches
 * built with the shared encoder, and a pump that plays the follower loop the actor glue will run
 * (nextFollowerFetch -> the leader's replica -> applyLeaderFetch) through direct calls.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { ManualClock } from '../../../src/common/clock.js'
import { DEFAULT_LOG_CONFIG } from '../../../src/storage/log-config.js'
import { encodeBatch } from '../../../src/records/record-batch.js'
import {
  PartitionReplica,
  type FollowerFetchResponse,
  type PartitionReplicaOptions,
  type ReplicaConfig,
} from '../../../src/actors/partition/partition-replica.js'
import { MemoryHighWatermarkBook } from '../../../src/actors/partition/high-watermark-book.js'

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'partita-'))
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true })
}

export function config(overrides: Partial<ReplicaConfig> = {}): ReplicaConfig {
  return { ...DEFAULT_LOG_CONFIG, ...overrides }
}

export interface BatchOptions {
  producerId?: number
  producerEpoch?: number
  baseSequence?: number
  timestampMs?: number
  transactional?: boolean
}

/** A client-side batch of `count` records whose values are `${prefix}-${i}`. */
export function batch(prefix: string, count = 1, options: BatchOptions = {}): Buffer {
  return encodeBatch({
    records: Array.from({ length: count }, (_, i) => ({ key: null, value: Buffer.from(`${prefix}-${i}`) })),
    baseTimestamp: options.timestampMs ?? 1_700_000_000_000,
    producerId: options.producerId ?? -1,
    producerEpoch: options.producerEpoch ?? -1,
    baseSequence: options.baseSequence ?? -1,
    isTransactional: options.transactional ?? false,
  })
}

export interface Cluster {
  clock: ManualClock
  root: string
  replicas: Map<number, PartitionReplica>
  isrChanges: Array<{ brokerId: number; isr: number[] }>
  /** `options` adds replica options beside the config (e.g. how followers are woken). */
  open(brokerId: number, overrides?: Partial<ReplicaConfig>, options?: Pick<PartitionReplicaOptions, 'deferFollowerWake' | 'isrChangesStored'>): Promise<PartitionReplica>
  close(): Promise<void>
}

export function cluster(clock = new ManualClock()): Cluster {
  const root = tempDir()
  const replicas = new Map<number, PartitionReplica>()
  const isrChanges: Array<{ brokerId: number; isr: number[] }> = []
  // Each broker's high-watermark book outlives its replicas, as the file in its directory does.
  const books = new Map<number, MemoryHighWatermarkBook>()
  return {
    clock,
    root,
    replicas,
    isrChanges,
    async open(brokerId, overrides = {}, options = {}) {
      const dir = path.join(root, `broker-${brokerId}`, 'topic-0')
      fs.mkdirSync(dir, { recursive: true })
      const replica = await PartitionReplica.open({
        topic: 'topic',
        partition: 0,
        dir,
        config: config(overrides),
        clock,
        brokerId,
        onIsrChange: (isr) => isrChanges.push({ brokerId, isr }),
        followerFetch: { maxWaitMs: 0 },
        logOptions: { fsync: false },
        highWatermarks: books.get(brokerId) ?? books.set(brokerId, new MemoryHighWatermarkBook()).get(brokerId),
        ...options,
      })
      replicas.set(brokerId, replica)
      return replica
    },
    async close() {
      for (const replica of replicas.values()) await replica.close()
      removeDir(root)
    },
  }
}

/**
 * Plays one turn of `follower`'s fetch loop against `leader`; returns false when the follower
 * has nothing to ask (not following).
 */
export async function pumpOnce(follower: PartitionReplica, leader: PartitionReplica): Promise<boolean> {
  const request = follower.nextFollowerFetch()
  if (request === null) return false
  let response: FollowerFetchResponse
  if (request.type === 'epochEndOffset') {
    response = { request, result: leader.epochEndOffset(request.epoch, request.leaderEpoch) }
  } else {
    response = { request, result: await leader.fetch(request) }
  }
  follower.applyLeaderFetch(response)
  return true
}

/**
 * Pumps until the follower's log end matches the leader's, then once more: that fetch tells the
 * leader where the follower ends (moving the HW) and brings the leader's HW back.
 */
export async function pumpUntilCaughtUp(follower: PartitionReplica, leader: PartitionReplica): Promise<void> {
  for (let turn = 0; turn < 100; turn++) {
    await pumpOnce(follower, leader)
    if (follower.logEndOffset === leader.logEndOffset) {
      await pumpOnce(follower, leader)
      return
    }
  }
  throw new Error(`follower stuck at ${follower.logEndOffset}, leader at ${leader.logEndOffset}`)
}
