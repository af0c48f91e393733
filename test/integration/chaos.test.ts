/**
 * Process-level faults with real clients, small and seeded (the big runs: `npm run chaos --
 * --rounds 20` and `--fault freeze`): a `partita start` process is killed with SIGKILL and
 * restarted on its data, or frozen with SIGSTOP past the group's session timeout, while
 * confluent-kafka's idempotent acks=all producer and a group consumer run. Judged by
 * bench/chaos/check.ts from what the clients were told and what kcat reads back. Runs against
 * the compiled broker in dist/ (`npm test` builds first).
 */
import { describe, expect, it } from 'vitest'
import { runChaos, type ChaosReport } from '../../bench/chaos/run.js'

function explain(report: ChaosReport): string {
  return [`seed ${report.seed}`, ...report.failures, ...report.verdict.problems].join('\n')
}

describe('process faults under confluent-kafka', () => {
  it(
    'loses, duplicates and reorders no acknowledged record across five kill -9 restarts of the broker process',
    async () => {
      const report = await runChaos({ rounds: 5, seed: 1_212, fault: 'kill', perSecond: 300, ackedPerRound: 150 })
      expect(report.failures, explain(report)).toEqual([])
      expect(report.rounds).toHaveLength(5)
      expect(report.verdict, explain(report)).toMatchObject({ ok: true, lost: 0, duplicates: 0, outOfOrder: 0, notConsumed: 0 })
      expect(report.verdict.acked).toBeGreaterThanOrEqual(5 * 150)
    },
    300_000,
  )

  it(
    'rebalances the group after a 10 s SIGSTOP outlasts its 6 s session, and loses nothing',
    async () => {
      const report = await runChaos({ rounds: 1, seed: 1_213, fault: 'freeze', freezeMs: 10_000, sessionMs: 6_000, perSecond: 300, ackedPerRound: 150 })
      expect(report.failures, explain(report)).toEqual([])
      expect(report.verdict, explain(report)).toMatchObject({ ok: true, lost: 0, duplicates: 0, outOfOrder: 0, notConsumed: 0 })
      // The first assignment, then at least one more after the session expired during the freeze.
      expect(report.assignments).toBeGreaterThanOrEqual(2)
    },
    300_000,
  )
})
