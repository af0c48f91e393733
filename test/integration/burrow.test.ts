/**
 * Debian's Burrow 1.2.1 (LinkedIn's lag monitor, package `burrow`) watching Partita: it learns
 * the topics from Metadata, the end offsets with ListOffsets v0 (sarama at 0.10.2), and the
 * groups' committed offsets by consuming `__consumer_offsets` and decoding Kafka's record formats.
 * A kcat consumer group commits part of a topic, and Burrow's HTTP API must report the group's
 * committed offset and lag exactly, and follow them as the topic grows and the group catches up.
 *
 * Burrow keeps its own state in ZooKeeper, so the test starts Debian's `zookeeper` (its jar, on
 * a free port, in a temp dir) beside it. Without both packages the suite is skipped, saying so.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../src/bench/free-port.js'
import { KCAT, runOk, startTestBroker, tempDataDir, type Broker } from './harness.js'

const BURROW = '/usr/bin/Burrow'
const ZOOKEEPER_JAR = '/usr/share/java/zookeeper.jar'
const found = existsSync(BURROW) && existsSync(ZOOKEEPER_JAR) && spawnSync('java', ['-version']).status === 0
if (!found) console.warn(`burrow suite skipped: needs Debian's burrow (${BURROW}) and zookeeper (${ZOOKEEPER_JAR}, with java)`)

const GROUP = 'burrow-watched'
const TOPIC = 'burrow-lag'
/** How long Burrow may take to see a change: its offset refresh is 1 s, its topic refresh 5 s. */
const SEEN_WITHIN_MS = 60_000

let data: ReturnType<typeof tempDataDir>
let broker: Broker
let dir: string
let burrowPort: number
const children: ChildProcess[] = []

/** Starts a long-running child whose output goes to `<name>.log` in the test's dir; stopped in afterAll. */
function startChild(name: string, command: string, args: string[]): ChildProcess {
  const out = openSync(join(dir, `${name}.log`), 'w')
  const child = spawn(command, args, { cwd: dir, stdio: ['ignore', out, out] })
  closeSync(out)
  child.on('error', (error) => console.error(`${name}: ${error.message}`))
  children.push(child)
  return child
}

/** Connects to `port`, sends `probe` (if any) and resolves with what came back before the close, or null. */
function ask(port: number, probe: string | null): Promise<string | null> {
  return new Promise((resolve) => {
    let answer = ''
    const socket = connect(port, '127.0.0.1', () => {
      if (probe === null) {
        socket.destroy()
        resolve('')
      } else socket.end(probe)
    })
    socket.setTimeout(5_000, () => socket.destroy())
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()))
    socket.once('error', () => resolve(null))
    socket.once('close', () => resolve(answer))
  })
}

/**
 * Waits until `name` is ready on `port`, failing with the end of its log. ZooKeeper accepts
 * connections before it serves them (and Burrow gives up on a closed one), so it must answer
 * its `srvr` command with its mode; Burrow need only accept.
 */
async function waitForPort(name: string, port: number, timeoutMs: number, probe: string | null = null): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const answer = await ask(port, probe)
    const ok = answer !== null && (probe === null || answer.includes('Mode:'))
    if (ok) return
    if (Date.now() > deadline) {
      const log = existsSync(join(dir, `${name}.log`)) ? readFileSync(join(dir, `${name}.log`), 'utf8').slice(-2000) : '(no log)'
      throw new Error(`${name} did not listen on ${port} within ${timeoutMs} ms: ${log}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

interface BurrowPartition {
  topic: string
  partition: number
  status: string
  current_lag: number
  end: { offset: number; lag: number }
}

interface BurrowLag {
  error: boolean
  status?: { totallag: number; partitions: BurrowPartition[] }
}

async function burrowLag(): Promise<BurrowLag | null> {
  try {
    const response = await fetch(`http://127.0.0.1:${burrowPort}/v3/kafka/partita/consumer/${GROUP}/lag`)
    return (await response.json()) as BurrowLag
  } catch {
    return null
  }
}

/** Polls Burrow until the group's partition 0 shows `committed` with `lag`, or fails with what it last said. */
async function expectBurrowToReport(committed: number, lag: number): Promise<BurrowPartition> {
  const deadline = Date.now() + SEEN_WITHIN_MS
  let last: BurrowLag | null = null
  for (;;) {
    last = await burrowLag()
    const partition = last?.status?.partitions.find((p) => p.topic === TOPIC && p.partition === 0)
    if (partition !== undefined && partition.end.offset === committed && partition.current_lag === lag && last?.status?.totallag === lag) {
      console.log(`burrow: ${GROUP} ${TOPIC}[0] committed ${partition.end.offset}, current_lag ${partition.current_lag}, totallag ${last?.status?.totallag}, status ${partition.status}`)
      return partition
    }
    if (Date.now() > deadline) throw new Error(`Burrow did not report offset ${committed} and lag ${lag} within ${SEEN_WITHIN_MS} ms; it said ${JSON.stringify(last)}`)
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
}

async function produce(count: number, from: number): Promise<void> {
  const lines = Array.from({ length: count }, (_, i) => `v${from + i}`).join('\n') + '\n'
  await runOk(KCAT, ['-b', broker.bootstrapServers, '-P', '-t', TOPIC, '-p', '0'], { input: lines })
}

/**
 * A kcat group member that reads `count` records from the group's committed offset (the earliest
 * with none) and commits them as it closes. Not `-o`: kcat would seek there on every assignment.
 */
async function consume(count: number): Promise<void> {
  const out = await runOk(KCAT, ['-b', broker.bootstrapServers, '-G', GROUP, '-X', 'auto.offset.reset=earliest', '-c', String(count), '-q', '-X', 'auto.commit.interval.ms=100', TOPIC], {
    timeoutMs: 60_000,
  })
  expect(out.trim().split('\n')).toHaveLength(count)
}

describe.skipIf(!found)('Burrow 1.2.1 watching a Partita broker', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'partita-burrow-'))
    data = tempDataDir()
    broker = await startTestBroker(data.dir)
    const [created] = await broker.cluster.createTopics([{ name: TOPIC, numPartitions: 1, replicationFactor: -1, configs: {} }], false)
    expect(created.errorCode).toBe(0)

    const zkPort = await freePort()
    writeFileSync(join(dir, 'zoo.cfg'), `tickTime=2000\ndataDir=${join(dir, 'zk')}\nclientPort=${zkPort}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=srvr\n`)
    startChild('zookeeper', 'java', ['-cp', `/etc/zookeeper/conf:${ZOOKEEPER_JAR}`, `-Dzookeeper.log.dir=${dir}`, 'org.apache.zookeeper.server.quorum.QuorumPeerMain', join(dir, 'zoo.cfg')])
    await waitForPort('zookeeper', zkPort, 60_000, 'srvr')

    burrowPort = await freePort()
    const servers = broker.bootstrapServers
      .split(',')
      .map((s) => `"${s}"`)
      .join(', ')
    writeFileSync(
      join(dir, 'burrow.toml'),
      [
        '[general]',
        `pidfile="${join(dir, 'burrow.pid')}"`,
        '[logging]',
        'level="info"',
        '[zookeeper]',
        `servers=[ "127.0.0.1:${zkPort}" ]`,
        'timeout=6',
        'root-path="/burrow"',
        '[client-profile.partita]',
        'client-id="burrow"',
        'kafka-version="0.10.2"',
        '[cluster.partita]',
        'class-name="kafka"',
        `servers=[ ${servers} ]`,
        'client-profile="partita"',
        'topic-refresh=5',
        'offset-refresh=1',
        '[consumer.partita]',
        'class-name="kafka"',
        'cluster="partita"',
        `servers=[ ${servers} ]`,
        'client-profile="partita"',
        'offsets-topic="__consumer_offsets"',
        'start-latest=false',
        '[httpserver.default]',
        `address="127.0.0.1:${burrowPort}"`,
        '[storage.default]',
        'class-name="inmemory"',
        'workers=2',
        'intervals=10',
        'expire-group=604800',
        'min-distance=1',
        '',
      ].join('\n'),
    )
    await produce(100, 0)
    await consume(40)
    startChild('burrow', BURROW, ['--config-dir', dir])
    await waitForPort('burrow', burrowPort, 60_000)
  }, 180_000)

  afterAll(async () => {
    for (const child of children.reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    }
    await broker?.close()
    data?.remove()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it("reports a kcat group's committed offset and lag from __consumer_offsets and ListOffsets v0", async () => {
    const partition = await expectBurrowToReport(40, 60)
    expect(partition.end.lag).toBe(60)
  }, 90_000)

  it('follows the lag as the topic grows and as the group catches up', async () => {
    await produce(25, 100)
    await expectBurrowToReport(40, 85)
    // The group resumes from its commit at 40: 85 records to the end.
    await consume(85)
    await expectBurrowToReport(125, 0)
  }, 150_000)
})
