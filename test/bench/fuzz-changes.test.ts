/**
 * What the fuzzer reads a decoded request as doing to topics' data, which decides the frames it
 * draws again (to keep the set-aside topics whole) and what its oracle logs.
 */
import { describe, expect, it } from 'vitest'
import { dataChangesOf, topicsNamed } from '../../bench/fuzz/changes.js'
import { frameSource, PRECREATED_PARTITIONS_MAX, redrawReason, type Frame } from '../../bench/fuzz/frames.js'
import { makeWorld, topicPlans } from '../../bench/fuzz/world.js'
import { ApiKey } from '../../src/protocol/index.js'

const answered = (apiKey: number, body: unknown) => ({ kind: 'answer' as const, apiKey, apiVersion: 0, correlationId: 1, body })

describe('the fuzzer reading data changes', () => {
  it('reads AlterPartitionReassignments as moving the topics it names, so set-aside topics stay where they are', () => {
    const body = { timeoutMs: 1000, topics: [{ name: 'keep-orders', partitions: [{ partitionIndex: 0, replicas: [0] }] }] }
    const changes = dataChangesOf(answered(ApiKey.AlterPartitionReassignments, body))
    expect(changes).toMatchObject({ logged: true, moved: ['keep-orders'], deleted: [] })
    expect(topicsNamed(changes)).toEqual(['keep-orders'])
  })

  it('reads ListPartitionReassignments as changing nothing', () => {
    expect(dataChangesOf(answered(ApiKey.ListPartitionReassignments, { timeoutMs: 1000, topics: null }))).toMatchObject({ logged: false, moved: [] })
  })

  it('reads CreatePartitions as growing the topics it names to the count asked, and a validate-only one as growing nothing', () => {
    const body = (validateOnly: boolean) => ({ topics: [{ name: 'keep-orders', count: 6, assignments: null }], timeoutMs: 1000, validateOnly })
    expect(dataChangesOf(answered(ApiKey.CreatePartitions, body(false))).grown).toEqual([{ topic: 'keep-orders', count: 6 }])
    expect(dataChangesOf(answered(ApiKey.CreatePartitions, body(true))).grown).toEqual([])
  })

  it('draws a CreatePartitions again when it would grow a pre-created topic past the bound, so the state the run holds stays bounded', () => {
    const source = frameSource(1, makeWorld(topicPlans(3), 20, 0, 3), [], 64)
    const frame = (topic: string, count: number): Frame => ({
      index: 0,
      apiName: 'CreatePartitions',
      apiKey: ApiKey.CreatePartitions,
      apiVersion: 1,
      bytes: Buffer.alloc(0),
      mutations: [],
      prediction: answered(ApiKey.CreatePartitions, { topics: [{ name: topic, count, assignments: null }], timeoutMs: 1000, validateOnly: false }),
    })
    expect(redrawReason(frame('keep-orders', PRECREATED_PARTITIONS_MAX + 1), source)).toBe('pre-created topic grown')
    expect(redrawReason(frame('TRIM_1', PRECREATED_PARTITIONS_MAX + 1), source)).toBe('pre-created topic grown')
    expect(redrawReason(frame('keep-orders', PRECREATED_PARTITIONS_MAX), source)).toBeNull()
    // Topics the run creates are deleted as it goes: they may grow.
    expect(redrawReason(frame('fz-3', PRECREATED_PARTITIONS_MAX + 1), source)).toBeNull()
  })
})
