import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PhaseTrace } from '../../src/common/phase-trace.js'

describe('PhaseTrace', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'partita-phases-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('writes each phase with its monotonic start and duration, and the event-loop delay, on flush', () => {
    const trace = new PhaseTrace(dir)
    const startMs = trace.now()
    // The same clock as CLOCK_MONOTONIC stamps from another process.
    expect(Math.abs(startMs - Number(process.hrtime.bigint()) / 1e6)).toBeLessThan(1000)
    trace.since('append.durable', startMs - 5)
    trace.flush()
    const [file] = readdirSync(dir)
    expect(file).toMatch(/^phases-\d+-\d+\.jsonl$/)
    const lines = readFileSync(join(dir, file), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, number | string>)
    expect(lines).toHaveLength(2)
    expect(lines[0].p).toBe('append.durable')
    expect(lines[0].t).toBeCloseTo(startMs - 5, 2)
    expect(lines[0].ms).toBeGreaterThanOrEqual(5)
    expect(lines[1]).toMatchObject({ p: 'loop', dropped: 0 })
  })
})
