import { describe, expect, it } from 'vitest'
import { histogramSamples, renderFamilies } from '../../src/admin/prometheus.js'
import { parsePrometheus, valueOf } from './prometheus-text.js'

describe('the Prometheus text renderer', () => {
  it('escapes backslashes, quotes and newlines in label values so they read back unchanged', () => {
    const topic = 'a"b\\c\nd'
    const text = renderFamilies([{ name: 'x_total', help: 'help with \\ and\nnewline', type: 'counter', samples: [{ labels: { redpanda_topic: topic }, value: 3 }] }])
    expect(text).toContain('x_total{redpanda_topic="a\\"b\\\\c\\nd"} 3')
    expect(text).toContain('# HELP x_total help with \\\\ and\\nnewline')
    expect(valueOf(parsePrometheus(text), 'x_total', { redpanda_topic: topic })).toBe(3)
  })

  it('turns per-bucket counts into cumulative buckets ending at +Inf with the count', () => {
    const samples = histogramSamples({ api: 'produce' }, [0.1, 1], [2, 3, 1], 4.5, 6)
    expect(samples.map((s) => [s.suffix, s.labels.le, s.value])).toEqual([
      ['_bucket', '0.1', 2],
      ['_bucket', '1', 5],
      ['_bucket', '+Inf', 6],
      ['_sum', undefined, 4.5],
      ['_count', undefined, 6],
    ])
  })

  it('refuses a metric name Prometheus cannot read', () => {
    expect(() => renderFamilies([{ name: 'bad-name', help: '', type: 'gauge', samples: [] }])).toThrow(/metric name/)
  })
})
