import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PhaseTrace } from '../../src/common/phase-trace.js'
import { phaseReportLines } from '../../bench/protocol/phase-report.js'

describe('phaseReportLines', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'partita-phases-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it("sums up each phase a broker traced, leaving out the warm-up after the first produce", () => {
    const trace = new PhaseTrace(dir)
    const t0 = trace.now() - 10_000
    trace.since('req.0', t0)
    // In the warm-up: left out.
    trace.since('append.durable', t0 + 500)
    for (let i = 0; i < 100; i++) trace.since('hw.toFetchWake', t0 + 2000 + i)
    trace.flush()
    const lines = phaseReportLines(dir, 1000)
    expect(lines[0]).toBe('    broker phases (ms, after the first 1 s of produces):')
    expect(lines.some((l) => l.includes('append to on disk'))).toBe(false)
    expect(lines.find((l) => l.includes('HW moved to parked consumer fetch woken'))).toMatch(/p50 [\d.]+ p99 [\d.]+ p99\.9 [\d.]+ max [\d.]+ \(100\)$/)
    expect(lines.at(-1)).toMatch(/^ {6}event-loop delay, thread \d+ +worst second's p99 [\d.]+, max [\d.]+$/)
  })
})
