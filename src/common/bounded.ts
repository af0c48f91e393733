/**
 * Runs `work` over `items` with at most `limit` calls in flight, so a big admin operation (opening
 * thousands of partitions) neither floods a queue nor waits on one call at a time. Settles once
 * every call has; rejects with the first failure after the others have settled, so no call is
 * left running unobserved.
 */
export async function forEachBounded<T>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0
  let failure: { error: unknown } | null = null
  const lane = async (): Promise<void> => {
    // Bounded: each pass takes one item, and there are items.length of them.
    while (next < items.length) {
      const index = next++
      try {
        await work(items[index], index)
      } catch (error) {
        failure ??= { error }
      }
    }
  }
  const lanes: Promise<void>[] = []
  for (let i = 0; i < Math.min(Math.max(1, limit), items.length); i++) lanes.push(lane())
  await Promise.all(lanes)
  if (failure !== null) throw (failure as { error: unknown }).error
}
