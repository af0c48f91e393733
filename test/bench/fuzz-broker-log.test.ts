/**
 * The fuzzer reads the broker's stderr to tell a bug from an expected close: it must understand
 * the lines as the broker writes them, pino's JSON as well as a plain logger's.
 */
import { describe, expect, it } from 'vitest'
import { BrokerLog, ISOLATE_SILENT_MS, logMessage, RetainedHeap } from '../../bench/fuzz/broker-process.js'

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

describe("the fuzzer's reading of the broker's --trace-gc lines", () => {
  // Lines as Node 20 prints them: the main thread's isolate and a shard's, scavenges among them.
  const lines = [
    '[31943:0x385484d0]      774 ms: Mark-Compact 10.5 (17.7) -> 8.7 (26.7) MB, 4.28 / 0.04 ms  (+ 0.2 ms in 3 steps) finalize incremental marking via task; GC in old space requested',
    '[31943:0x7f9d28000f30]     5721 ms: Mark-Compact 12.7 (28.7) -> 10.3 (29.0) MB, 60.77 / 0.04 ms  (average mu = 1.000, current mu = 1.000) finalize incremental marking via task',
    '[31943:0x7f9d28000f30]    56488 ms: Scavenge 45.8 (73.2) -> 35.2 (73.2) MB, 14.53 / 0.13 ms  (average mu = 0.999, current mu = 0.999) allocation failure;',
    '[31943:0x7f9d28000f30]    41399 ms: Mark-Compact (reduce) 41.1 (71.2) -> 19.5 (72.7) MB, 19.71 / 0.02 ms  (average mu = 0.999) memory reducer',
    'partita: listening on 127.0.0.1:9092 (data in /tmp/x)',
  ]

  it("sums each isolate's heap after its latest full collection, taking scavenges only as signs of life, and no other lines", () => {
    const heap = new RetainedHeap()
    expect(heap.totalKb()).toBeNull()
    const taken = lines.map((line) => heap.add(line))
    expect(taken).toEqual([true, true, true, true, false])
    // 8.7 MB on the main thread, and the shard's latest (19.5 MB), not its earlier 10.3 MB.
    expect(heap.totalKb()).toBe(Math.round((8.7 + 19.5) * 1024))
    expect(heap.fullCollections).toBe(3)
  })

  it('gives each isolate its live heap and the heap V8 held around it after its latest full collection, largest first', () => {
    const heap = new RetainedHeap()
    for (const line of lines) heap.add(line)
    expect(heap.perIsolateMb()).toEqual([
      { liveMb: 19.5, committedMb: 72.7 },
      { liveMb: 8.7, committedMb: 26.7 },
    ])
  })

  it('leaves out an isolate that has not collected anything, not even a scavenge, for ISOLATE_SILENT_MS: its thread has exited', () => {
    let nowMs = 0
    const heap = new RetainedHeap(() => nowMs)
    heap.add(lines[0]) // main
    heap.add(lines[1]) // the shard, 10.3 MB live
    const pool = '[31943:0x7f9d30000b80]     6000 ms: Mark-Compact 9.0 (12.0) -> 7.0 (16.0) MB, 3.00 / 0.01 ms  finalize incremental marking via task'
    heap.add(pool)
    expect(heap.totalKb()).toBe(Math.round((8.7 + 10.3 + 7.0) * 1024))
    // The main thread and the shard go on scavenging; the pool thread falls silent.
    nowMs = ISOLATE_SILENT_MS
    heap.add(lines[2])
    heap.add(lines[0].replace('Mark-Compact', 'Scavenge'))
    expect(heap.totalKb()).toBe(Math.round((8.7 + 10.3 + 7.0) * 1024))
    nowMs = ISOLATE_SILENT_MS + 1
    expect(heap.totalKb()).toBe(Math.round((8.7 + 10.3) * 1024))
    expect(heap.perIsolateMb()).toEqual([
      { liveMb: 10.3, committedMb: 29.0 },
      { liveMb: 8.7, committedMb: 26.7 },
    ])
    // A new thread at the same address counts again, from its own first full collection on.
    heap.add(pool.replace('6000 ms', '70000 ms').replace('-> 7.0', '-> 5.0'))
    expect(heap.totalKb()).toBe(Math.round((8.7 + 10.3 + 5.0) * 1024))
  })
})
