/**
 * How the fuzzer judges the broker's RSS growth. One reading at the end against one after the
 * warm-up measures where each shard's V8 heap stood in its collection cycle at those two
 * instants as much as what the broker keeps: a shard's old generation is let grow to two to four
 * times what it retains before a full collection, and between frames 1.2 M and 2.2 M of a run
 * (3 brokers, seed 1) the broker's RSS swung between 613 and 745 MiB from one minute to the next
 * while what its heaps retained stayed within 102-105 MiB. So RSS is sampled every few seconds,
 * and the median of the samples taken over the last tenth of the frames is compared with the
 * median over the tenth after the warm-up: memory the broker keeps moves both medians' difference, a collection cycle does not.
 */

export interface RssSample {
  /** The next frame to be sent when the sample was read. */
  frame: number
  rssKb: number
}

/** The frames whose samples each median reads: the tenth after the warm-up, and the last tenth. */
export interface RssWindows {
  afterWarmUp: { fromFrame: number; toFrame: number }
  end: { fromFrame: number; toFrame: number }
}

export function rssWindows(firstFrame: number, frames: number): RssWindows {
  const tenth = Math.max(1, Math.floor(frames / 10))
  const endFrame = firstFrame + frames
  return {
    afterWarmUp: { fromFrame: firstFrame + tenth, toFrame: firstFrame + 2 * tenth },
    end: { fromFrame: endFrame - tenth, toFrame: endFrame + 1 },
  }
}

/** The median RSS of the samples read while frames [fromFrame, toFrame) were sent; null when fewer than `samplesMin`. */
export function medianRssKb(samples: readonly RssSample[], window: { fromFrame: number; toFrame: number }, samplesMin = 5): number | null {
  const inWindow = samples.filter((s) => s.frame >= window.fromFrame && s.frame < window.toFrame).map((s) => s.rssKb)
  if (inWindow.length < samplesMin) return null
  inWindow.sort((a, b) => a - b)
  const middle = Math.floor(inWindow.length / 2)
  return inWindow.length % 2 === 1 ? inWindow[middle] : Math.round((inWindow[middle - 1] + inWindow[middle]) / 2)
}
