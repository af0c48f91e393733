/**
 * `npm run soak -- --minutes 30 [--brokers 2] [--sample-seconds 60] [--rate R] [--report FILE]`:
 * a long run of a `partita start` process at half its measured peak produce rate (or --rate),
 * with kafkajs producers (acks=all), a consumer group of two that loses and regains a member every
 * minute (a rebalance each time), and retention keeping the disk bounded. Every sample prints
 * the broker's RSS, open file descriptors and threads (/proc), its shards' event-loop lag (the
 * admin port's /metrics), produce p99 over the sample, records produced and consumed, and CPU by
 * thread (/proc/<pid>/task/<tid>/stat, as bench:protocol splits it). At the end it compares the
 * sample a third of the way in with the last (see judge) and says whether anything grew, with the
 * whole run's growth beside it; exit 1 if something did.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs'
import { BrokerProcess } from '../fuzz/broker-process.js'
import { cpuBetween, snapshotCpu, type CpuSnapshot, type ThreadMap } from '../protocol/thread-cpu.js'

const USAGE = 'usage: npm run soak -- --minutes M [--brokers B] [--sample-seconds S] [--rate R] [--report FILE]'
const TOPIC = 'soak'
const PARTITIONS = 6
const RECORD_BYTES = 100
const BATCH_RECORDS = 100
const PEAK_PROBE_MS = 15_000
const PEAK_CONCURRENCY = 8
/** Kept per partition by retention, so a long run's disk use stays bounded. */
const RETENTION_BYTES = 64 * 1024 * 1024
const REBALANCE_EVERY_MS = 60_000
/** Growth after the warm-up (see judge) that counts as unbounded (RSS, descriptors). */
const RSS_GROWTH_MAX_KB = 64 * 1024
const FDS_GROWTH_MAX = 32

interface Sample {
  atS: number
  rssKb: number
  fds: number
  threads: number
  loopLagMaxMs: number | null
  produceP99Ms: number | null
  produced: number
  consumed: number
  cpu: { mainPct: number; shardsPct: number[]; otherPct: number }
}

function parseArgs(argv: string[]): Map<string, string> {
  const values = new Map<string, string>()
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined) throw new Error(USAGE)
    values.set(argv[i].slice(2), argv[i + 1])
  }
  for (const name of values.keys()) if (!['minutes', 'brokers', 'sample-seconds', 'rate', 'report'].includes(name)) throw new Error(`unknown option --${name}\n${USAGE}`)
  return values
}

function positive(values: Map<string, string>, name: string, fallback: number): number {
  const raw = values.get(name)
  const n = raw === undefined ? fallback : Number(raw)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got '${raw}'\n${USAGE}`)
  return n
}

function p99(values: number[]): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function batch(): { value: Buffer }[] {
  return Array.from({ length: BATCH_RECORDS }, () => ({ value: Buffer.alloc(RECORD_BYTES, 120) }))
}

/** Unpaced sends from a few concurrent loops for a while: the records/s the broker can take. */
async function measurePeak(producer: Producer): Promise<number> {
  let records = 0
  const endMs = Date.now() + PEAK_PROBE_MS
  await Promise.all(
    Array.from({ length: PEAK_CONCURRENCY }, async () => {
      // Bounded by the deadline.
      while (Date.now() < endMs) {
        await producer.send({ topic: TOPIC, acks: -1, messages: batch() })
        records += BATCH_RECORDS
      }
    }),
  )
  return Math.round(records / (PEAK_PROBE_MS / 1000))
}

async function loopLagMaxMs(adminUrl: string | null): Promise<number | null> {
  if (adminUrl === null) return null
  try {
    const text = await (await fetch(`${adminUrl}/metrics`)).text()
    const lags = [...text.matchAll(/^partita_shard_event_loop_lag_seconds\{[^}]*\} (\S+)$/gm)].map((m) => Number(m[1]) * 1000)
    return lags.length === 0 ? null : Math.max(...lags)
  } catch {
    return null
  }
}

function procFigures(pid: number): { rssKb: number; fds: number; threads: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const field = (name: string): number => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN)
  return { rssKb: field('VmRSS'), fds: readdirSync(`/proc/${pid}/fd`).length, threads: field('Threads') }
}

async function main(): Promise<void> {
  const values = parseArgs(process.argv.slice(2))
  const minutes = positive(values, 'minutes', 30)
  const sampleMs = positive(values, 'sample-seconds', 60) * 1000
  const workDir = mkdtempSync(join(tmpdir(), 'partita-soak-'))
  const mapFile = join(workDir, 'threads.json')
  const broker = await BrokerProcess.start({
    brokers: positive(values, 'brokers', 2),
    adminPort: 0,
    env: { PARTITA_THREAD_MAP_FILE: mapFile },
    args: ['--log-level', 'warn'],
  })
  const threadMap = JSON.parse(readFileSync(mapFile, 'utf8')) as ThreadMap
  const kafka = new Kafka({ clientId: 'partita-soak', brokers: broker.bootstrap.split(','), logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  const producer = kafka.producer({ allowAutoTopicCreation: false })
  const consumers: Consumer[] = []
  let consumed = 0
  let stopping = false
  try {
    await admin.connect()
    await admin.createTopics({
      topics: [{ topic: TOPIC, numPartitions: PARTITIONS, configEntries: [{ name: 'retention.bytes', value: String(RETENTION_BYTES) }, { name: 'segment.bytes', value: String(8 * 1024 * 1024) }] }],
    })
    await producer.connect()
    const peak = await measurePeak(producer)
    const rate = values.has('rate') ? positive(values, 'rate', 1) : Math.round(peak / 2)
    console.log(`soak: pid ${broker.pid}, peak ${peak} records/s (${RECORD_BYTES} B, acks=all), soaking at ${rate} records/s for ${minutes} min`)

    const member = async (): Promise<Consumer> => {
      const consumer = kafka.consumer({ groupId: 'soak', sessionTimeout: 10_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 200 })
      await consumer.connect()
      await consumer.subscribe({ topics: [TOPIC], fromBeginning: false })
      await consumer.run({ eachBatch: async ({ batch: b }) => void (consumed += b.messages.length) })
      return consumer
    }
    consumers.push(await member(), await member())

    let produced = 0
    let latencies: number[] = []
    const sendsPerSecond = 10
    const recordsPerSend = Math.max(1, Math.round(rate / sendsPerSecond))
    const messages = Array.from({ length: recordsPerSend }, () => ({ value: Buffer.alloc(RECORD_BYTES, 121) }))
    const startedMs = Date.now()
    const endMs = startedMs + minutes * 60_000
    // Paced by the clock: each send is due at its slot, and its latency counts from then (a stall is not hidden).
    const producing = (async () => {
      for (let slot = 0; !stopping && Date.now() < endMs; slot++) {
        const dueMs = startedMs + (slot * 1000) / sendsPerSecond
        const waitMs = dueMs - Date.now()
        if (waitMs > 0) await delay(waitMs)
        await producer.send({ topic: TOPIC, acks: -1, messages })
        latencies.push(Date.now() - dueMs)
        produced += recordsPerSend
      }
    })()
    const rebalancing = (async () => {
      // Bounded by the end time: one member leaves and a new one joins each minute.
      for (let round = 0; !stopping && Date.now() + REBALANCE_EVERY_MS < endMs; round++) {
        await delay(REBALANCE_EVERY_MS)
        const leaving = consumers.shift()!
        await leaving.disconnect()
        consumers.push(await member())
      }
    })()

    const samples: Sample[] = []
    let cpuBefore: CpuSnapshot = snapshotCpu(broker.pid)
    let producedBefore = 0
    let consumedBefore = 0
    // Bounded by the end time.
    while (Date.now() < endMs) {
      await delay(Math.min(sampleMs, Math.max(0, endMs - Date.now())))
      const cpuNow = snapshotCpu(broker.pid)
      const usage = cpuBetween(cpuBefore, cpuNow, threadMap)
      const spanUs = sampleMs * 1000
      const sample: Sample = {
        atS: Math.round((Date.now() - startedMs) / 1000),
        ...procFigures(broker.pid),
        loopLagMaxMs: await loopLagMaxMs(broker.adminUrl),
        produceP99Ms: p99(latencies),
        produced: produced - producedBefore,
        consumed: consumed - consumedBefore,
        cpu: {
          mainPct: Math.round((usage.mainUs / spanUs) * 100),
          shardsPct: usage.shardsUs.map((us) => Math.round((us / spanUs) * 100)),
          otherPct: Math.round((usage.otherUs / spanUs) * 100),
        },
      }
      samples.push(sample)
      latencies = []
      cpuBefore = cpuNow
      producedBefore = produced
      consumedBefore = consumed
      console.log(
        `soak: ${sample.atS} s: RSS ${Math.round(sample.rssKb / 1024)} MiB, ${sample.fds} fds, ${sample.threads} threads, loop lag max ${sample.loopLagMaxMs?.toFixed(1) ?? '?'} ms, ` +
          `produce p99 ${sample.produceP99Ms ?? '?'} ms, produced ${sample.produced}, consumed ${sample.consumed}, ` +
          `CPU main ${sample.cpu.mainPct}% shards ${sample.cpu.shardsPct.map((p) => `${p}%`).join('/')} other ${sample.cpu.otherPct}%`,
      )
    }
    stopping = true
    await producing
    await rebalancing
    const verdict = judge(samples)
    for (const line of verdict.lines) console.log(line)
    const reportFile = values.get('report')
    if (reportFile !== undefined) writeFileSync(reportFile, `${JSON.stringify({ peak, rate, minutes, samples, verdict }, null, 2)}\n`)
    if (broker.exit !== null) console.log(`soak: FAIL: the broker exited (${JSON.stringify(broker.exit)})`)
    process.exitCode = verdict.ok && broker.exit === null ? 0 : 1
  } finally {
    stopping = true
    for (const consumer of consumers) await consumer.disconnect().catch(() => undefined)
    await producer.disconnect().catch(() => undefined)
    await admin.disconnect().catch(() => undefined)
    await broker.stop()
    rmSync(workDir, { recursive: true, force: true })
  }
}

/**
 * Growth after the warm-up: from the sample a third of the way in to the last, RSS and
 * descriptors must not have grown past a fixed allowance. The first minutes grow by design and
 * then stop (the shards' young generations fill up; the internal topics' 50 partitions open their
 * files as the coordinators first touch them), while a leak keeps growing through the rest of the
 * run; the whole run's growth is printed beside the judged one.
 */
function judge(samples: Sample[]): { ok: boolean; lines: string[] } {
  if (samples.length < 2) return { ok: false, lines: ['soak: FAIL: fewer than two samples; run longer or sample more often'] }
  const first = samples[0]
  const warm = samples[Math.floor((samples.length - 1) / 3)]
  const last = samples[samples.length - 1]
  const rssGrowthKb = last.rssKb - warm.rssKb
  const fdsGrowth = last.fds - warm.fds
  const ok = rssGrowthKb <= RSS_GROWTH_MAX_KB && fdsGrowth <= FDS_GROWTH_MAX
  const mib = (kb: number): number => Math.round(kb / 1024)
  return {
    ok,
    lines: [
      `soak: ${ok ? 'PASS' : 'FAIL'}: after the warm-up, RSS ${mib(warm.rssKb)} MiB at ${warm.atS} s -> ${mib(last.rssKb)} MiB at ${last.atS} s ` +
        `(growth ${mib(rssGrowthKb)} MiB, allowed ${RSS_GROWTH_MAX_KB / 1024}); fds ${warm.fds} -> ${last.fds} (allowed +${FDS_GROWTH_MAX}); ` +
        `threads ${warm.threads} -> ${last.threads}`,
      `soak: the whole run: RSS ${mib(first.rssKb)} MiB at ${first.atS} s -> ${mib(last.rssKb)} MiB; fds ${first.fds} -> ${last.fds}; threads ${first.threads} -> ${last.threads}`,
      `soak: produce p99 ${first.produceP99Ms} ms -> ${last.produceP99Ms} ms; loop lag max ${first.loopLagMaxMs?.toFixed(1)} ms -> ${last.loopLagMaxMs?.toFixed(1)} ms`,
    ],
  }
}

main().catch((error: unknown) => {
  console.error(`soak: ${error instanceof Error ? error.message : String(error)}`)
  process.exit(2)
})
