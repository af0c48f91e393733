import { afterEach, describe, expect, it } from 'vitest'
import { NodeMetrics } from '../../src/broker/node-metrics.js'
import { encodeBatch } from '../../src/records/record-batch.js'

const batch = encodeBatch({ records: [{ key: null, value: Buffer.from('a') }, { key: null, value: Buffer.from('b') }], baseTimestamp: 0 })

describe('NodeMetrics', () => {
  let metrics: NodeMetrics | null = null
  afterEach(() => metrics?.close())

  it("drops a deleted topic's counters when the image does, so a recreated topic starts from zero", () => {
    metrics = new NodeMetrics()
    metrics.produced('recreated', batch)
    metrics.produced('kept', batch)
    metrics.forgetTopics(['recreated'])
    metrics.produced('kept', batch)
    const traffic = metrics.traffic(new Set(['recreated', 'kept']))
    expect(traffic).toEqual([{ topic: 'kept', recordsIn: 4, bytesIn: 2 * batch.length, recordsOut: 0, bytesOut: 0 }])
  })
})
