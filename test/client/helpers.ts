import type { ConsumerOptions } from '../../src/client/consumer.js'

/** Polls a condition every few ms (the client's progress has no single event to await). */
export async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  // Bounded by the deadline.
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** Consumer timings short enough for tests: fast heartbeats, short long-polls. */
export function fastConsumer(groupId: string, overrides: Partial<ConsumerOptions> = {}): ConsumerOptions {
  return {
    groupId,
    sessionTimeout: 2_000,
    rebalanceTimeout: 3_000,
    heartbeatInterval: 30,
    maxWaitTimeInMs: 100,
    retry: { retries: 3, initialRetryTime: 5, maxRetryTime: 20 },
    ...overrides,
  }
}
