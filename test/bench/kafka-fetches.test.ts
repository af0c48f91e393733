/** Tests of src/bench/kafka-fetches.ts: how `partita bench` consumers fetch from a Kafka broker's brokers. */
import { describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/common/error-codes.js'
import type { FetchInput, FetchResult } from '../../src/client/wire/kafka-client.js'
import { BrokerFetches } from '../../src/bench/kafka-fetches.js'

/** A wire client whose fetches wait until the test answers them, each with its partitions' offsets as records. */
class HeldClient {
  readonly calls: Array<{ inputs: FetchInput[]; answer: () => void }> = []

  fetch(inputs: readonly FetchInput[]): Promise<FetchResult[]> {
    return new Promise((resolve) => {
      const results = inputs.map((i) => ({ topic: i.topic, partition: i.partition, errorCode: ErrorCode.NONE, records: Buffer.from([i.fetchOffset]) }) as unknown as FetchResult)
      this.calls.push({ inputs: [...inputs], answer: () => resolve(results) })
    })
  }

  /** Each call as "partition@offset,...". */
  asked(): string[] {
    return this.calls.map((c) => c.inputs.map((i) => `${i.partition}@${i.fetchOffset}`).join(','))
  }
}

const options = (client: HeldClient, positions: Map<number, number>) => ({
  client,
  topic: 't',
  // Partitions 0 and 2 on broker 0, 1 on broker 1.
  partitionsByLeader: new Map([
    [0, [0, 2]],
    [1, [1]],
  ]),
  positions,
  maxWaitMs: 100,
  partitionMaxBytes: 1024,
})

describe('the bench Kafka consumer fetches', () => {
  it('hands over the first broker to answer while another broker still holds its fetch', async () => {
    const client = new HeldClient()
    const fetches = new BrokerFetches(options(client, new Map([[0, 5], [1, 7], [2, 9]])))
    const first = fetches.next()
    expect(client.asked()).toEqual(['0@5,2@9', '1@7'])
    client.calls[1].answer()
    expect((await first).map((r) => r.partition)).toEqual([1])
  })

  it('keeps one fetch per broker in flight, asking again only the broker that answered, from the moved positions', async () => {
    const client = new HeldClient()
    const positions = new Map([[0, 5], [1, 7], [2, 9]])
    const fetches = new BrokerFetches(options(client, positions))
    const first = fetches.next()
    client.calls[0].answer()
    await first
    positions.set(0, 6)
    const second = fetches.next()
    expect(client.asked()).toEqual(['0@5,2@9', '1@7', '0@6,2@9'])
    client.calls[1].answer()
    expect((await second).map((r) => r.partition)).toEqual([1])
    client.calls[2].answer()
    await fetches.settle()
  })
})
