import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { MetadataStore, type TopicState } from '../../src/controller/metadata-store.js'
import { SimFileSystem } from '../../src/storage/sim-file-system.js'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'partita-meta-'))
  dirs.push(dir)
  return dir
}

describe('metadata store', () => {
  it('keeps topics and the cluster id across a reopen', () => {
    const dir = freshDir()
    const store = MetadataStore.open(dir)
    store.putTopic({ name: 'orders', topicId: 't-1', configs: { 'retention.ms': '1000' }, partitions: [{ partition: 0, replicas: [0], leader: 0, leaderEpoch: 3, isr: [0] }] })
    const reopened = MetadataStore.open(dir)
    expect(reopened.clusterId).toBe(store.clusterId)
    expect(reopened.topic('orders')).toEqual(store.topic('orders'))
  })

  it('never hands out a producer id twice, even across a restart', () => {
    const dir = freshDir()
    const first = MetadataStore.open(dir)
    const ids = [first.nextProducerId(), first.nextProducerId()]
    const second = MetadataStore.open(dir)
    const later = second.nextProducerId()
    expect(ids).toEqual([0, 1])
    expect(later).toBeGreaterThan(1)
  })

  it('refuses a document that fails its CRC rather than starting from nothing', () => {
    const dir = freshDir()
    MetadataStore.open(dir).putTopic({ name: 'orders', topicId: 't-1', configs: {}, partitions: [] })
    const file = join(dir, 'cluster-metadata.json')
    writeFileSync(file, readFileSync(file, 'utf8').replace('orders', 'ordres'))
    expect(() => MetadataStore.open(dir)).toThrow(expect.objectContaining({ code: 'PARTITA_METADATA_CORRUPT' }))
  })
})

function topic(name: string, leaderEpoch = 0): TopicState {
  return { name, topicId: `id-${name}`, configs: {}, partitions: [{ partition: 0, replicas: [0], leader: 0, leaderEpoch, isr: [0] }] }
}

describe('metadata store over the simulated disk (power cuts)', () => {
  it('keeps an acknowledged change through a power cut', () => {
    const disk = new SimFileSystem(11)
    const store = MetadataStore.open('/meta', { fs: disk })
    store.putTopic(topic('orders'))
    store.putTopic(topic('orders', 1))
    disk.powerCut()
    const reopened = MetadataStore.open('/meta', { fs: disk })
    expect(reopened.clusterId).toBe(store.clusterId)
    expect(reopened.topic('orders')).toEqual(topic('orders', 1))
  })

  it('loads the previous document when a save fails before its rename, whatever the torn temp file holds', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const disk = new SimFileSystem(seed)
      const store = MetadataStore.open('/meta', { fs: disk })
      store.putTopic(topic('orders'))
      disk.failNext('fsync', 'EIO')
      expect(() => store.deleteTopic('orders')).toThrow(/EIO/)
      expect(store.topic('orders')).toEqual(topic('orders'))
      expect(disk.existsSync('/meta/cluster-metadata.json.tmp')).toBe(true)
      disk.powerCut()
      expect(MetadataStore.open('/meta', { fs: disk }).topic('orders')).toEqual(topic('orders'))
    }
  })
})

describe('producer ids over the simulated disk', () => {
  it('never hands out an id above the durable mark: a failed save of the mark refuses the id and moves nothing', () => {
    const disk = new SimFileSystem(12)
    const store = MetadataStore.open('/meta', { fs: disk })
    disk.failNext('fsync', 'EIO')
    expect(() => store.nextProducerId()).toThrow(/EIO/)
    const handedOut = store.nextProducerId()
    disk.powerCut()
    expect(MetadataStore.open('/meta', { fs: disk }).nextProducerId()).toBeGreaterThan(handedOut)
  })
})
