/**
 * What a small append costs the kernel as the page cache grows: 2,200-byte writes (one 20-record
 * batch of 100-byte values) round-robin over 64 files, with the system CPU per write and the
 * kernel's memory figures printed each second. No Partita code runs: this measures the box.
 *
 * Why: bench:protocol's small-batch phase cost both the ceiling and Partita about twice the CPU
 * per record in a full run as it did alone. On this VM the cost of a buffered write jumped from
 * about 1.2 to 6-10 µs of system time once the page cache grew into memory the guest had not
 * touched before (perf: the time is in the memset that zeroes each new page-cache block), and it
 * stays per byte, whatever the write size.
 *
 *   npm run bench:page-cache-growth                  # until 16 GB written or 60 s
 *   PARTITA_BENCH_GB=4 npm run bench:page-cache-growth
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const FILES = 64
const WRITE_BYTES = 2_200
const WRITES_PER_CHECK = 100
const BYTES_MAX = Number(process.env.PARTITA_BENCH_GB ?? 16) * 1e9
const SECONDS_MAX = 60
const REPORT_MS = 1_000

function meminfoMb(): Record<string, number> {
  const figures: Record<string, number> = {}
  for (const line of fs.readFileSync('/proc/meminfo', 'utf8').split('\n')) {
    const match = /^(\w+):\s+(\d+) kB/.exec(line)
    if (match !== null) figures[match[1]] = Math.round(Number(match[2]) / 1024)
  }
  return figures
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'partita-page-cache-'))
try {
  const fds = Array.from({ length: FILES }, (_, i) => fs.openSync(path.join(dir, `f${i}`), 'w'))
  const positions = new Array<number>(FILES).fill(0)
  const buffer = Buffer.alloc(WRITE_BYTES, 7)
  const startedMs = Date.now()
  let writtenBytes = 0
  console.log(`page cache growth: ${WRITE_BYTES} B writes over ${FILES} files in ${dir}; system CPU per write each second`)
  // Bounded by BYTES_MAX and SECONDS_MAX.
  while (writtenBytes < BYTES_MAX && Date.now() - startedMs < SECONDS_MAX * 1_000) {
    const cpu = process.cpuUsage()
    const intervalStartMs = Date.now()
    let writes = 0
    while (Date.now() - intervalStartMs < REPORT_MS) {
      for (let i = 0; i < WRITES_PER_CHECK; i++) {
        const file = writes % FILES
        fs.writeSync(fds[file], buffer, 0, WRITE_BYTES, positions[file])
        positions[file] += WRITE_BYTES
        writes++
      }
    }
    const used = process.cpuUsage(cpu)
    writtenBytes += writes * WRITE_BYTES
    const mem = meminfoMb()
    console.log(
      `${(writtenBytes / 1e9).toFixed(1)} GB written: ${writes} writes, system ${(used.system / writes).toFixed(2)} µs/write, user ${(used.user / writes).toFixed(2)} µs/write; MemFree ${mem.MemFree} MB, Cached ${mem.Cached} MB, Dirty ${mem.Dirty} MB`,
    )
  }
  for (const fd of fds) fs.closeSync(fd)
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}
