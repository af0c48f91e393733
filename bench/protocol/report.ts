/**
 * The protocol benchmark's printout: every phase with the command that produced it, its CPU by
 * thread role, Partita's figures as a share of the same-run ceiling, and the final table of each
 * figure beside its target.
 */
import { diskCeilingRate, type FdatasyncLatency, type RawFsyncFigures, rawDurableRate } from './durability.js'
import type { LatencyFigures } from './e2e.js'
import { assert } from '../../src/common/assert.js'
import type { PhaseFigures, ProtocolReport, ScalingPair, SinglePhaseReport } from './run.js'

export interface TargetRow {
  figure: string
  measured: string
  target: string
  /** null when the figure could not be measured. */
  met: boolean | null
}

export function recordsPerSecond(phase: PhaseFigures): number {
  return phase.records / phase.seconds
}

export function cpuUsPerRecord(phase: PhaseFigures): number {
  return phase.cpu.totalUs / phase.records
}

export function mainShare(phase: PhaseFigures): number {
  return phase.cpu.mainUs / phase.cpu.totalUs
}

const percent = (fraction: number): string => `${(fraction * 100).toFixed(fraction < 0.1 ? 1 : 0)}%`
const millions = (rate: number): string => `${(rate / 1e6).toFixed(2)} M rec/s`
const ms = (value: number | null): string => (value === null ? 'n/a' : `${value.toFixed(value < 10 ? 2 : 1)} ms`)

/** How the e2e run against the Kafka-speaking ceiling is labelled. */
export const E2E_CEILING_LABEL = 'Kafka ceiling (no storage)'

type TxnPair = { idempotent: PhaseFigures; transactional: PhaseFigures }

/** The transactional rate over the idempotent one. */
function transactionalShare(pair: TxnPair): number {
  return recordsPerSecond(pair.transactional) / recordsPerSecond(pair.idempotent)
}

/** The transactions phase: the ceiling's pair, then Partita's, each with its ratio. */
export function transactionLines(transactions: ProtocolReport['transactions'], txnRecords: number): string[] {
  const ratio = (pair: TxnPair, broker: string): string =>
    `    transactions of ${txnRecords} / idempotent: ${percent(transactionalShare(pair))} of the rate, ${(cpuUsPerRecord(pair.transactional) / cpuUsPerRecord(pair.idempotent)).toFixed(2)}x the ${broker} CPU per record`
  return [
    ...phaseLines(transactions.ceiling.idempotent),
    ...phaseLines(transactions.ceiling.transactional),
    ratio(transactions.ceiling, "ceiling's"),
    ...phaseLines(transactions.idempotent),
    ...phaseLines(transactions.transactional),
    ratio(transactions, "broker's"),
  ]
}

export function phaseLines(phase: PhaseFigures, ceiling?: PhaseFigures): string[] {
  const rate = recordsPerSecond(phase)
  // CPU per record beside the ceiling's moves less with the box's other load than the rates do.
  const ofCeiling =
    ceiling === undefined
      ? ''
      : `  = ${percent(rate / recordsPerSecond(ceiling))} of the ceiling's ${millions(recordsPerSecond(ceiling))}, ${(cpuUsPerRecord(phase) / cpuUsPerRecord(ceiling)).toFixed(1)}x its CPU per record`
  const latency = phase.latencyMs === null ? '' : `  request latency p50 ${ms(phase.latencyMs.p50)} p99 ${ms(phase.latencyMs.p99)} p99.9 ${ms(phase.latencyMs.p999)}`
  const { cpu } = phase
  const share = (us: number): string => percent(cpu.totalUs === 0 ? 0 : us / cpu.totalUs)
  const shards = cpu.shardsUs.map((us, i) => `shard ${i} ${share(us)}`).join(', ')
  // The kernel part tells I/O (libuv's pool writing files) from computation (V8's GC helpers).
  const others = cpu.otherThreads
    .slice(0, 4)
    .map((thread) => (thread.tid === 0 ? `ended threads ${share(thread.us)}` : `tid ${thread.tid} ${share(thread.us)}, ${percent(thread.systemUs / thread.us)} in the kernel`))
    .join('; ')
  const cores = (us: number): string => (us / 1e6 / phase.seconds).toFixed(2)
  const elsewhereUs = Math.max(0, cpu.boxBusyUs - cpu.totalUs - phase.generatorCpuUs)
  return [
    `${phase.label.padEnd(34)} ${millions(rate)}  ${((rate * phase.recordBytes) / 1e6).toFixed(0)} MB/s of values${ofCeiling}${latency}`,
    `    CPU ${cpuUsPerRecord(phase).toFixed(3)} µs/record over all threads (${cores(cpu.totalUs)} cores): main ${share(cpu.mainUs)}` +
      `${shards === '' ? '' : `, ${shards}`}, other ${share(cpu.otherUs)}${others === '' ? '' : ` (${others})`}`,
    `    box: load generator ${cores(phase.generatorCpuUs)} cores, everything else on the box ${cores(elsewhereUs)} cores`,
    `    ${phase.records} records, ${phase.requests} requests in ${phase.seconds.toFixed(2)} s; command: ${phase.command}`,
  ]
}

export function latencyLines(label: string, figures: LatencyFigures): string[] {
  return [
    `${label.padEnd(34)} p50 ${ms(figures.p50Ms)} p99 ${ms(figures.p99Ms)} p99.9 ${ms(figures.p999Ms)} max ${ms(figures.maxMs)}` +
      `${figures.ackP50Ms === null ? '' : `  produce->ack p50 ${ms(figures.ackP50Ms)} p99 ${ms(figures.ackP99Ms)}`}` +
      `  (${figures.received} of ${figures.sent} records received, ${figures.measured} measured after the warm-up; ${figures.achievedRate.toFixed(0)} records/s kept, worst pacing lag ${ms(figures.worstPacingLagMs)})`,
    `    command: ${figures.command}`,
  ]
}

export function fdatasyncLatencyLines(figures: FdatasyncLatency): string[] {
  return [
    `${'fdatasync alone (this disk)'.padEnd(34)} p50 ${ms(figures.p50Ms)} p99 ${ms(figures.p99Ms)} p99.9 ${ms(figures.p999Ms)} max ${ms(figures.maxMs)}  (${figures.syncs} syncs)`,
    `    command: ${figures.command}`,
  ]
}

export function rawLines(figures: RawFsyncFigures): string[] {
  const rate = figures.records / figures.seconds
  const replicated = figures.writers > 1 ? ` written, ${millions(rawDurableRate(figures))} made durable ${figures.writers} times` : ''
  return [
    `${figures.label.padEnd(34)} ${(rate / 1e6).toFixed(3)} M rec/s${replicated}, ${(figures.fdatasyncs / figures.seconds).toFixed(0)} fdatasyncs/s`,
    `    command: ${figures.command}`,
  ]
}

/** Each pair's rate with two brokers over the rate with one. */
export function scalingRatios(pairs: readonly ScalingPair[]): number[] {
  return pairs.map(({ one, two }) => recordsPerSecond(two) / recordsPerSecond(one))
}

/** The middle value (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  assert(values.length > 0, 'the median of no values')
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/** Every pair's lines, then the ratios, their median, and the median CPU per record of each side. */
function scalingLines(pairs: readonly ScalingPair[]): string[] {
  const ratios = scalingRatios(pairs)
  const cpu = (side: 'one' | 'two'): string => median(pairs.map((pair) => cpuUsPerRecord(pair[side]))).toFixed(3)
  return [
    ...pairs.flatMap((pair, i) => [...phaseLines(pair.one), ...phaseLines(pair.two), `    pair ${i + 1}: ratio ${ratios[i].toFixed(2)}x`]),
    `    median ratio of ${pairs.length} alternated pair(s) ${median(ratios).toFixed(2)}x (${ratios.map((ratio) => ratio.toFixed(2)).join(', ')}); ` +
      `median CPU per record ${cpu('one')} µs with one broker, ${cpu('two')} µs with two`,
  ]
}

export function targetRows(report: ProtocolReport): TargetRow[] {
  const { ceiling, partita } = report
  const produceShare = recordsPerSecond(partita.produce) / recordsPerSecond(ceiling.produce)
  const fetchShare = recordsPerSecond(partita.fetch) / recordsPerSecond(ceiling.fetch)
  const replicatedShare = recordsPerSecond(partita.acksAll) / recordsPerSecond(partita.produce)
  const replicatedPageCacheShare = recordsPerSecond(partita.acksAllPageCache) / recordsPerSecond(partita.produce)
  // The median of the alternated pairs' ratios, judged once (one noisy pair says little).
  const scaling = 'skipped' in report.scaling ? { skipped: report.scaling.skipped } : { ratio: median(scalingRatios(report.scaling.pairs)), pairs: report.scaling.pairs.length }
  const p99 = partita.e2e.p99Ms
  const lost = partita.e2e.sent - partita.e2e.received
  const txnShare = transactionalShare(report.transactions)
  return [
    { figure: "Main thread's share of broker CPU, produce", measured: percent(mainShare(partita.produce)), target: '< 5%', met: mainShare(partita.produce) < 0.05 },
    { figure: "Main thread's share of broker CPU, fetch", measured: percent(mainShare(partita.fetch)), target: '< 5%', met: mainShare(partita.fetch) < 0.05 },
    {
      figure: 'Produce, of the same-run ceiling',
      measured: `${percent(produceShare)} (${millions(recordsPerSecond(partita.produce))} vs ${millions(recordsPerSecond(ceiling.produce))})`,
      target: '>= 80%',
      met: produceShare >= 0.8,
    },
    {
      figure: 'Fetch, of the same-run ceiling',
      measured: `${percent(fetchShare)} (${millions(recordsPerSecond(partita.fetch))} vs ${millions(recordsPerSecond(ceiling.fetch))})`,
      target: '>= 80%',
      met: fetchShare >= 0.8,
    },
    {
      figure: `Broker CPU per record, ${report.settings.smallRecords}-record batches`,
      measured: `${cpuUsPerRecord(partita.small).toFixed(2)} µs (ceiling ${cpuUsPerRecord(ceiling.small).toFixed(2)} µs)`,
      target: '<= 1 µs',
      met: cpuUsPerRecord(partita.small) <= 1,
    },
    {
      figure: `acks=all, RF ${report.settings.replicatedBrokers}, of the acks=1 rate`,
      measured:
        `${percent(replicatedShare)} (${millions(recordsPerSecond(partita.acksAll))}; partita.fsync.mode=off ${percent(replicatedPageCacheShare)}; ` +
        `this disk's ceiling with fsync ${percent(diskCeilingRate(report.durability.rawReplicated) / recordsPerSecond(partita.produce))})`,
      target: '>= 50%',
      met: replicatedShare >= 0.5,
    },
    {
      figure: 'acks=all 100 B records/s with fsync on (group commit)',
      measured: `${millions(recordsPerSecond(report.durability.fsync))} (page cache ${millions(recordsPerSecond(report.durability.pageCache))}; raw fdatasync every 1,000 records ${millions(report.durability.rawGroup.records / report.durability.rawGroup.seconds)})`,
      target: '>= 300,000/s',
      met: recordsPerSecond(report.durability.fsync) >= 300_000,
    },
    {
      figure: `Produce in transactions of ${report.settings.txnRecords}, of idempotent produce (librdkafka)`,
      measured: `${percent(txnShare)} (${millions(recordsPerSecond(report.transactions.transactional))} vs ${millions(recordsPerSecond(report.transactions.idempotent))}; ceiling ${percent(transactionalShare(report.transactions.ceiling))})`,
      target: '>= 70%',
      met: txnShare >= 0.7,
    },
    {
      figure: `e2e latency at ${report.settings.e2eRate} records/s (librdkafka)`,
      measured: `p99 ${ms(p99)} (floor p99 ${ms(report.e2eFloor.p99Ms)}, Kafka ceiling p99 ${ms(report.e2eCeiling.p99Ms)})${lost > 0 ? `, ${lost} records never arrived` : ''}`,
      target: 'p99 <= 5 ms',
      met: p99 === null ? null : p99 <= 5 && lost === 0,
    },
    {
      figure: 'Scaling: 2 brokers on 2 CPUs / 1 broker on 1',
      measured: 'skipped' in scaling ? `skipped: ${scaling.skipped}` : `${scaling.ratio.toFixed(2)}x, the median of ${scaling.pairs} pairs`,
      target: '>= 1.7x',
      met: 'skipped' in scaling ? null : scaling.ratio >= 1.7,
    },
    {
      figure: `Broker peak RSS (VmHWM) after the ${report.settings.partitions}-partition produce and fetch`,
      measured: `${partita.rssMb.peakMb.toFixed(0)} MB (VmRSS ${partita.rssMb.currentMb.toFixed(0)} MB)`,
      target: '<= 300 MB',
      met: partita.rssMb.peakMb <= 300,
    },
  ]
}

function table(rows: TargetRow[]): string[] {
  const cells = rows.map((row) => [row.figure, row.measured, row.target, row.met === null ? 'n/a' : row.met ? 'yes' : 'NO'])
  const header = ['figure', 'measured', 'target', 'met?']
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)))
  const line = (c: string[]): string => `| ${c.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)]
}

export function formatReport(report: ProtocolReport): string {
  const { ceiling, partita } = report
  const lines = [
    'Ceiling (bare Node: each frame appended to a file with fs.writeSync and acked; fetch = the file read back with fs.readSync)',
    ...phaseLines(ceiling.produce),
    ...phaseLines(ceiling.fetch),
    ...phaseLines(ceiling.small),
    '',
    'Partita',
    ...phaseLines(partita.produce, ceiling.produce),
    ...phaseLines(partita.fetch, ceiling.fetch),
    `    broker RSS after that produce and fetch: VmHWM ${partita.rssMb.peakMb.toFixed(0)} MB, VmRSS ${partita.rssMb.currentMb.toFixed(0)} MB`,
    ...phaseLines(partita.small, ceiling.small),
    ...phaseLines(partita.acksAll, ceiling.produce),
    ...phaseLines(partita.acksAllPageCache, ceiling.produce),
    '',
    'Durability: acks=all, RF 1, fsync on (partita.fsync.mode=acks-all) and off, beside raw fdatasync in this process (last: one raw writer per replica of the RF 3 phase, at once, just before and after it)',
    ...phaseLines(report.durability.fsync, ceiling.produce),
    ...phaseLines(report.durability.pageCache, ceiling.produce),
    ...rawLines(report.durability.rawEachBatch),
    ...rawLines(report.durability.rawGroup),
    ...rawLines(report.durability.rawReplicated.before),
    ...rawLines(report.durability.rawReplicated.after),
    '',
    'End-to-end latency (librdkafka producer -> broker -> librdkafka consumer)',
    ...latencyLines('Partita', partita.e2e),
    ...latencyLines('floor (Python pipe, no Kafka)', report.e2eFloor),
    ...latencyLines(E2E_CEILING_LABEL, report.e2eCeiling),
    '',
    `Transactions (librdkafka, as fast as it goes, one fresh server; the client's CPU is the "load generator")`,
    ...transactionLines(report.transactions, report.settings.txnRecords),
    '',
  ]
  if ('skipped' in report.scaling) lines.push(`Scaling: skipped (${report.scaling.skipped})`)
  else {
    lines.push(
      'Scaling (the load generator runs unpinned: on two cores it shares them with the broker; see its cores used)',
      ...scalingLines(report.scaling.pairs),
    )
  }
  if (report.warnings.length > 0) lines.push('', 'Warnings (the figures above ran through these)', ...report.warnings.map((line) => `    ${line}`))
  lines.push('', ...table(targetRows(report)))
  return lines.join('\n')
}

/** One phase alone: the ceiling's lines, then Partita's beside it (scaling: each pair, and the median ratio). */
export function formatSinglePhase(report: SinglePhaseReport): string {
  const lines: string[] = []
  if (report.ceiling !== null) lines.push(...phaseLines(report.ceiling))
  for (const phase of report.partita) lines.push(...phaseLines(phase, report.ceiling ?? undefined))
  if (report.scaling !== undefined) lines.push(...scalingLines(report.scaling))
  if (report.warnings.length > 0) lines.push('', 'Warnings (the figures above ran through these)', ...report.warnings.map((line) => `    ${line}`))
  return lines.join('\n')
}
