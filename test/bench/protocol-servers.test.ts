import { describe, expect, it } from 'vitest'
import { isWarning } from '../../bench/protocol/servers.js'

describe('which lines of a benchmarked server count as warnings', () => {
  it('drops pino info lines and keeps warnings, errors and anything that is not pino JSON', () => {
    expect(isWarning('{"level":30,"time":1,"pid":2,"msg":"started 2 brokers on 127.0.0.1:1"}')).toBe(false)
    expect(isWarning('{"level":40,"time":1,"pid":2,"msg":"shard 1 missed heartbeats"}')).toBe(true)
    expect(isWarning('{"level":50,"msg":"shard 0 exited (code 1)"}')).toBe(true)
    expect(isWarning('(node:12) TimeoutOverflowWarning: 2147513647 does not fit')).toBe(true)
    expect(isWarning('{"level":30, torn')).toBe(true)
    expect(isWarning('')).toBe(false)
  })
})
