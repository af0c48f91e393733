/**
 * Broker kills under load, small and seeded (the big run: `npm run chaos -- --fault broker-kill
 * --rounds 50`): three brokers, replication factor 3, an idempotent acks=all producer and a group
 * consumer running while random brokers are killed one after another. How fast new leaders serve
 * is measured and printed by the big run, never asserted here.
 */
import { describe, expect, it } from 'vitest'
import { runBrokerKills } from '../../bench/chaos/broker-kills.js'

describe('broker kills under load', () => {
  it('loses, duplicates and reorders no acknowledged record through five kills of random brokers', async () => {
    const report = await runBrokerKills({ kills: 5, seed: 1_214 })
    const explain = [`seed ${report.seed}`, ...report.failures, ...report.verdict.problems].join('\n')
    expect(report.failures, explain).toEqual([])
    expect(report.kills).toHaveLength(5)
    expect(report.verdict, explain).toMatchObject({ ok: true, lost: 0, duplicates: 0, outOfOrder: 0, notConsumed: 0 })
    // Every kill of a leader was followed by its partitions serving again.
    for (const kill of report.kills) expect(kill.newLeaderServingMs, `kill ${kill.kill}`).toBeGreaterThanOrEqual(0)
    expect(report.verdict.acked).toBeGreaterThan(0)
  }, 300_000)
})
