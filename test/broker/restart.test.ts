/**
 * What must survive a broker restart: topics with their configs and records, and consumer
 * group commits. A clean close marks logs clean; the next start reads the same data.
 */
import { appendFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startBroker } from '../../src/start-broker.js'
import { readPartition } from './helpers.js'
import { LOG_DIR_CLEAN_SHUTDOWN_FILE, writeCleanShutdownMarker } from '../../src/storage/clean-shutdown.js'

const dirs: string[] = []
/** The partition log directories in a broker's directory (beside its checkpoint files and marker). */
const logDirs = (brokerDir: string): string[] =>
  readdirSync(brokerDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe('broker restart', () => {
  it('empties a log directory left by an earlier topic of the same name instead of serving its records as the new topic', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'partita-reborn-'))
    const aside = mkdtempSync(join(tmpdir(), 'partita-reborn-aside-'))
    dirs.push(dataDir, aside)
    const logDir = join(dataDir, 'broker-0', 'reborn-0')
    {
      await using broker = await startBroker({ dataDir, port: 0 })
      await broker.admin.createTopic({ name: 'reborn', partitions: 1 })
      await broker.producer({ acks: 1 }).send({ topic: 'reborn', messages: ['a', 'b', 'c'].map((value) => ({ value: `old-${value}` })) })
    }
    expect(readFileSync(join(logDir, 'partition.metadata'), 'utf8')).toMatch(/^version: 0\ntopic_id: [0-9a-f-]{36}\n$/)
    // The directory a broker that was down during the delete would still hold.
    cpSync(logDir, join(aside, 'reborn-0'), { recursive: true })
    {
      await using broker = await startBroker({ dataDir, port: 0 })
      await broker.admin.deleteTopics({ topics: ['reborn'] })
    }
    expect(existsSync(logDir)).toBe(false)
    cpSync(join(aside, 'reborn-0'), logDir, { recursive: true })
    {
      await using broker = await startBroker({ dataDir, port: 0 })
      await broker.admin.createTopic({ name: 'reborn', partitions: 1 })
      await broker.producer({ acks: 'all' }).send({ topic: 'reborn', messages: [{ value: 'new' }] })
      expect(await readPartition(broker, 'reborn', 0)).toEqual([{ offset: 0, key: null, value: 'new' }])
    }
  })

  it('keeps topics, configs, records and committed offsets across a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'partita-restart-'))
    dirs.push(dataDir)
    {
      await using broker = await startBroker({ dataDir, port: 0 })
      await broker.admin.createTopic({ name: 'audit', partitions: 3, configs: { 'retention.ms': '3600000' } })
      const producer = broker.producer({ acks: 1 })
      await producer.send({ topic: 'audit', messages: [{ key: 'x', value: 'one' }, { key: 'x', value: 'two' }] })
      const results = await broker.cluster.groups.commitOffsets({
        groupId: 'auditors',
        generationId: -1,
        memberId: '',
        offsets: [{ topic: 'audit', partition: 1, offset: 7, metadata: 'm' }],
      })
      expect(results.map((r) => r.errorCode)).toEqual([0])
    }
    {
      await using broker = await startBroker({ dataDir, port: 0 })
      const meta = await broker.admin.fetchTopicMetadata({ topics: ['audit'] })
      expect(meta.topics[0].partitions).toHaveLength(3)
      const [configs] = await broker.cluster.describeConfigs([{ resourceType: 2, resourceName: 'audit', configNames: ['retention.ms'] }])
      expect(configs.configs[0]).toMatchObject({ name: 'retention.ms', value: '3600000', source: 1 })
      const values: string[] = []
      for (let p = 0; p < 3; p++) values.push(...(await readPartition(broker, 'audit', p)).map((r) => r.value!))
      expect(values).toEqual(['one', 'two'])
      const fetched = await broker.cluster.groups.fetchOffsets({ groupId: 'auditors', topics: [{ topic: 'audit', partitions: [1] }] })
      expect(fetched.topics[0].partitions[0]).toMatchObject({ partition: 1, offset: 7, metadata: 'm' })
    }
  })

  it('keeps one clean-shutdown marker per broker directory, and recovers a log the marker does not name (closed after it)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'partita-restart-'))
    dirs.push(dataDir)
    const brokerDir = join(dataDir, 'broker-0')
    {
      await using broker = await startBroker({ dataDir, port: 0, brokers: 1 })
      await broker.admin.createTopic({ name: 'ledger', partitions: 2 })
      const producer = broker.producer({ acks: 1 })
      await producer.send({ topic: 'ledger', messages: [{ partition: 0, value: 'a' }, { partition: 1, value: 'b' }] })
    }
    const logs = logDirs(brokerDir)
    expect(existsSync(join(brokerDir, LOG_DIR_CLEAN_SHUTDOWN_FILE))).toBe(true)
    for (const log of logs) expect(readdirSync(join(brokerDir, log))).not.toContain('clean-shutdown')
    // As if ledger-1 had closed after the marker was written, with a torn write at its end: the
    // marker must not name it, so it is recovered (the tail cut) instead of trusted.
    writeCleanShutdownMarker(brokerDir, logs.filter((name) => name !== 'ledger-1'))
    appendFileSync(join(brokerDir, 'ledger-1', '00000000000000000000.log'), Buffer.alloc(40, 0x5a))
    // An earlier version's per-partition marker is honoured once, then retired at the first change.
    {
      await using broker = await startBroker({ dataDir, port: 0, brokers: 1 })
      expect(existsSync(join(brokerDir, LOG_DIR_CLEAN_SHUTDOWN_FILE))).toBe(false)
      const producer = broker.producer({ acks: -1 }) // read back at once: acks=all is answered once on disk
      await producer.send({ topic: 'ledger', messages: [{ partition: 1, value: 'c' }] })
      expect((await readPartition(broker, 'ledger', 1)).map((r) => [r.offset, r.value])).toEqual([
        [0, 'b'],
        [1, 'c'],
      ])
      expect((await readPartition(broker, 'ledger', 0)).map((r) => r.value)).toEqual(['a'])
    }
    expect(readFileSync(join(brokerDir, 'ledger-1', 'recovery-point'), 'utf8').trim()).toBe('2')
  })

  it('trusts an earlier version\'s per-partition markers after an upgrade, and writes the directory marker at the next stop', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'partita-restart-'))
    dirs.push(dataDir)
    const brokerDir = join(dataDir, 'broker-0')
    {
      await using broker = await startBroker({ dataDir, port: 0, brokers: 1 })
      await broker.admin.createTopic({ name: 'old', partitions: 1 })
      await broker.producer({ acks: 1 }).send({ topic: 'old', messages: [{ partition: 0, value: 'x' }] })
    }
    // What an earlier version left: a marker in each log directory, none for the broker's.
    rmSync(join(brokerDir, LOG_DIR_CLEAN_SHUTDOWN_FILE))
    for (const log of logDirs(brokerDir)) writeFileSync(join(brokerDir, log, 'clean-shutdown'), '')
    {
      await using broker = await startBroker({ dataDir, port: 0, brokers: 1 })
      await broker.producer({ acks: -1 }).send({ topic: 'old', messages: [{ partition: 0, value: 'y' }] })
      // Retired before the append: a crash now must not find it and trust the changed log.
      expect(existsSync(join(brokerDir, 'old-0', 'clean-shutdown'))).toBe(false)
      expect((await readPartition(broker, 'old', 0)).map((r) => r.value)).toEqual(['x', 'y'])
    }
    expect(existsSync(join(brokerDir, LOG_DIR_CLEAN_SHUTDOWN_FILE))).toBe(true)
    expect(readFileSync(join(brokerDir, 'old-0', 'recovery-point'), 'utf8').trim()).toBe('2')
  })
})
