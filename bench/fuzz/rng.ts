/**
 * The fuzzer's generator is the project's one seeded generator (src/common/random.ts). Every
 * frame gets its own stream from (run seed, frame index), so frame i is the same bytes whatever
 * ran before it, and a failure at frame i can be replayed alone with `--first i --frames 1`.
 */
import { SeededRandom } from '../../src/common/random.js'

export { SeededRandom as Rng }

/** The generator of frame `index` in the run seeded with `seed` (`attempt` > 0 when it is drawn again). */
export function frameRng(seed: number, index: number, attempt = 0): SeededRandom {
  return new SeededRandom((seed ^ Math.imul(attempt, 0x5bd1e995)) >>> 0, index + 1)
}
