/**
 * The fuzzer reads the broker's stderr to tell a bug from an expected close: it must understand
 * the lines as the broker writes them, pino's JSON as well as a plain logger's.
 */
import { describe, expect, it } from 'vitest'
import { BrokerLog, logMessage } from '../../bench/fuzz/broker-process.js'

const pino = (fields: Record<string, unknown>): string => JSON.stringify({ level: 40, time: 1, pid: 7, ...fields })

describe("the fuzzer's reading of the broker log", () => {
  it('takes the message out of a pino line and the prefix off a plain one', () => {
    expect(logMessage(pino({ broker: 1, msg: 'broker 1 failed: exited with code 1' }))).toBe('broker 1 failed: exited with code 1')
    expect(logMessage('[partita] restarting broker 2')).toBe('restarting broker 2')
    expect(logMessage('{not json')).toBe('{not json')
  })

  it("counts a broker's failure in pino's JSON as a bug, and a connection closed for a bad frame as a close reason", () => {
    const log = new BrokerLog()
    log.add(pino({ broker: 0, msg: 'broker 0 failed: missed 3 heartbeats' }))
    log.add(pino({ broker: 1, msg: 'closing connection from 127.1.1.2:44557: unsupported api key 269' }))
    expect(log.bugLines).toHaveLength(1)
    expect(log.bugLines[0]).toContain('broker 0 failed')
    expect(log.reasonFor('127.1.1.2:44557')).toBe('unsupported api key 269')
    expect([...log.closeReasons.keys()]).toEqual(['unsupported api key K'])
    expect(log.other).toEqual([])
  })

  it('counts a handler that threw, logged in JSON, as a bug', () => {
    const log = new BrokerLog()
    log.add(pino({ broker: 2, msg: 'closing connection from 127.1.1.9:1: request api key 0 v8 failed in the broker: boom' }))
    expect(log.bugLineCount).toBe(1)
  })
})
