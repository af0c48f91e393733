/**
 * CPU of a measured phase, from /proc (Linux): the harness's own process (its producers and
 * consumers) and the server process of the system under test, each split by thread, beside the
 * box's load average. Per record, they say what each side costs, which a rate on a shared
 * 2-core box cannot: the clients and the server take their CPU from the same cores.
 */
import { loadavg } from 'node:os'
import type { ServedBy } from './driver.js'
import { cpuBetween, snapshotCpu, type CpuSnapshot, type CpuUsage } from './thread-cpu.js'

export interface PhaseCpu {
  /** The harness's process: the clients of the system under test. */
  client: CpuUsage
  /** The system's server process; null when it runs elsewhere (-b). */
  server: CpuUsage | null
  /** The box's 1-minute load average at the end of the phase (other jobs share the box). */
  loadAverage1m: number
}

export interface PhaseCpuStart {
  client: CpuSnapshot
  server: CpuSnapshot | null
}

/** Null off Linux (no /proc): figures are absent, never invented. */
export function startPhaseCpu(server: ServedBy | null): PhaseCpuStart | null {
  try {
    return { client: snapshotCpu(process.pid), server: server === null ? null : snapshotCpu(server.pid) }
  } catch {
    return null
  }
}

export function endPhaseCpu(start: PhaseCpuStart | null, server: ServedBy | null): PhaseCpu | null {
  if (start === null) return null
  try {
    const client = cpuBetween(start.client, snapshotCpu(process.pid), { main: process.pid, shards: [] })
    const serverUsage = start.server === null || server === null ? null : cpuBetween(start.server, snapshotCpu(server.pid), server.threads)
    return { client, server: serverUsage, loadAverage1m: loadavg()[0] }
  } catch {
    return null
  }
}

/** One line for people: µs of CPU per record on each side, the server's split by thread role. */
export function describePhaseCpu(cpu: PhaseCpu, records: number): string {
  const per = (us: number): string => (records > 0 ? (us / records).toFixed(2) : '-')
  const parts = [`client ${per(cpu.client.totalUs)} (main ${per(cpu.client.mainUs)}, other ${per(cpu.client.otherUs)})`]
  if (cpu.server !== null) {
    const s = cpu.server
    const shards = s.shardsUs.map((us, i) => `shard ${i} ${per(us)}`)
    parts.push(`server ${per(s.totalUs)} (${['main ' + per(s.mainUs), ...shards, 'other ' + per(s.otherUs)].join(', ')})`)
  }
  return `CPU µs per record: ${parts.join('; ')}; load average ${cpu.loadAverage1m.toFixed(1)}`
}
