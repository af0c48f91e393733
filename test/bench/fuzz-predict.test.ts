/**
 * How the fuzzer predicts what the broker does with a frame whose size prefix lies. The broker
 * reads as many bytes as the prefix says: a shorter size that cuts off only junk appended after a
 * whole request leaves a request it handles like any other, which the oracle must log and the
 * frame source must keep away from the set-aside topics (found by the 10,000,000-frame run, seed
 * 1: frame 5,150,878 moved TRIM_2-0 to one replica, read by the fuzzer as an unknowable desync).
 */
import { describe, expect, it } from 'vitest'
import { dataChangesOf } from '../../bench/fuzz/changes.js'
import type { ApiRange } from '../../bench/fuzz/mutate.js'
import { handledRequest, predict } from '../../bench/fuzz/predict.js'
import { ApiKey, encodeRequest } from '../../src/protocol/index.js'

const ADVERTISED: ReadonlyMap<number, ApiRange> = new Map([[ApiKey.AlterPartitionReassignments, { apiKey: ApiKey.AlterPartitionReassignments, minVersion: 0, maxVersion: 0 }]])

/** A whole AlterPartitionReassignments moving TRIM_2-0 to broker 1, without its size prefix. */
function reassignment(): Buffer {
  const body = { timeoutMs: 1000, topics: [{ name: 'TRIM_2', partitions: [{ partitionIndex: 0, replicas: [1] }] }] }
  return encodeRequest(ApiKey.AlterPartitionReassignments, 0, 7, 'partita-fuzz', body).subarray(4)
}

describe('the fuzzer predicting a frame whose size prefix lies', () => {
  it('predicts the request a shorter size leaves whole as handled, and reads its data changes', () => {
    const request = reassignment()
    const junk = Buffer.from([1, 2, 3, 4, 5])
    const prediction = predict(Buffer.concat([request, junk]), request.length, ADVERTISED)
    expect(prediction.kind).toBe('desync')
    expect(handledRequest(prediction)).toMatchObject({ kind: 'answer', apiKey: ApiKey.AlterPartitionReassignments, correlationId: 7 })
    expect(dataChangesOf(prediction)).toMatchObject({ logged: true, moved: ['TRIM_2'] })
  })

  it('predicts nothing handled when the size cuts into the request or asks for more than was sent', () => {
    const request = reassignment()
    for (const size of [request.length - 3, request.length + 4, -1]) {
      const prediction = predict(request, size, ADVERTISED)
      expect(prediction).toEqual({ kind: 'desync', handled: null })
      expect(dataChangesOf(prediction).logged).toBe(false)
    }
  })

  it('predicts an honest frame as the broker answers it', () => {
    const request = reassignment()
    expect(predict(request, request.length, ADVERTISED)).toMatchObject({ kind: 'answer', apiKey: ApiKey.AlterPartitionReassignments })
  })
})
