/**
 * This process's figures from Node and /proc (Linux): memory, open file descriptors, and CPU time
 * per thread (utime + stime of /proc/self/task/<tid>/stat). Elsewhere the /proc figures are
 * absent (null), never invented.
 */
import { readdirSync, readFileSync } from 'node:fs'

/** USER_HZ: the unit of /proc's CPU times, 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100

export interface ProcessStats {
  residentBytes: number
  heapUsedBytes: number
  heapTotalBytes: number
  externalBytes: number
  openFds: number | null
  maxFds: number | null
  cpuSeconds: number
  startTimeSeconds: number
  uptimeSeconds: number
}

export function processStats(): ProcessStats {
  const memory = process.memoryUsage()
  const cpu = process.cpuUsage()
  return {
    residentBytes: memory.rss,
    heapUsedBytes: memory.heapUsed,
    heapTotalBytes: memory.heapTotal,
    externalBytes: memory.external,
    openFds: openFds(),
    maxFds: maxFds(),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    startTimeSeconds: Math.round(Date.now() / 1000 - process.uptime()),
    uptimeSeconds: process.uptime(),
  }
}

/** CPU seconds (user + system) the thread with OS id `tid` has used, or null if unknown. */
export function threadCpuSeconds(tid: number): number | null {
  if (tid <= 0) return null
  try {
    return parseStatTicks(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')) / CLOCK_TICKS_PER_SECOND
  } catch {
    return null
  }
}

/** utime + stime (fields 14 and 15) of a /proc stat line; the name field may hold spaces and parentheses. */
export function parseStatTicks(line: string): number {
  const fields = line.slice(line.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state), so utime (14) and stime (15) sit at 11 and 12.
  return Number(fields[11]) + Number(fields[12])
}

function openFds(): number | null {
  try {
    return readdirSync('/proc/self/fd').length
  } catch {
    return null
  }
}

function maxFds(): number | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'))
    const soft = line === undefined ? NaN : Number(line.slice('Max open files'.length).trim().split(/\s+/)[0])
    return Number.isFinite(soft) ? soft : null
  } catch {
    return null
  }
}
