/**
 * What the fuzzer reads a decoded request as doing to topics' data, which decides the frames it
 * draws again (to keep the set-aside topics whole) and what its oracle logs.
 */
import { describe, expect, it } from 'vitest'
import { dataChangesOf, topicsNamed } from '../../bench/fuzz/changes.js'
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
})
