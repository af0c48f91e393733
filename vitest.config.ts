import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Worker threads and real sockets are used throughout; forks isolate each file's brokers.
    pool: 'forks',
    maxWorkers: 2,
  },
})
