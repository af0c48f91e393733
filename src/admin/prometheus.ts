/**
 * Prometheus text exposition format (version 0.0.4): one `# HELP` and `# TYPE` per family, then
 * its samples. Label values are escaped as the format asks (backslash, double quote, newline).
 */
import { assert } from '../common/assert.js'

export type MetricType = 'counter' | 'gauge' | 'histogram'
export type Labels = Record<string, string | number>

export interface Sample {
  /** Appended to the family name: '' for plain samples, '_bucket', '_sum', '_count' for histograms. */
  suffix?: string
  labels: Labels
  value: number
}

export interface MetricFamily {
  name: string
  help: string
  type: MetricType
  samples: Sample[]
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

export function renderFamilies(families: readonly MetricFamily[]): string {
  const lines: string[] = []
  for (const family of families) {
    assert(NAME.test(family.name), `metric name '${family.name}' is valid`)
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`)
    lines.push(`# TYPE ${family.name} ${family.type}`)
    for (const sample of family.samples) lines.push(`${family.name}${sample.suffix ?? ''}${renderLabels(sample.labels)} ${renderValue(sample.value)}`)
  }
  return lines.join('\n') + '\n'
}

/** Histogram samples from per-bucket (non-cumulative) counts over `bounds`, the last count being +Inf's. */
export function histogramSamples(labels: Labels, bounds: readonly number[], bucketCounts: readonly number[], sum: number, count: number): Sample[] {
  assert(bucketCounts.length === bounds.length + 1, 'one count per bound and one for +Inf')
  const samples: Sample[] = []
  let cumulative = 0
  bounds.forEach((bound, i) => {
    cumulative += bucketCounts[i]
    samples.push({ suffix: '_bucket', labels: { ...labels, le: String(bound) }, value: cumulative })
  })
  samples.push({ suffix: '_bucket', labels: { ...labels, le: '+Inf' }, value: count })
  samples.push({ suffix: '_sum', labels, value: sum })
  samples.push({ suffix: '_count', labels, value: count })
  return samples
}

function renderLabels(labels: Labels): string {
  const entries = Object.entries(labels)
  if (entries.length === 0) return ''
  return `{${entries
    .map(([name, value]) => {
      assert(LABEL_NAME.test(name), `label name '${name}' is valid`)
      return `${name}="${escapeLabelValue(String(value))}"`
    })
    .join(',')}}`
}

function renderValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Infinity) return '+Inf'
  if (value === -Infinity) return '-Inf'
  return String(value)
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}
