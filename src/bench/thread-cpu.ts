/**
 * CPU time of another process split by thread, from /proc (Linux): utime + stime of every task in
 * /proc/<pid>/task/<tid>/stat, in clock ticks (`getconf CLK_TCK`, normally 100 a second). Two
 * snapshots around a phase give each thread's share of it. Threads are attributed to roles with
 * the broker's thread map (PARTITA_THREAD_MAP_FILE): the main thread (whose tid is the pid), each
 * shard worker, and other (libuv's pool, V8's helpers, CPU-pool workers, and threads that ended
 * during the phase, whose time only the process total in /proc/<pid>/stat still holds). Node names
 * all of these threads 'node', so other is split by thread, not by name. The whole box's busy time
 * (/proc/stat) over the same span shows how much CPU everything else on the box took.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

export interface ThreadMap {
  main: number
  /** Shard worker tids by shard index (null while a shard is down). */
  shards: (number | null)[]
}

export interface ThreadStat {
  name: string
  /** utime + stime. */
  ticks: number
  /** stime: time in the kernel (system calls: socket and file I/O). */
  systemTicks: number
}

export interface CpuSnapshot {
  /** utime + stime of the whole process, ended threads included. */
  processTicks: number
  /** tid to its name (comm), utime + stime, and stime alone. */
  threads: Map<number, ThreadStat>
  /** Busy time of the whole box, every process's. */
  boxBusyTicks: number
}

export interface CpuUsage {
  totalUs: number
  mainUs: number
  /** By shard index. */
  shardsUs: number[]
  otherUs: number
  /** Each other thread's time (and its kernel part), largest first; threads that ended during the phase as one entry, tid 0. */
  otherThreads: { tid: number; name: string; us: number; systemUs: number }[]
  /** Busy time of the whole box over the same span, this process's included. */
  boxBusyUs: number
}

let ticksPerSecond: number | null = null

export function clockTicksPerSecond(): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
  if (!Number.isInteger(ticksPerSecond) || ticksPerSecond <= 0) throw new Error(`getconf CLK_TCK said ${ticksPerSecond}`)
  return ticksPerSecond
}

/** utime + stime (fields 14 and 15) and the name of a /proc stat line; the name may hold spaces and parentheses. */
export function parseStat(line: string): ThreadStat {
  const open = line.indexOf('(')
  const close = line.lastIndexOf(')')
  const fields = line.slice(close + 2).split(' ')
  // fields[0] is field 3 (state), so utime (14) and stime (15) sit at 11 and 12.
  return { name: line.slice(open + 1, close), ticks: Number(fields[11]) + Number(fields[12]), systemTicks: Number(fields[12]) }
}

function readStat(path: string): ThreadStat | null {
  try {
    return parseStat(readFileSync(path, 'utf8'))
  } catch {
    // The thread ended between listing and reading: its time is in the process total.
    return null
  }
}

export function snapshotCpu(pid: number): CpuSnapshot {
  // The total and the threads are read a moment apart; ended time is off by a tick or two at most.
  const process = readStat(`/proc/${pid}/stat`)
  if (process === null) throw new Error(`process ${pid} is gone`)
  const threads = new Map<number, ThreadStat>()
  for (const entry of readdirSync(`/proc/${pid}/task`)) {
    const stat = readStat(`/proc/${pid}/task/${entry}/stat`)
    if (stat !== null) threads.set(Number(entry), stat)
  }
  return { processTicks: process.ticks, threads, boxBusyTicks: boxBusyTicks() }
}

/** CPU time the whole box spent busy (all CPUs, all processes), from the first line of /proc/stat. */
function boxBusyTicks(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal: all but idle and iowait are busy.
  return fields.slice(0, 8).reduce((sum, ticks, i) => (i === 3 || i === 4 ? sum : sum + ticks), 0)
}

export function cpuBetween(before: CpuSnapshot, after: CpuSnapshot, map: ThreadMap): CpuUsage {
  const usPerTick = 1e6 / clockTicksPerSecond()
  const shardIndex = new Map<number, number>()
  map.shards.forEach((tid, index) => tid !== null && shardIndex.set(tid, index))
  const usage: CpuUsage = {
    totalUs: 0,
    mainUs: 0,
    shardsUs: map.shards.map(() => 0),
    otherUs: 0,
    otherThreads: [],
    boxBusyUs: (after.boxBusyTicks - before.boxBusyTicks) * usPerTick,
  }
  let threadsUs = 0
  for (const [tid, thread] of after.threads) {
    const us = (thread.ticks - (before.threads.get(tid)?.ticks ?? 0)) * usPerTick
    threadsUs += us
    const shard = shardIndex.get(tid)
    if (tid === map.main) usage.mainUs += us
    else if (shard !== undefined) usage.shardsUs[shard] += us
    else {
      usage.otherUs += us
      const systemUs = (thread.systemTicks - (before.threads.get(tid)?.systemTicks ?? 0)) * usPerTick
      if (us > 0) usage.otherThreads.push({ tid, name: thread.name, us, systemUs })
    }
  }
  // The files are read a moment apart, so the total may trail the threads' sum by a tick.
  const endedUs = Math.max(0, (after.processTicks - before.processTicks) * usPerTick - threadsUs)
  if (endedUs > 0) {
    usage.otherUs += endedUs
    usage.otherThreads.push({ tid: 0, name: '(ended)', us: endedUs, systemUs: NaN })
  }
  usage.otherThreads.sort((a, b) => b.us - a.us)
  usage.totalUs = threadsUs + endedUs
  return usage
}
