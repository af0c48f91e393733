import { describe, expect, it } from 'vitest'
import { checkChaos, type SeenRecord } from '../../bench/chaos/check.js'

const r = (v: number, p: number, o: number): SeenRecord => ({ v, p, o })

describe('the chaos checker', () => {
  it('passes a log holding every acknowledged value once, in order, all consumed', () => {
    const log = [r(0, 0, 0), r(2, 0, 1), r(1, 1, 0), r(3, 1, 1)]
    const verdict = checkChaos([r(0, 0, 0), r(2, 0, 1), r(1, 1, 0)], log, [...log, r(0, 0, 0)])
    expect(verdict).toMatchObject({ ok: true, acked: 3, stored: 4, lost: 0, duplicates: 0, outOfOrder: 0, notConsumed: 0, redelivered: 1 })
  })

  it('counts an acknowledged value missing from its offset, or another value there, as lost', () => {
    const verdict = checkChaos([r(0, 0, 0), r(1, 0, 1), r(2, 0, 2)], [r(0, 0, 0), r(2, 0, 1)], [r(0, 0, 0), r(1, 0, 1), r(2, 0, 2)])
    expect(verdict.ok).toBe(false)
    expect(verdict.lost).toBe(2)
    expect(verdict.problems[0]).toContain('value 1 acknowledged at 0@1 but the log holds value 2 there')
  })

  it('fails on a value stored twice, a partition out of order, or an acknowledged value never consumed', () => {
    const log = [r(0, 0, 0), r(5, 0, 1), r(3, 0, 2), r(5, 1, 0)]
    const verdict = checkChaos([r(0, 0, 0)], log, [])
    expect(verdict).toMatchObject({ ok: false, duplicates: 1, outOfOrder: 1, notConsumed: 1 })
  })
})
