/**
 * Tests of src/bench/kafka-sender.ts (how `partita bench` sends to a Kafka broker: as Kafka's
 * producer does) and of the window every system gets in src/bench/run.ts.
 */
import { describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/common/error-codes.js'
import type { ProduceInput, ProduceResult } from '../../src/client/wire/kafka-client.js'
import { BatchSender } from '../../src/bench/kafka-sender.js'
import { windowOf } from '../../src/bench/run.js'

/** A wire client whose produce calls wait until the test answers them. */
class HeldClient {
  readonly calls: Array<{ inputs: ProduceInput[]; answer: (errorCode?: number) => void }> = []

  produce(inputs: readonly ProduceInput[]): Promise<ProduceResult[]> {
    return new Promise((resolve) => {
      this.calls.push({
        inputs: [...inputs],
        answer: (errorCode = ErrorCode.NONE) =>
          resolve(inputs.map((i) => ({ topic: i.topic, partition: i.partition, errorCode, errorMessage: null, baseOffset: 0, logAppendTimeMs: -1, logStartOffset: 0 }))),
      })
    })
  }

  /** Each call's batches as "partition:first byte". */
  sent(): string[][] {
    return this.calls.map((c) => c.inputs.map((i) => `${i.partition}:${i.records[0]}`))
  }
}

const batch = (n: number): Buffer => Buffer.from([n])
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('the bench Kafka sender', () => {
  it('sends the batches given together in one request per leader, one batch per partition, oldest first', async () => {
    const client = new HeldClient()
    // Partitions 0 and 2 on leader 0, 1 and 3 on leader 1.
    const sender = new BatchSender({ client, topic: 't', acks: -1, leaders: [0, 1, 0, 1], inFlightPerConnection: 5 })
    const sends = [0, 1, 2, 3, 0, 1].map((p, n) => sender.send(p, batch(n)))
    await settle()
    expect(client.sent()).toEqual([
      ['0:0', '2:2'],
      ['0:4'],
      ['1:1', '3:3'],
      ['1:5'],
    ])
    for (const call of client.calls) call.answer()
    await Promise.all(sends)
  })

  it('keeps at most inFlightPerConnection requests outstanding per leader and sends the rest as answers come', async () => {
    const client = new HeldClient()
    const sender = new BatchSender({ client, topic: 't', acks: 1, leaders: [7], inFlightPerConnection: 2 })
    const sends = [0, 1, 2, 3].map((n) => sender.send(0, batch(n)))
    await settle()
    expect(client.sent()).toEqual([['0:0'], ['0:1']])
    client.calls[0].answer()
    await sends[0]
    await settle()
    expect(client.sent()).toEqual([['0:0'], ['0:1'], ['0:2']])
    for (const call of client.calls.slice(1)) call.answer()
    await settle()
    client.calls[3].answer()
    await Promise.all(sends)
    expect(client.sent()).toEqual([['0:0'], ['0:1'], ['0:2'], ['0:3']])
  })

  it("rejects each send of a failed request with its partition's error code", async () => {
    const client = new HeldClient()
    const sender = new BatchSender({ client, topic: 't', acks: -1, leaders: [0, 0], inFlightPerConnection: 5 })
    const first = sender.send(0, batch(0))
    const second = sender.send(1, batch(1))
    await settle()
    expect(client.sent()).toEqual([['0:0', '1:1']])
    const failed = [expect(first).rejects.toMatchObject({ errorCode: ErrorCode.NOT_ENOUGH_REPLICAS }), expect(second).rejects.toMatchObject({ errorCode: ErrorCode.NOT_ENOUGH_REPLICAS })]
    client.calls[0].answer(ErrorCode.NOT_ENOUGH_REPLICAS)
    await Promise.all(failed)
  })
})

describe('the window of unanswered sends', () => {
  it('is --in-flight batches per partition, within the 32 MiB of batches Kafka buffers', () => {
    expect(windowOf({ inFlight: 5, partitions: 4, batchBytes: 16_384 })).toBe(20)
    expect(windowOf({ inFlight: 5, partitions: 1_000, batchBytes: 16_384 })).toBe(2_048)
    expect(windowOf({ inFlight: 1, partitions: 1, batchBytes: 64 * 1024 * 1024 })).toBe(1)
  })
})
