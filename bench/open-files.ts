/**
 * Open-files benchmark: creates N partition logs (default 20,000) in a temp dir on one thread,
 * closes them, and reopens them all, beside a same-run baseline of raw fs calls (a mkdir and an
 * open/write/close of one file per directory; then a readdir and an open/fstat/close of it),
 * taking turns with it 500 directories at a time. Prints
 * ms per log, fsyncs per log, the file cache's figures, and the process's open fd count and RSS
 * with every log open at the end.
 *
 *   npm run bench:open-files                              # 20,000 logs
 *   npm run bench:open-files -- --logs 5000 --open-files-max 1000
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { SystemClock } from '../src/common/clock.js'
import { FileHandleCache } from '../src/storage/file-handle-cache.js'
import { DEFAULT_LOG_CONFIG } from '../src/storage/log-config.js'
import { PartitionLog } from '../src/storage/log.js'

const { values } = parseArgs({
  options: {
    logs: { type: 'string', default: '20000' },
    'open-files-max': { type: 'string' },
    fsync: { type: 'boolean', default: true },
  },
})
const LOGS = Number(values.logs)
const OPEN_FILES_MAX = values['open-files-max'] === undefined ? undefined : Number(values['open-files-max'])
if (!Number.isSafeInteger(LOGS) || LOGS < 1) throw new Error(`--logs must be a positive integer, not ${values.logs}`)

// Counts the storage layer's fsyncs: it calls them through the fs module object, so wrapping the
// property sees every one (a benchmark-only measurement, like strace -c would give).
let fsyncs = 0
const realFsyncSync = fs.fsyncSync
fs.fsyncSync = (fd: number): void => {
  fsyncs++
  realFsyncSync(fd)
}

interface Phase {
  name: string
  ms: number
  fsyncs: number
}

function newPhase(name: string): Phase {
  return { name, ms: 0, fsyncs: 0 }
}

async function timed(phase: Phase, fn: () => unknown): Promise<void> {
  const fsyncsBefore = fsyncs
  const start = process.hrtime.bigint()
  await fn()
  phase.ms += Number(process.hrtime.bigint() - start) / 1e6
  phase.fsyncs += fsyncs - fsyncsBefore
}

// The disk's speed drifts a lot within a run on a shared box, so the baseline and the logs take
// turns, a chunk of directories each, and each sees the same conditions.
const CHUNK = 500

async function alternate(raw: Phase, logs: Phase, rawStep: (i: number) => unknown, logStep: (i: number) => unknown): Promise<void> {
  for (let from = 0; from < LOGS; from += CHUNK) {
    const to = Math.min(LOGS, from + CHUNK)
    await timed(raw, () => {
      for (let i = from; i < to; i++) rawStep(i)
    })
    await timed(logs, async () => {
      for (let i = from; i < to; i++) await logStep(i)
    })
  }
}

function openFdCount(): number {
  return fs.readdirSync('/proc/self/fd').length
}

function print(phase: Phase, baseline?: Phase): void {
  const perLog = `${(phase.ms / LOGS).toFixed(3)} ms/log`
  const vsBaseline = baseline === undefined ? '' : `  (${(phase.ms / baseline.ms).toFixed(1)}x the raw baseline)`
  console.log(`  ${phase.name.padEnd(30)} ${(phase.ms / 1000).toFixed(2).padStart(7)} s  ${perLog.padStart(14)}  ${(phase.fsyncs / LOGS).toFixed(2)} fsyncs/log${vsBaseline}`)
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'partita-bench-open-'))
const dirOf = (i: number): string => path.join(root, 'logs', String(i))
try {
  const files = new FileHandleCache(OPEN_FILES_MAX === undefined ? {} : { openFilesMax: OPEN_FILES_MAX })
  console.log(`open-files bench: ${LOGS} logs, file cache of ${files.openFilesMax} fds, fsync ${values.fsync ? 'on' : 'off'}, node ${process.version}, ${os.cpus().length} cpus`)
  const fdsAtStart = openFdCount()

  const payload = Buffer.from('partita\n')
  const rawRoot = path.join(root, 'raw')
  fs.mkdirSync(rawRoot)
  fs.mkdirSync(path.join(root, 'logs'))
  const rawDirOf = (i: number): string => path.join(rawRoot, String(i))
  const clock = new SystemClock()
  const options = { clock, files, fsync: values.fsync }
  let logs: PartitionLog[] = []

  const rawCreate = newPhase('raw mkdir+open/write/close')
  const create = newPhase('create PartitionLog')
  await alternate(
    rawCreate,
    create,
    (i) => {
      fs.mkdirSync(rawDirOf(i))
      const fd = fs.openSync(path.join(rawDirOf(i), 'file'), 'w')
      fs.writeSync(fd, payload)
      fs.closeSync(fd)
    },
    async (i) => logs.push(await PartitionLog.open(dirOf(i), DEFAULT_LOG_CONFIG, options)),
  )
  const close = newPhase('close (new, empty)')
  await timed(close, async () => {
    for (const log of logs) await log.close()
  })
  logs = []
  const rawReopen = newPhase('raw readdir+open/fstat/close')
  const reopen = newPhase('reopen after clean close')
  await alternate(
    rawReopen,
    reopen,
    (i) => {
      for (const name of fs.readdirSync(rawDirOf(i))) {
        const fd = fs.openSync(path.join(rawDirOf(i), name), 'r+')
        fs.fstatSync(fd)
        fs.closeSync(fd)
      }
    },
    async (i) => logs.push(await PartitionLog.open(dirOf(i), DEFAULT_LOG_CONFIG, options)),
  )
  const fdsWithAllOpen = openFdCount()
  const rssMiB = process.memoryUsage().rss / (1024 * 1024)
  const stats = files.stats
  const closeAgain = newPhase('close (unchanged)')
  await timed(closeAgain, async () => {
    for (const log of logs) await log.close()
  })

  console.log('baseline (raw fs, same run):')
  print(rawCreate)
  print(rawReopen)
  console.log('partition logs:')
  print(create, rawCreate)
  print(close)
  print(reopen, rawReopen)
  print(closeAgain)
  console.log(`with ${LOGS} logs open: ${fdsWithAllOpen} fds in the process (${fdsAtStart} at start), RSS ${rssMiB.toFixed(0)} MiB`)
  console.log(`file cache: ${stats.open} open of ${stats.openFilesMax}, ${stats.hits} hits, ${stats.misses} misses, ${stats.evictions} evictions`)
} finally {
  fs.fsyncSync = realFsyncSync
  fs.rmSync(root, { recursive: true, force: true })
}
