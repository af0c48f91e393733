/**
 * Where a broker's end-to-end time went: reads the per-phase samples its threads wrote under
 * PARTITA_PHASE_TRACE (src/common/phase-trace.ts) and prints each phase's percentiles, and each
 * thread's event-loop delay, beside the e2e figures they explain.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** What each recorded phase measures, in the order a record meets them. */
const PHASES: ReadonlyArray<[string, string]> = [
  ['req.0', 'Produce request: decoded to answered'],
  ['append.durable', 'append to on disk (group commit asked to done)'],
  ['gc.wait', 'group commit: first ask to round start'],
  ['gc.round', 'group commit: one round'],
  ['fs.open', '  of which open'],
  ['fs.datasync', '  of which fdatasync (libuv pool)'],
  ['fs.close', '  of which close'],
  ['hw.toFetchWake', 'HW moved to parked consumer fetch woken'],
  ['answer.toWrite', 'answer ready to written to the socket'],
]

interface Sample {
  p: string
  t: number
  ms?: number
  p99?: number
  max?: number
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
}

/** Lines for the samples in `dir`, leaving out the first `warmupMs` after the first produce. */
export function phaseReportLines(dir: string, warmupMs: number): string[] {
  const samples: Array<Sample & { thread: string }> = []
  for (const file of readdirSync(dir).filter((f) => f.startsWith('phases-'))) {
    const thread = file.replace(/^phases-\d+-/, '').replace(/\.jsonl$/, '')
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      if (line !== '') samples.push({ ...(JSON.parse(line) as Sample), thread })
    }
  }
  // A loop, not Math.min(...): a spread of hundreds of thousands of samples overflows the stack.
  let firstProduceMs = Infinity
  for (const s of samples) if (s.p === 'req.0' && s.t < firstProduceMs) firstProduceMs = s.t
  if (firstProduceMs === Infinity) return ['    broker phases: no samples']
  const fromMs = firstProduceMs + warmupMs
  const lines = [`    broker phases (ms, after the first ${warmupMs / 1000} s of produces):`]
  for (const [phase, what] of PHASES) {
    const values = samples.filter((s) => s.p === phase && s.t >= fromMs && s.ms !== undefined).map((s) => s.ms!)
    if (values.length === 0) continue
    values.sort((a, b) => a - b)
    const figures = `p50 ${percentile(values, 0.5).toFixed(2)} p99 ${percentile(values, 0.99).toFixed(2)} p99.9 ${percentile(values, 0.999).toFixed(2)} max ${values.at(-1)!.toFixed(2)} (${values.length})`
    lines.push(`      ${what.padEnd(48)} ${figures}`)
  }
  const threads = [...new Set(samples.filter((s) => s.p === 'loop').map((s) => s.thread))].sort()
  for (const thread of threads) {
    const seconds = samples.filter((s) => s.p === 'loop' && s.thread === thread && s.t >= fromMs)
    if (seconds.length === 0) continue
    const worstP99 = Math.max(...seconds.map((s) => s.p99 ?? 0))
    const worstMax = Math.max(...seconds.map((s) => s.max ?? 0))
    lines.push(`      event-loop delay, thread ${thread.padEnd(27)} worst second's p99 ${worstP99.toFixed(1)}, max ${worstMax.toFixed(1)}`)
  }
  return lines
}
