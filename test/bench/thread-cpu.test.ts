/**
 * Tests of bench/protocol/thread-cpu.ts: /proc stat parsing and the split of a process's CPU by
 * thread role, on hand-made snapshots (and once on this process's own /proc entries).
 */
import { describe, expect, it } from 'vitest'
import { clockTicksPerSecond, cpuBetween, parseStat, snapshotCpu, type CpuSnapshot } from '../../src/bench/thread-cpu.js'

function snapshot(processTicks: number, threads: [number, string, number][], boxBusyTicks = 0): CpuSnapshot {
  // A third of each thread's time is in the kernel.
  return { processTicks, threads: new Map(threads.map(([tid, name, ticks]) => [tid, { name, ticks, systemTicks: ticks / 3 }])), boxBusyTicks }
}

describe('thread CPU sampling', () => {
  it('reads utime + stime from a stat line whose thread name holds spaces and parentheses', () => {
    const line = '4242 (V8 (Default) x) S 1 2 3 4 5 6 7 8 9 10 120 35 0 0 20 0 12 0 100 0 0'
    expect(parseStat(line)).toEqual({ name: 'V8 (Default) x', ticks: 155, systemTicks: 35 })
  })

  it('splits a phase into main, each shard and other, counting threads born and ended during it', () => {
    const usPerTick = 1e6 / clockTicksPerSecond()
    const before = snapshot(1_000, [
      [100, 'node', 500],
      [101, 'node', 100],
      [102, 'node', 50],
      [103, 'node', 10],
      [104, 'node', 40],
    ])
    // 104 ended during the phase after 5 more ticks; 105 was born and spent 7.
    const after = snapshot(1_000 + 30 + 20 + 10 + 3 + 5 + 7, [
      [100, 'node', 530],
      [101, 'node', 120],
      [102, 'node', 60],
      [103, 'node', 13],
      [105, 'node', 7],
    ])
    const usage = cpuBetween(before, after, { main: 100, shards: [101, 102, null] })
    expect(usage.mainUs).toBe(30 * usPerTick)
    expect(usage.shardsUs).toEqual([20 * usPerTick, 10 * usPerTick, 0])
    expect(usage.otherUs).toBe((3 + 7 + 5) * usPerTick)
    expect(usage.otherThreads).toEqual([
      { tid: 105, name: 'node', us: 7 * usPerTick, systemUs: (7 / 3) * usPerTick },
      { tid: 0, name: '(ended)', us: 5 * usPerTick, systemUs: NaN },
      { tid: 103, name: 'node', us: 3 * usPerTick, systemUs: (13 / 3 - 10 / 3) * usPerTick },
    ])
    expect(usage.totalUs).toBe(75 * usPerTick)
  })

  it('samples a live process: this one, whose main thread is its pid', () => {
    const before = snapshotCpu(process.pid)
    const cpuBefore = process.cpuUsage()
    const giveUpAt = performance.now() + 10_000
    // Burns 50 ms of CPU on this thread (however long a busy box makes that), so its delta shows.
    while (process.cpuUsage(cpuBefore).user < 50_000 && performance.now() < giveUpAt) Math.sqrt(Math.random())
    const after = snapshotCpu(process.pid)
    expect(after.threads.has(process.pid)).toBe(true)
    const usage = cpuBetween(before, after, { main: process.pid, shards: [] })
    expect(usage.mainUs).toBeGreaterThan(0)
    expect(usage.boxBusyUs).toBeGreaterThanOrEqual(usage.mainUs)
  })
})
