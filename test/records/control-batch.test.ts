import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeTxnMarker, encodeTxnMarkerBatch } from '../../src/records/control-batch.js'
import { CONTROL_BIT, decodeRecords, readBatchHeader, TRANSACTIONAL_BIT, validateBatch } from '../../src/records/record-batch.js'

describe('transaction marker control batches', () => {
  it('encode as Kafka does: transactional control batch, key version 0 + type, value version 0 + coordinator epoch', () => {
    const buf = encodeTxnMarkerBatch({ producerId: 7, producerEpoch: 3, coordinatorEpoch: 11, commit: true }, 1_700_000_000_000)
    validateBatch(buf, 0, buf.length, { fromProducer: false })
    const header = readBatchHeader(buf, 0)
    expect(header.attributes & (CONTROL_BIT | TRANSACTIONAL_BIT)).toBe(CONTROL_BIT | TRANSACTIONAL_BIT)
    expect(header).toMatchObject({ producerId: 7, producerEpoch: 3, baseSequence: -1, recordCount: 1, lastOffsetDelta: 0 })
    const [record] = decodeRecords(buf, 0)
    expect(record.key).toEqual(Buffer.from([0, 0, 0, 1]))
    expect(record.value).toEqual(Buffer.from([0, 0, 0, 0, 0, 11]))
  })

  it('decode back to the marker they were built from, for any producer, epoch and outcome', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 }), fc.integer({ min: 0, max: 32767 }), fc.integer({ min: -1, max: 2 ** 31 - 1 }), fc.boolean(), (producerId, producerEpoch, coordinatorEpoch, commit) => {
        const marker = { producerId, producerEpoch, coordinatorEpoch, commit }
        expect(decodeTxnMarker(encodeTxnMarkerBatch(marker, 0), 0)).toEqual(marker)
      }),
    )
  })
})
