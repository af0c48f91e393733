/**
 * The fuzzer's final check of a pre-created partition, against a stand-in for the broker's
 * answers: it must not take a topic that was deleted and created again for the one it set up.
 */
import { describe, expect, it } from 'vitest'
import type { KafkaClient } from '../../src/client/wire/kafka-client.js'
import { ErrorCode } from '../../src/common/error-codes.js'
import { encodeBatch } from '../../src/records/record-batch.js'
import { Oracle } from '../../bench/fuzz/oracle.js'
import type { KnownPartition } from '../../bench/fuzz/world.js'

const records = Array.from({ length: 4 }, (_, i) => ({ offset: i, key: `known-keep-ledger-0-${i}`, value: `value-${i}` }))
const known: KnownPartition = { topic: 'keep-ledger', partition: 0, records, leaderEpoch: 0, topicId: 'topic-id-at-setup' }

/** A broker holding the known records at their offsets under `topicId`, its partition at leader epoch 0. */
function brokerWith(topicId: string): KafkaClient {
  const batch = encodeBatch({ baseTimestamp: 1, records: records.map((r) => ({ key: Buffer.from(r.key), value: Buffer.from(r.value) })) })
  const stub = {
    metadata: async () => ({
      topics: [{ name: 'keep-ledger', topicId, errorCode: ErrorCode.NONE, partitions: [{ partition: 0, errorCode: ErrorCode.NONE, leader: 1, leaderEpoch: 0 }] }],
    }),
    listOffsets: async () => [
      { errorCode: ErrorCode.NONE, offset: 0 },
      { errorCode: ErrorCode.NONE, offset: records.length },
    ],
    fetch: async () => [{ errorCode: ErrorCode.NONE, records: batch, highWatermark: records.length }],
  }
  return stub as unknown as KafkaClient
}

describe("the fuzz oracle's check of a pre-created partition", () => {
  it('passes the topic it set up, holding every known record at its offset', async () => {
    const [verdict] = await new Oracle([known]).check(brokerWith('topic-id-at-setup'), [known])
    expect(verdict.ok, verdict.verdict).toBe(true)
    expect(verdict.knownRecordsReadBack).toBe(records.length)
  })

  it('fails a topic of the same name and leader epoch under another id: deleted and created again', async () => {
    const [verdict] = await new Oracle([known]).check(brokerWith('a-new-topic-id'), [known])
    expect(verdict.ok).toBe(false)
    expect(verdict.verdict).toMatch(/topic id changed from topic-id-at-setup to a-new-topic-id/)
  })
})
