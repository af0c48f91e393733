import { describe, expect, it } from 'vitest'
import { medianRssKb, rssWindows, type RssSample } from '../../bench/fuzz/rss-windows.js'

describe("the fuzzer's RSS growth check", () => {
  it('reads the tenth of the frames after the warm-up and the last tenth, the last frame included', () => {
    expect(rssWindows(1_000, 10_000)).toEqual({ afterWarmUp: { fromFrame: 2_000, toFrame: 3_000 }, end: { fromFrame: 10_000, toFrame: 11_001 } })
  })

  it('compares medians, so the swing of a collection cycle at one reading does not count as growth', () => {
    const windows = rssWindows(0, 1_000)
    // Around 600 MiB after the warm-up and at the end alike, one reading caught at 745 MiB.
    const samples: RssSample[] = [
      ...[600, 640, 610, 605, 630].map((mib, i) => ({ frame: 100 + i * 10, rssKb: mib * 1024 })),
      ...[615, 620, 745, 600, 625].map((mib, i) => ({ frame: 900 + i * 20, rssKb: mib * 1024 })),
    ]
    expect(medianRssKb(samples, windows.afterWarmUp)).toBe(610 * 1024)
    expect(medianRssKb(samples, windows.end)).toBe(620 * 1024)
  })

  it('moves with memory the broker keeps', () => {
    const windows = rssWindows(0, 1_000)
    const samples: RssSample[] = Array.from({ length: 1_000 }, (_, frame) => ({ frame, rssKb: 500_000 + frame * 100 }))
    expect(medianRssKb(samples, windows.end)! - medianRssKb(samples, windows.afterWarmUp)!).toBe(80_000)
  })

  it('gives no median for a window with fewer than five readings, so a short run is judged on its two readings', () => {
    const windows = rssWindows(0, 1_000)
    const samples: RssSample[] = [100, 150, 920, 950].map((frame) => ({ frame, rssKb: 1 }))
    expect(medianRssKb(samples, windows.afterWarmUp)).toBeNull()
    expect(medianRssKb(samples, windows.end)).toBeNull()
  })
})
