/**
 * The small parsers and printers behind the CLI: rpk's offset forms, the consume renderer's
 * format string, and progress that redraws on a terminal but prints plain lines elsewhere.
 */
import { describe, expect, it } from 'vitest'
import { CliError } from '../../src/cli/common.js'
import { renderer } from '../../src/cli/consume.js'
import { parseOffsetSpec } from '../../src/cli/offsets.js'
import { Progress } from '../../src/cli/progress.js'
import type { KafkaMessage } from '../../src/client/messages.js'

describe('parseOffsetSpec', () => {
  it.each([
    ['start', { kind: 'start' }],
    ['beginning', { kind: 'start' }],
    ['end', { kind: 'end' }],
    ['42', { kind: 'offset', offset: 42 }],
    ['-3', { kind: 'fromEnd', count: 3 }],
    ['@1700000000000', { kind: 'timestamp', ms: 1_700_000_000_000 }],
    ['@2026-01-02T03:04:05Z', { kind: 'timestamp', ms: Date.UTC(2026, 0, 2, 3, 4, 5) }],
  ])('reads %s', (text, spec) => {
    expect(parseOffsetSpec(text)).toEqual(spec)
  })

  it.each(['', 'sideways', '1.5', '@', '@yesterday', '+-1'])('refuses %j with a CliError', (text) => {
    expect(() => parseOffsetSpec(text)).toThrow(CliError)
  })
})

describe('the consume renderer', () => {
  const message: KafkaMessage = {
    key: Buffer.from('k1'),
    value: Buffer.from('v1'),
    timestamp: '1700000000000',
    attributes: 0,
    offset: '7',
    headers: { a: Buffer.from('1'), b: [Buffer.from('2'), Buffer.from('3')] },
  }

  it("expands kcat's format tokens and escapes", () => {
    const render = renderer({ format: '%t/%p@%o %k=%v %T [%h] 100%%\\t.\\n', keySeparator: '\t' })
    expect(render('orders', 2, message)).toBe('orders/2@7 k1=v1 1700000000000 [a=1,b=2,b=3] 100%\t.\n')
  })

  it('prints a null key and value as null, and the value alone in text unless --print-key', () => {
    const tombstone = { ...message, key: null, value: null }
    expect(renderer({ format: 'text', keySeparator: '\t' })('t', 0, tombstone)).toBe('null\n')
    expect(renderer({ format: 'text', printKey: true, keySeparator: ':' })('t', 0, message)).toBe('k1:v1\n')
    expect(JSON.parse(renderer({ format: 'json', keySeparator: '\t' })('t', 0, tombstone))).toEqual({
      topic: 't',
      partition: 0,
      offset: 7,
      timestamp: 1_700_000_000_000,
      key: null,
      value: null,
      headers: { a: '1', b: '3' },
    })
  })
})

describe('Progress', () => {
  function run(isTTY: boolean): string[] {
    const written: string[] = []
    let nowMs = 0
    const progress = new Progress('produced', 'records', { isTTY, write: (text) => written.push(text) }, () => nowMs)
    for (let i = 0; i < 100; i++) {
      nowMs += 100
      progress.add(10)
    }
    progress.done()
    return written
  }

  it('redraws one line in place a few times a second on a terminal and clears it at the end', () => {
    const written = run(true)
    // A draw each 300 ms (the first tick at or past 250 ms after the last), then the clear.
    expect(written).toHaveLength(34)
    expect(written[0]).toBe('\r\x1b[2Kproduced 30 records (100/s)')
    expect(written.at(-1)).toBe('\r\x1b[2K')
  })

  it('prints a plain line every five seconds elsewhere, and nothing to clear', () => {
    expect(run(false)).toEqual(['produced 500 records (100/s)\n', 'produced 1000 records (100/s)\n'])
  })
})
