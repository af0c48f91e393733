/**
 * `--report FILE.html`: one self-contained page (inline SVG, no script, no external file) built
 * from result JSON, so runs saved with --json can be laid side by side later. It shows the
 * machine and settings, a summary table, the rate over time and the latency percentile curve of
 * every system in the run.
 */
import type { BenchResultJson } from './result.js'

const WIDTH = 720
const HEIGHT = 300
const MARGIN = { left: 70, right: 20, top: 20, bottom: 45 }
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b']
/** Percentiles the curve is drawn through, up to five nines. */
const CURVE_PERCENTILES = ['50.000', '75.000', '90.000', '95.000', '99.000', '99.900', '99.990', '99.999']

interface Series {
  name: string
  color: string
  dashed: boolean
  points: Array<[number, number]>
}

export function htmlReport(results: readonly BenchResultJson[], title = 'Partita benchmark'): string {
  const first = results[0] ?? {}
  const machine = (first.machine ?? {}) as Record<string, unknown>
  const rate = (r: BenchResultJson): number[] => numbers(r.mode === 'consume' ? r.consumeRate : r.publishRate)
  const rateSeries: Series[] = results.map((r, i) => {
    const elapsedMs = numbers(r.periodElapsedMs)
    let t = 0
    return { name: String(r.system), color: COLORS[i % COLORS.length], dashed: false, points: rate(r).map((v, p) => [(t += (elapsedMs[p] ?? 1000) / 1000), v] as [number, number]) }
  })
  const curve: Series[] = results.flatMap((r, i) => [
    curveOf(r, 'aggregatedPublishLatencyQuantiles', `${String(r.system)} publish`, COLORS[i % COLORS.length], false),
    curveOf(r, 'aggregatedEndToEndLatencyQuantiles', `${String(r.system)} end to end`, COLORS[i % COLORS.length], true),
  ]).filter((s) => s.points.length > 0)
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}
svg text{font:12px system-ui,sans-serif}
</style></head><body>
<h1>${esc(title)}</h1>
<p>${esc(String(first.workload ?? ''))}; acks ${esc(String(first.acks ?? ''))}; ${esc(String(first.producersPerTopic ?? 0))} producer(s), ${esc(String(first.consumersPerTopic ?? 0))} consumer(s); batch ${esc(String(first.batchBytes ?? ''))} B.</p>
<p>Machine: ${esc(String(machine.cpuModel ?? '?'))}, ${esc(String(machine.cpus ?? '?'))} CPUs, ${esc(formatBytes(Number(machine.memoryBytes ?? 0)))}, ${esc(String(machine.os ?? ''))}; Node ${esc(String(first.nodeVersion ?? ''))}; started ${esc(String(first.startedAt ?? ''))}.</p>
${summaryTable(results)}
<h2>How each system was driven, and its CPU</h2>
${drivenTable(results)}
<h2>Rate over time (records/s)</h2>
${chart(rateSeries, { xLabel: 'seconds', yLabel: 'records/s', logX: false, logY: false })}
<h2>Latency by percentile (ms)</h2>
<p>Solid: publish (send to acknowledgement); dashed: end to end (send to receipt).</p>
${chart(curve, { xLabel: 'percentile', yLabel: 'ms', logX: true, logY: true })}
</body></html>
`
}

function summaryTable(results: readonly BenchResultJson[]): string {
  const head = ['system', 'flush mode', 'publish rec/s', 'consume rec/s', 'publish p50 ms', 'publish p99 ms', 'publish p99.9 ms', 'publish max ms', 'e2e p50 ms', 'e2e p99 ms', 'e2e max ms']
  const rows = results.map((r) => [
    String(r.system),
    String(r.flushMode),
    fixed(r.aggregatedPublishRate, 0),
    fixed(r.aggregatedConsumeRate, 0),
    fixed(r.aggregatedPublishLatency50pct, 3),
    fixed(r.aggregatedPublishLatency99pct, 3),
    fixed(r.aggregatedPublishLatency999pct, 3),
    fixed(r.aggregatedPublishLatencyMax, 3),
    fixed(r.aggregatedEndToEndLatency50pct, 3),
    fixed(r.aggregatedEndToEndLatency99pct, 3),
    fixed(r.aggregatedEndToEndLatencyMax, 3),
  ])
  return `<table><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${rows.map((row) => `<tr>${row.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</table>`
}

/** Fairness: how each system was driven and made durable, and what each side's CPU cost per record. */
function drivenTable(results: readonly BenchResultJson[]): string {
  const head = ['system', 'acks', 'flush mode', 'driven', 'client CPU µs/record', 'server CPU µs/record', 'load average']
  const rows = results.map((r) => [String(r.system), String(r.acks), String(r.flushMode), String(r.driven ?? ''), fixed(r.clientCpuUsPerRecord, 2), fixed(r.serverCpuUsPerRecord, 2), fixed(r.loadAverage1m, 1)])
  return `<table><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${rows.map((row) => `<tr>${row.map((c) => `<td style="text-align:left">${esc(c)}</td>`).join('')}</tr>`).join('')}</table>`
}

function curveOf(r: BenchResultJson, field: string, name: string, color: string, dashed: boolean): Series {
  const quantiles = (r[field] ?? {}) as Record<string, number>
  // x is the number of nines: 50% -> 0.3, 90% -> 1, 99% -> 2, 99.9% -> 3.
  const points = CURVE_PERCENTILES.filter((q) => typeof quantiles[q] === 'number').map((q) => [-Math.log10(1 - Number(q) / 100), Math.max(quantiles[q], 0.001)] as [number, number])
  return { name, color, dashed, points }
}

function chart(series: readonly Series[], axes: { xLabel: string; yLabel: string; logX: boolean; logY: boolean }): string {
  const all = series.flatMap((s) => s.points)
  if (all.length === 0) return '<p>(no data)</p>'
  const ty = (v: number): number => (axes.logY ? Math.log10(v) : v)
  const xs = all.map((p) => p[0])
  const ys = all.map((p) => ty(p[1]))
  const [x0, x1] = [Math.min(...xs, axes.logX ? 0.3 : 0), Math.max(...xs)]
  const [y0, y1] = axes.logY ? [Math.floor(Math.min(...ys)), Math.ceil(Math.max(...ys))] : [0, Math.max(...ys) * 1.05 || 1]
  const plotW = WIDTH - MARGIN.left - MARGIN.right
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom
  const sx = (x: number): number => MARGIN.left + ((x - x0) / (x1 - x0 || 1)) * plotW
  const sy = (y: number): number => MARGIN.top + plotH - ((ty(y) - y0) / (y1 - y0 || 1)) * plotH
  const yTicks = axes.logY ? range(y0, y1).map((e) => 10 ** e) : [0, 0.25, 0.5, 0.75, 1].map((f) => f * y1)
  const xTicks = axes.logX ? [0.30103, 1, 2, 3, 4, 5].filter((x) => x <= x1 + 1e-9) : [0, 0.25, 0.5, 0.75, 1].map((f) => x0 + f * (x1 - x0))
  const xTickLabel = (x: number): string => (axes.logX ? `${trimPercent(100 * (1 - 10 ** -x))}%` : x.toFixed(1))
  const dots = series.flatMap((s) => s.points.map(([x, y]) => `<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${s.color}"/>`)).join('')
  const lines = series
    .map((s) => `<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')}"><title>${esc(s.name)}</title></polyline>`)
    .join('\n')
  const legend = series.map((s, i) => `<g transform="translate(${MARGIN.left + 10},${MARGIN.top + 14 + i * 16})"><line x1="0" x2="24" y1="-4" y2="-4" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/><text x="30" y="0">${esc(s.name)}</text></g>`).join('')
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${esc(axes.yLabel)} by ${esc(axes.xLabel)}">
<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>
${yTicks.map((v) => `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${sy(v).toFixed(1)}" y2="${sy(v).toFixed(1)}" stroke="#eee"/><text x="${MARGIN.left - 6}" y="${(sy(v) + 4).toFixed(1)}" text-anchor="end">${esc(formatTick(v))}</text>`).join('')}
${xTicks.map((x) => `<text x="${sx(x).toFixed(1)}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${esc(xTickLabel(x))}</text>`).join('')}
<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 6}" text-anchor="middle">${esc(axes.xLabel)}</text>
<text transform="translate(14,${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(axes.yLabel)}</text>
${lines}
${dots}
${legend}
</svg>`
}

function numbers(value: unknown): number[] {
  return Array.isArray(value) ? value.filter((v): v is number => typeof v === 'number') : []
}

function fixed(value: unknown, digits: number): string {
  // Zero means the run had no such figure (no consumer in a produce run).
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value.toFixed(digits) : '-'
}

function formatTick(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`
  if (v >= 1e3) return `${(v / 1e3).toFixed(v >= 1e4 ? 0 : 1)}k`
  return v >= 1 || v === 0 ? String(Number(v.toFixed(1))) : String(Number(v.toPrecision(1)))
}

function trimPercent(p: number): string {
  return String(Number(p.toFixed(3)))
}

function formatBytes(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) + 1 }, (_, i) => from + i)
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}
