/**
 * A smoke run of bench:protocol's modules at a tiny size: every phase runs against real child
 * processes (the compiled CLI and ceiling server in dist/, so `npm run build` first; Debian's
 * /usr/bin/python3 with confluent-kafka), and the report carries every field the printout needs.
 * No figure is judged: speed targets are for the bench's own output, never for a test.
 */
import { describe, expect, it } from 'vitest'
import { formatReport, formatSinglePhase, targetRows } from '../../bench/protocol/report.js'
import { runProtocolBench, runSinglePhase, type BenchSettings, type PhaseFigures } from '../../bench/protocol/run.js'

const settings: BenchSettings = {
  seconds: 0.3,
  warmupSeconds: 0.2,
  partitions: 4,
  recordBytes: 100,
  batchBytes: 4096,
  connections: 2,
  inFlight: 2,
  smallRecords: 20,
  smallConnections: 4,
  smallInFlight: 2,
  pacedPauseMs: 50,
  brokers: 2,
  replicatedBrokers: 3,
  e2eRate: 1000,
  e2ePartitions: 2,
  e2eLingerMs: 0,
  scaling: true,
  scalingPairs: 2,
  brokerNodeOptions: [],
  txnRecords: 100,
  txnPartitions: 2,
}

function expectPhase(phase: PhaseFigures, shards: number): void {
  expect(phase.records).toBeGreaterThan(0)
  expect(phase.requests).toBeGreaterThan(0)
  expect(phase.seconds).toBeGreaterThan(0)
  expect(phase.latencyMs).not.toBeNull()
  expect(phase.command).not.toBe('')
  // The thread map names each shard; the ceiling has none.
  expect(phase.cpu.shardsUs).toHaveLength(shards)
  expect(phase.cpu.totalUs).toBeGreaterThanOrEqual(phase.cpu.mainUs + phase.cpu.otherUs)
  expect(phase.cpu.boxBusyUs).toBeGreaterThanOrEqual(0)
}

describe('bench:protocol', () => {
  it('runs every phase at a tiny size, reads back exactly what it produced, and reports each figure beside its target', { timeout: 240_000 }, async () => {
    const report = await runProtocolBench(settings)

    for (const phase of Object.values(report.ceiling)) expectPhase(phase, 0)
    for (const phase of [report.partita.produce, report.partita.fetch, report.partita.small]) expectPhase(phase, settings.brokers)
    expectPhase(report.partita.acksAll, settings.replicatedBrokers)
    expectPhase(report.partita.acksAllPageCache, settings.replicatedBrokers)
    expectPhase(report.durability.fsync, settings.brokers)
    expectPhase(report.durability.pageCache, settings.brokers)
    const { before, after } = report.durability.rawReplicated
    for (const raw of [report.durability.rawEachBatch, report.durability.rawGroup, before, after]) {
      expect(raw.records).toBeGreaterThan(0)
      expect(raw.fdatasyncs).toBeGreaterThan(0)
    }
    // The disk's ceiling for RF 3 ran one writer per replica, at once, on both sides of the RF 3 phases.
    for (const raw of [before, after]) {
      expect(raw.writers).toBe(settings.replicatedBrokers)
      expect(raw.fdatasyncs).toBeGreaterThanOrEqual(settings.replicatedBrokers)
    }
    // A read-back returns the warm-up's records too.
    const produced = (phase: PhaseFigures): number => phase.records + phase.warmup!.records
    expect(report.ceiling.fetch.records).toBe(produced(report.ceiling.produce))
    expect(report.partita.fetch.records).toBe(produced(report.partita.produce))
    expect(report.partita.rssMb.peakMb).toBeGreaterThanOrEqual(report.partita.rssMb.currentMb)
    expect(report.partita.rssMb.currentMb).toBeGreaterThan(0)

    // Whether every record reaches the consumer within the drain time is a timing the bench reports
    // (as records that never arrived), not one a test may assert on a busy box.
    const records = settings.e2eRate * settings.seconds
    expect(report.partita.e2e.sent).toBe(records)
    expect(report.partita.e2e.received).toBeGreaterThan(0)
    expect(report.partita.e2e.received).toBeLessThanOrEqual(records)
    expect(report.partita.e2e.p99Ms).toBeGreaterThan(0)
    expect(report.partita.e2e.ackP99Ms).toBeGreaterThan(0)
    expect(report.e2eFloor.received).toBe(records)
    expect(report.e2eFloor.p99Ms).toBeGreaterThan(0)
    // The same clients against the Kafka-speaking ceiling, which answers fetches from what it was sent.
    expect(report.e2eCeiling.sent).toBe(records)
    expect(report.e2eCeiling.received).toBeGreaterThan(0)
    expect(report.e2eCeiling.p99Ms).toBeGreaterThan(0)
    expect(report.e2eCeiling.command).toContain('kafka-ceiling-server.js')

    for (const phase of [report.transactions.idempotent, report.transactions.transactional]) {
      expect(phase.records).toBeGreaterThan(0)
      expect(phase.cpu.shardsUs).toHaveLength(settings.brokers)
      expect(phase.generatorCpuUs).toBeGreaterThan(0)
    }
    // The Kafka-speaking ceiling served the same client, in both modes; it has no shards.
    for (const phase of [report.transactions.ceiling.idempotent, report.transactions.ceiling.transactional]) {
      expect(phase.records).toBeGreaterThan(0)
      expect(phase.cpu.shardsUs).toHaveLength(0)
      expect(phase.command).toContain('kafka-ceiling-server.js')
    }
    // Whole transactions only.
    expect(report.transactions.transactional.records % settings.txnRecords).toBe(0)
    expect(report.transactions.ceiling.transactional.records % settings.txnRecords).toBe(0)

    if ('skipped' in report.scaling) throw new Error(`scaling was skipped: ${report.scaling.skipped}`)
    expect(report.scaling.pairs).toHaveLength(settings.scalingPairs)
    for (const { one, two } of report.scaling.pairs) {
      expectPhase(one, 1)
      expectPhase(two, 2)
      expect(one.command).toContain('taskset -c 0 ')
      expect(two.command).toContain('taskset -c 0,1 ')
    }

    const rows = targetRows(report)
    expect(rows.map((row) => row.target)).toEqual(['< 5%', '< 5%', '>= 80%', '>= 80%', '<= 1 µs', '>= 50%', '>= 300,000/s', '>= 70%', 'p99 <= 5 ms', '>= 1.7x', '<= 300 MB'])
    for (const row of rows) expect(typeof row.met).toBe('boolean')
    const printed = formatReport(report)
    for (const row of rows) expect(printed).toContain(row.figure)
    // Each phase prints the command that produced it: ten (acks=all at RF 3 in both fsync modes among them), two per scaling pair, the six of the durability comparison (the disk's ceiling for RF 3, before and after, among them), the e2e run against the Kafka ceiling, and the four of transactions (ceiling and Partita).
    expect(printed.match(/command: /g)?.length).toBe(21 + 2 * settings.scalingPairs)
    expect(printed).toMatch(/raw, 3 writers at once, each every 1000 records, before +[\d.]+ M rec\/s written, [\d.]+ M rec\/s made durable 3 times/)
    expect(printed).toMatch(new RegExp(`median ratio of ${settings.scalingPairs} alternated pair\\(s\\)`))
    expect(printed).toMatch(/ceiling produce, txns of \d+/)
  })

  it('runs the paced phase alone: one request at a time, each after the pause that follows the last answer', { timeout: 120_000 }, async () => {
    const report = await runSinglePhase(settings, 'paced')
    for (const phase of [report.ceiling!, report.partita[0]]) {
      expect(phase.requests).toBeGreaterThan(0)
      // At most one request per pause: unpaced, one connection sends hundreds in 0.3 s.
      expect(phase.requests).toBeLessThanOrEqual(Math.ceil((settings.seconds * 1000) / settings.pacedPauseMs))
      expect(phase.records).toBe(phase.requests * settings.smallRecords)
    }
    expectPhase(report.partita[0], settings.brokers)
    expect(report.partita[0].label).toBe('Partita paced small batches')
    expect(formatSinglePhase(report)).toContain(`a ${settings.pacedPauseMs} ms pause`)
  })

  it('runs the fetch phase alone beside the ceiling reading back the same load', { timeout: 120_000 }, async () => {
    const report = await runSinglePhase(settings, 'fetch')
    expectPhase(report.ceiling!, 0)
    expect(report.partita).toHaveLength(1)
    expectPhase(report.partita[0], settings.brokers)
    expect(report.partita[0].label).toBe('Partita fetch')
    const printed = formatSinglePhase(report)
    expect(printed).toContain('of the ceiling')
    expect(printed.match(/command: /g)?.length).toBe(2)
  })
})
