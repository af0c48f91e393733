/**
 * Logs: pino's JSON lines, the human line on a terminal, and the events of shard threads reaching
 * the logger an embedding service gave startBroker, tagged with their broker.
 */
import { connect } from 'node:net'
import { describe, expect, it } from 'vitest'
import { childLogger, createLogger, emittingLogger, humanLine, type LogEvent, type Logger } from '../../src/common/logger.js'
import { startBroker } from '../../src/start-broker.js'

describe('createLogger', () => {
  it('writes one JSON object per event, with its level, time, pid and bindings, and nothing below its level', () => {
    const lines: string[] = []
    const logger = createLogger({ level: 'info', pretty: false, write: (line) => lines.push(line) })
    logger.debug('hidden')
    logger.child({ broker: 2 }).warn('disk is slow')
    expect(lines).toHaveLength(1)
    expect(lines[0].endsWith('\n')).toBe(true)
    expect(JSON.parse(lines[0])).toMatchObject({ level: 40, msg: 'disk is slow', broker: 2, pid: process.pid, time: expect.any(Number) })
  })

  it('writes a short human line per event when asked to be pretty (as on a terminal)', () => {
    const lines: string[] = []
    const logger = createLogger({ level: 'debug', pretty: true, write: (line) => lines.push(line) })
    logger.child({ broker: 1 }).error('lost a segment')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} ERROR lost a segment broker=1\n$/)
  })
})

describe('humanLine', () => {
  it('puts the time, the level and the message first and the other fields after', () => {
    const line = humanLine(JSON.stringify({ level: 30, time: Date.UTC(2026, 0, 2, 3, 4, 5, 6), pid: 9, hostname: 'h', msg: 'ready', ports: [1, 2], topic: 't' }))
    expect(line).toBe('03:04:05.006 INFO  ready ports=[1,2] topic=t\n')
  })

  it('passes a line that is not JSON through untouched', () => {
    expect(humanLine('not json\n')).toBe('not json\n')
  })
})

describe('childLogger', () => {
  it("uses the logger's own child where it has one and a message prefix where it has not", () => {
    const seen: string[] = []
    const plain: Logger = { error: (m) => seen.push(`E ${m}`), warn: (m) => seen.push(`W ${m}`), info: (m) => seen.push(`I ${m}`), debug: (m) => seen.push(`D ${m}`) }
    childLogger(plain, { broker: 3 }).warn('slow')
    expect(seen).toEqual(['W broker 3: slow'])
    const events: LogEvent[] = []
    emittingLogger((e) => events.push(e)).info('hello')
    expect(events).toEqual([{ event: 'log', level: 'info', message: 'hello' }])
  })
})

describe("a shard's log events", () => {
  it("reach the embedding service's logger from the broker's thread, tagged with the broker id", async () => {
    const lines: string[] = []
    let onLine: (line: string) => void = () => {}
    const logger = createLogger({ level: 'info', pretty: false, write: (line) => (lines.push(line), onLine(line)) })
    await using broker = await startBroker({ port: 0, brokers: 2, socketRequestMaxBytes: 1024, logger })
    // A request frame past socket.request.max.bytes makes broker 1's connection (on its shard) warn and close.
    const warned = new Promise<string>((resolve) => (onLine = (line) => line.includes('socket.request.max.bytes') && resolve(line)))
    const socket = connect(broker.ports[1], '127.0.0.1')
    const closed = new Promise((resolve) => socket.once('close', resolve))
    socket.on('error', () => {})
    socket.write(Buffer.from([0x00, 0x10, 0x00, 0x00]))
    const event = JSON.parse(await warned) as { level: number; broker: number; msg: string }
    expect(event).toMatchObject({ level: 40, broker: 1 })
    expect(event.msg).toMatch(/^closing connection from 127\.0\.0\.1:\d+: request size 1048576 is outside 0-1024 \(socket\.request\.max\.bytes\)$/)
    await closed
  })
})
