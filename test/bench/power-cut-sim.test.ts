import { describe, expect, it } from 'vitest'
import { runPowerCutSim } from '../../bench/sim/power-cut.js'

/** CI's share of the power-cut simulation; `npm run sim -- --seeds N` runs more. */
const CI_SEEDS = 700
/**
 * Seeds past CI's share that found real losses: 961 acknowledged an OffsetCommit whose records
 * a storage recovery had cut off (durability.test.ts has the reduced schedule); 6146 recovered a
 * log with a hole where an older segment lost its tail (power-cut-recovery.test.ts).
 */
const REGRESSION_SEEDS = [961, 6146]

describe('the power-cut simulation of partition replicas, the group coordinator and the metadata store over the simulated disk', () => {
  it(`keeps every acknowledged acks=all record, dense offsets, acknowledged OffsetCommits, acknowledged metadata changes and the high watermark across power cuts (${CI_SEEDS} seeds)`, async () => {
    let cuts = 0
    let acked = 0
    let commits = 0
    let metadataChanges = 0
    const seeds = [...Array.from({ length: CI_SEEDS }, (_, i) => i + 1), ...REGRESSION_SEEDS]
    for (const seed of seeds) {
      // The seed is in the error's message (and how to replay it).
      const result = await runPowerCutSim({ seed })
      cuts += result.cuts
      acked += result.acked
      commits += result.commits
      metadataChanges += result.metadataChanges
    }
    expect(cuts).toBeGreaterThan(CI_SEEDS)
    expect(acked).toBeGreaterThan(CI_SEEDS * 20)
    expect(commits).toBeGreaterThan(CI_SEEDS * 3)
    expect(metadataChanges).toBeGreaterThan(CI_SEEDS * 2)
  }, 240_000)

  it('catches lost acknowledged records when acks=all does not wait for the disk (partita.fsync.mode=off)', async () => {
    const failures: string[] = []
    for (let seed = 1; seed <= 200 && failures.length === 0; seed++) {
      await runPowerCutSim({ seed, fsyncMode: 'off' }).catch((error: Error) => failures.push(error.message))
    }
    expect(failures[0]).toMatch(/^seed \d+: .*(lost|went back|taken back)/)
  })

  it('catches lost acknowledged OffsetCommits when __consumer_offsets does not wait for the disk', async () => {
    const failures: string[] = []
    for (let seed = 1; seed <= 50 && failures.length === 0; seed++) {
      await runPowerCutSim({ seed, offsetsFsyncMode: 'off' }).catch((error: Error) => failures.push(error.message))
    }
    expect(failures[0]).toMatch(/^seed \d+: (the acknowledged commit of \S+ at \d+ is lost|the committed offset of \S+ went back)/)
  })
})
