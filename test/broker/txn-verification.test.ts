import { describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/common/error-codes.js'
import { TxnVerification, VERIFIED_MAX } from '../../src/broker/txn-verification.js'
import type { TxnVerifyRequest } from '../../src/broker/txn-coordinators.js'
import { MetadataImage } from '../../src/metadata/image.js'

function imageWith(leaderEpoch: number, version = 1): MetadataImage {
  const image = new MetadataImage()
  image.apply({ version, topics: [{ name: 't', topicId: 'id', configs: {}, partitions: [{ partition: 0, replicas: [0], leader: 0, leaderEpoch, isr: [0] }] }] })
  return image
}

/** A coordinator whose answers the test releases one at a time. */
function deferredCoordinator(): { verify: (request: TxnVerifyRequest) => Promise<number>; asked: TxnVerifyRequest[]; answer: (code: number) => void } {
  const asked: TxnVerifyRequest[] = []
  const waiting: Array<(code: number) => void> = []
  return {
    asked,
    verify: (request) => {
      asked.push(request)
      return new Promise((resolve) => waiting.push(resolve))
    },
    answer: (code) => waiting.shift()!(code),
  }
}

describe('transaction verification on a broker node', () => {
  it('asks the coordinator once per transaction and partition, and again after the marker', async () => {
    const asked: TxnVerifyRequest[] = []
    const verification = new TxnVerification(imageWith(3), async (request) => {
      asked.push(request)
      return ErrorCode.NONE
    })
    expect(await verification.admit('tx', 7, 0, 't', 0)).toBe(ErrorCode.NONE)
    expect(await verification.admit('tx', 7, 0, 't', 0)).toBe(ErrorCode.NONE)
    expect(asked).toEqual([{ transactionalId: 'tx', producerId: 7, producerEpoch: 0, partition: { topic: 't', partition: 0 } }])
    verification.markerWritten(7, 't', 0)
    expect(verification.holds(7, 0, 't', 0)).toBe(false)
    expect(await verification.admit('tx', 7, 0, 't', 0)).toBe(ErrorCode.NONE)
    expect(asked).toHaveLength(2)
  })

  it('answers a refusal and remembers nothing of it', async () => {
    const verification = new TxnVerification(imageWith(3), async () => ErrorCode.INVALID_TXN_STATE)
    expect(await verification.admit('tx', 7, 0, 't', 0)).toBe(ErrorCode.INVALID_TXN_STATE)
    expect(verification.holds(7, 0, 't', 0)).toBe(false)
    expect(verification.size).toBe(0)
  })

  it('refuses a transactional write without a transactional id without asking', async () => {
    const coordinator = deferredCoordinator()
    const verification = new TxnVerification(imageWith(3), coordinator.verify)
    expect(await verification.admit(null, 7, 0, 't', 0)).toBe(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
    expect(coordinator.asked).toHaveLength(0)
  })

  it('lets writes that arrive while the first is verified wait for the same answer, and resume in arrival order', async () => {
    const coordinator = deferredCoordinator()
    const verification = new TxnVerification(imageWith(3), coordinator.verify)
    const resumed: number[] = []
    const writes = [1, 2, 3].map((n) => verification.admit('tx', 7, 0, 't', 0).then((code) => (resumed.push(n), code)))
    coordinator.answer(ErrorCode.NONE)
    expect(await Promise.all(writes)).toEqual([ErrorCode.NONE, ErrorCode.NONE, ErrorCode.NONE])
    expect(resumed).toEqual([1, 2, 3])
    expect(coordinator.asked).toHaveLength(1)
  })

  it('refuses a write whose transaction a marker ended while the coordinator was being asked', async () => {
    const coordinator = deferredCoordinator()
    const verification = new TxnVerification(imageWith(3), coordinator.verify)
    const admitted = verification.admit('tx', 7, 0, 't', 0)
    verification.markerWritten(7, 't', 0)
    coordinator.answer(ErrorCode.NONE)
    expect(await admitted).toBe(ErrorCode.INVALID_TXN_STATE)
    expect(verification.holds(7, 0, 't', 0)).toBe(false)
  })

  it('lets every write with a transactional id through unasked when transaction.partition.verification.enable is false', async () => {
    const coordinator = deferredCoordinator()
    const verification = new TxnVerification(imageWith(3), coordinator.verify, false)
    expect(await verification.admit('tx', 7, 0, 't', 0)).toBe(ErrorCode.NONE)
    expect(verification.holds(7, 0, 't', 0)).toBe(true)
    expect(await verification.admit(null, 7, 0, 't', 0)).toBe(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
    expect(coordinator.asked).toHaveLength(0)
  })

  it('follows transaction.partition.verification.enable set dynamically, a broker\'s own value over the cluster default', async () => {
    const image = imageWith(3)
    const coordinator = deferredCoordinator()
    const verification = new TxnVerification(image, coordinator.verify, true, 0)
    image.apply({ version: 2, brokerConfigs: { '': { 'transaction.partition.verification.enable': 'false' } } })
    expect(await verification.admit('tx', 7, 0, 't', 0)).toBe(ErrorCode.NONE)
    expect(coordinator.asked).toHaveLength(0)
    // Broker 0's own value wins over the cluster default: verified again, from the next write on.
    image.apply({ version: 3, brokerConfigs: { '': { 'transaction.partition.verification.enable': 'false' }, '0': { 'transaction.partition.verification.enable': 'true' } } })
    expect(verification.holds(7, 0, 't', 0)).toBe(false)
    const admitted = verification.admit('tx', 7, 0, 't', 0)
    expect(coordinator.asked).toHaveLength(1)
    coordinator.answer(ErrorCode.INVALID_TXN_STATE)
    expect(await admitted).toBe(ErrorCode.INVALID_TXN_STATE)
    // Another broker's value is not this one's.
    const other = new TxnVerification(image, coordinator.verify, true, 1)
    expect(await other.admit('tx', 7, 0, 't', 0)).toBe(ErrorCode.NONE)
  })

  it('holds only for the epoch verified and while the partition keeps its leader epoch', async () => {
    const image = imageWith(3)
    const verification = new TxnVerification(image, async () => ErrorCode.NONE)
    expect(await verification.admit('tx', 7, 4, 't', 0)).toBe(ErrorCode.NONE)
    expect(verification.holds(7, 4, 't', 0)).toBe(true)
    expect(verification.holds(7, 5, 't', 0)).toBe(false)
    image.apply({ version: 2, topics: [{ name: 't', topicId: 'id', configs: {}, partitions: [{ partition: 0, replicas: [0], leader: 0, leaderEpoch: 4, isr: [0] }] }] })
    expect(verification.holds(7, 4, 't', 0)).toBe(false)
  })

  it(`keeps at most ${VERIFIED_MAX} verified pairs, forgetting the oldest first`, async () => {
    const verification = new TxnVerification(imageWith(3), async () => ErrorCode.NONE)
    for (let producerId = 0; producerId <= VERIFIED_MAX; producerId++) await verification.admit('tx', producerId, 0, 't', 0)
    expect(verification.size).toBe(VERIFIED_MAX)
    expect(verification.holds(0, 0, 't', 0)).toBe(false)
    expect(verification.holds(VERIFIED_MAX, 0, 't', 0)).toBe(true)
  })
})
