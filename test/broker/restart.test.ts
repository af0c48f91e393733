/**
 * What must survive a broker restart: topics with their configs and records, and consumer
 * group commits. A clean close marks logs clean; the next start reads the same data.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startBroker } from '../../src/start-broker.js'
import { readPartition } from './helpers.js'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe('broker restart', () => {
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
})
