/**
 * The CI size of `npm run eos`: librdkafka's read-process-write loop copies a few thousand records
 * in transactions while the broker process is killed with SIGKILL once and restarted (the compiled
 * CLI in dist/, so `npm run build` first; Debian's /usr/bin/python3 with confluent-kafka). The
 * output must equal the input partition by partition, and the committed offsets the input's end.
 */
import { describe, expect, it } from 'vitest'
import { runEos } from '../../bench/eos/run.js'

describe('exactly-once under kill -9', () => {
  it('copies every record once, in order, with the committed offsets at the input end, across a SIGKILL of the broker process', { timeout: 300_000 }, async () => {
    const report = await runEos({ topology: 'process', records: 4000, partitions: 4, txnRecords: 250, kills: 1, timeoutMs: 240_000 })
    expect(report.kills).toBe(1)
    expect(report.problems).toEqual([])
    expect(report.inputRecords).toBe(4000)
    expect(report.outputRecords).toBe(4000)
    expect(report.committedOffsets).toEqual([1000, 1000, 1000, 1000])
    expect(report.inputEnds).toEqual([1000, 1000, 1000, 1000])
  })
})
