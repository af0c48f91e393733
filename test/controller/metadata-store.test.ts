import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { MetadataStore } from '../../src/controller/metadata-store.js'

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
