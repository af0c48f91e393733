/**
 * The console's /v1 JSON API on a running broker's admin port, as curl would use it: topics
 * created, described, altered and deleted; records produced and browsed (JSON pretty-printed,
 * binary as hex, a server-side filter); a group's lag and an offset reset; bad input refused
 * with a 4xx and a clear message; read-only and off modes.
 */
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBroker, type Broker } from '../../src/start-broker.js'
import { renderBytes } from '../../src/admin/console/messages.js'

let broker: Broker
let readOnly: Broker
let off: Broker

interface Answer {
  status: number
  body: Record<string, unknown>
}

async function call(target: Broker, method: string, path: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${target.adminAddress!.url}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}
/** Bytes in the topic's segment files (`*.log`) under every broker's directory. */
function segmentBytes(dataDir: string, topic: string): number {
  let total = 0
  for (const broker of readdirSync(dataDir).filter((d) => d.startsWith('broker-'))) {
    for (const dir of readdirSync(join(dataDir, broker)).filter((d) => d.startsWith(`${topic}-`))) {
      for (const file of readdirSync(join(dataDir, broker, dir)).filter((f) => f.endsWith('.log'))) total += statSync(join(dataDir, broker, dir, file)).size
    }
  }
  return total
}

const api = (method: string, path: string, body?: unknown): Promise<Answer> => call(broker, method, path, body)

beforeAll(async () => {
  // Rates are sampled every 100 ms here (5 s by default), so a test sees them without waiting.
  const options = { brokers: 2, port: 0, adminPort: 0, offsetsTopicNumPartitions: 1, groupInitialRebalanceDelayMs: 0, adminConsoleSampleMs: 100 }
  ;[broker, readOnly, off] = await Promise.all([
    startBroker(options),
    startBroker({ ...options, brokers: 1, adminConsole: 'read-only' }),
    startBroker({ ...options, brokers: 1, adminConsole: 'off' }),
  ])
}, 60_000)

afterAll(async () => {
  await Promise.all([broker?.close(), readOnly?.close(), off?.close()])
})

describe('the console API', () => {
  it('creates a topic and describes its partitions and configs with their source', async () => {
    expect(await api('POST', '/v1/topics', { name: 'orders', partitions: 2, replicationFactor: 2, configs: { 'retention.ms': '600000' } })).toEqual({ status: 201, body: { created: 'orders' } })
    const listed = await api('GET', '/v1/topics')
    expect(listed.body.topics).toContainEqual({
      name: 'orders',
      internal: false,
      partitions: 2,
      replicationFactor: 2,
      underReplicated: 0,
      sizeBytes: 0,
      recordsInPerSec: 0,
      bytesInPerSec: 0,
      recordsOutPerSec: 0,
      bytesOutPerSec: 0,
    })
    const described = await api('GET', '/v1/topics/orders')
    expect(described.status).toBe(200)
    const partitions = described.body.partitions as Array<Record<string, unknown>>
    expect(partitions.map((p) => [p.partition, (p.replicas as number[]).length, (p.isr as number[]).length, p.logStartOffset, p.highWatermark])).toEqual([
      [0, 2, 2, 0, 0],
      [1, 2, 2, 0, 0],
    ])
    const configs = described.body.configs as Array<{ name: string; value: string; source: string }>
    expect(configs.find((c) => c.name === 'retention.ms')).toMatchObject({ value: '600000', source: 'DYNAMIC_TOPIC_CONFIG' })
    expect(configs.find((c) => c.name === 'cleanup.policy')).toMatchObject({ value: 'delete', source: 'DEFAULT_CONFIG' })
  })

  it("refuses bad topic requests with a 4xx carrying the broker's own error text", async () => {
    const illegal = await api('POST', '/v1/topics', { name: 'no spaces!', partitions: 1 })
    expect(illegal.status).toBe(400)
    expect(illegal.body.error).toMatch(/INVALID_TOPIC_EXCEPTION.*illegal/)
    expect((await api('POST', '/v1/topics', { name: 'orders' })).status).toBe(409)
    const shrink = await api('POST', '/v1/topics/orders/partitions', { count: 1 })
    expect(shrink.status).toBe(400)
    expect(shrink.body.error).toMatch(/INVALID_PARTITIONS/)
    const badConfig = await api('POST', '/v1/topics/orders/configs', { configs: { 'retention.ms': 'soon' } })
    expect(badConfig.status).toBe(400)
    expect(badConfig.body.error).toMatch(/INVALID_CONFIG.*retention\.ms/)
    expect((await api('GET', '/v1/topics/missing')).status).toBe(404)
    expect((await api('POST', '/v1/topics/missing/messages', { value: 'x' })).status).toBe(404)
    expect((await api('POST', '/v1/topics', { name: 'x', partitions: 'many' })).body.error).toMatch(/partitions must be a whole number/)
    const notJson = await fetch(`${broker.adminAddress!.url}/v1/topics`, { method: 'POST', body: '{nope' })
    expect(notJson.status).toBe(400)
  })

  it('alters a config, adds partitions and deletes a topic', async () => {
    expect((await api('POST', '/v1/topics', { name: 'scratch', partitions: 1, replicationFactor: 1 })).status).toBe(201)
    expect((await api('POST', '/v1/topics/scratch/configs', { configs: { 'cleanup.policy': 'compact' } })).status).toBe(201)
    expect((await api('POST', '/v1/topics/scratch/partitions', { count: 3 })).status).toBe(201)
    const described = await api('GET', '/v1/topics/scratch')
    expect((described.body.partitions as unknown[]).length).toBe(3)
    expect((described.body.configs as Array<{ name: string; value: string }>).find((c) => c.name === 'cleanup.policy')?.value).toBe('compact')
    expect(await api('DELETE', '/v1/topics/scratch')).toEqual({ status: 200, body: { deleted: 'scratch' } })
    expect((await api('GET', '/v1/topics/scratch')).status).toBe(404)
  })

  it('produces records and browses them as pretty JSON, text and hex', async () => {
    expect(await api('POST', '/v1/topics/orders/messages', { key: 'a', value: '{"id":1,"items":[2]}', headers: { source: 'test' }, partition: 0 })).toEqual({
      status: 201,
      body: { topic: 'orders', partition: 0, offset: 0 },
    })
    expect((await api('POST', '/v1/topics/orders/messages', { key: 'b', value: 'plain words', partition: 0 })).status).toBe(201)
    await broker.producer().send({ topic: 'orders', messages: [{ key: 'c', value: Buffer.from([0, 1, 0xfe, 0xff]), partition: 0 }] })
    const page = await api('GET', '/v1/topics/orders/messages?partition=0&from=offset&offset=0')
    expect(page.status).toBe(200)
    const records = page.body.records as Array<Record<string, unknown>>
    expect(records.map((r) => [r.offset, r.key, r.value])).toEqual([
      [0, { format: 'text', text: 'a', bytes: 1 }, { format: 'json', text: '{\n  "id": 1,\n  "items": [\n    2\n  ]\n}', bytes: 20 }],
      [1, { format: 'text', text: 'b', bytes: 1 }, { format: 'text', text: 'plain words', bytes: 11 }],
      [2, { format: 'text', text: 'c', bytes: 1 }, { format: 'hex', text: '0001feff', bytes: 4 }],
    ])
    expect(records[0].headers).toEqual([{ name: 'source', value: { format: 'text', text: 'test', bytes: 4 } }])
  })

  it("gives each topic's size on disk over every replica, as its segment files measure it", async () => {
    const topics = (await api('GET', '/v1/topics')).body.topics as Array<{ name: string; sizeBytes: number }>
    const onDisk = segmentBytes(broker.config.dataDir, 'orders')
    expect(onDisk).toBeGreaterThan(0)
    expect(topics.find((t) => t.name === 'orders')?.sizeBytes).toBe(onDisk)
    expect((await api('GET', '/v1/topics')).body.sizeUnansweredBrokers).toEqual([])
  })

  it('gives the produce and consume rates of the last minute per topic and in all, and the samples of the chart', async () => {
    const perSec = async (field: 'recordsInPerSec' | 'recordsOutPerSec'): Promise<number> => {
      const topics = (await api('GET', '/v1/topics')).body.topics as Array<Record<string, number | string>>
      return topics.find((t) => t.name === 'orders')![field] as number
    }
    type Traffic = { sampleIntervalMs: number; samplesMax: number; rateWindowMs: number; rates: Record<string, number>; samples: Array<Record<string, number>> }
    const traffic = async (): Promise<Traffic> => (await api('GET', '/v1/traffic')).body as unknown as Traffic
    // Only the three records above were produced so far, so once sampled the samples add up to
    // them (the ring holds 18 s at 100 ms).
    const produced = (t: Traffic): number => Math.round(t.samples.reduce((sum, s) => sum + (s.recordsInPerSec * s.intervalMs) / 1000, 0))
    await expect.poll(async () => produced(await traffic()), { timeout: 20_000 }).toBe(3)
    const seen = await traffic()
    expect(seen).toMatchObject({ sampleIntervalMs: 100, samplesMax: 180, rateWindowMs: 60_000 })
    expect(seen.samples.length).toBeGreaterThan(1)
    expect(seen.samples.length).toBeLessThanOrEqual(180)
    expect(seen.rates.recordsInPerSec).toBeGreaterThan(0)
    expect(await perSec('recordsInPerSec')).toBeGreaterThan(0)
    // A fetch of them by the console's own browser counts as consumed.
    expect((await api('GET', '/v1/topics/orders/messages?partition=0&from=oldest')).status).toBe(200)
    await expect.poll(() => perSec('recordsOutPerSec'), { timeout: 20_000 }).toBeGreaterThan(0)
    expect(((await api('GET', '/v1/cluster')).body.rates as Record<string, number>).recordsOutPerSec).toBeGreaterThan(0)
  })

  it('opens a page at the newest records, at an offset or at a timestamp, and filters on the server', async () => {
    const newest = await api('GET', '/v1/topics/orders/messages?partition=0&from=newest&limit=1')
    expect((newest.body.records as Array<{ offset: number }>).map((r) => r.offset)).toEqual([2])
    const fromOne = await api('GET', '/v1/topics/orders/messages?partition=0&offset=1&limit=1')
    expect((fromOne.body.records as Array<{ offset: number }>).map((r) => r.offset)).toEqual([1])
    const future = await api('GET', `/v1/topics/orders/messages?from=timestamp&timestamp=${Date.now() + 3_600_000}`)
    expect(future.body.records).toEqual([])
    const filtered = await api('GET', '/v1/topics/orders/messages?filter=words')
    expect((filtered.body.records as Array<{ offset: number }>).map((r) => r.offset)).toEqual([1])
    expect(filtered.body.scanned).toBe(3)
  })

  it("pages on from each partition's next offset, skipping none of the records a page left off", async () => {
    const first = await api('GET', '/v1/topics/orders/messages?partition=all&from=oldest&limit=2')
    expect((first.body.records as Array<{ offset: number }>).map((r) => r.offset)).toEqual([0, 1])
    expect(first.body).toMatchObject({ next: { 0: 2, 1: 0 }, more: true })
    const second = await api('GET', '/v1/topics/orders/messages?partition=all&from=positions&positions=0:2,1:0&limit=2')
    expect((second.body.records as Array<{ offset: number }>).map((r) => r.offset)).toEqual([2])
    expect(second.body).toMatchObject({ next: { 0: 3, 1: 0 }, more: false })
    expect(await api('GET', '/v1/topics/orders/messages?from=positions&positions=0-2')).toEqual({
      status: 400,
      body: { error: "positions must be partition:offset pairs, like 0:12,1:40, got '0-2'" },
    })
  })

  it('refuses a non-numeric offset, a huge page size and an unknown start with a 400', async () => {
    const offset = await api('GET', '/v1/topics/orders/messages?from=offset&offset=ten')
    expect(offset).toEqual({ status: 400, body: { error: 'offset must be a whole number, got "ten"' } })
    const huge = await api('GET', '/v1/topics/orders/messages?limit=1000000')
    expect(huge).toEqual({ status: 400, body: { error: 'limit (page size) must be between 1 and 500, got 1000000' } })
    expect((await api('GET', '/v1/topics/orders/messages?from=yesterday')).status).toBe(400)
    expect((await api('GET', '/v1/topics/orders/messages?partition=7')).status).toBe(404)
  })

  it("shows a group's lag per partition and in total, and resets a stopped group's offsets", async () => {
    const committed = await broker.cluster.groups.commitOffsets({ groupId: 'billing', generationId: -1, memberId: '', offsets: [{ topic: 'orders', partition: 0, offset: 1 }] })
    expect(committed.map((r) => r.errorCode)).toEqual([0])
    const before = await api('GET', '/v1/groups/billing')
    expect(before.body).toMatchObject({ groupId: 'billing', state: 'Empty', totalLag: 2 })
    expect(before.body.partitions).toEqual([expect.objectContaining({ topic: 'orders', partition: 0, committedOffset: 1, highWatermark: 3, lag: 2 })])
    expect((await api('GET', '/v1/groups')).body.groups).toContainEqual(expect.objectContaining({ groupId: 'billing', totalLag: 2 }))
    expect((await api('POST', '/v1/groups/billing/reset', { to: 'end' })).status).toBe(201)
    expect((await api('GET', '/v1/groups/billing')).body).toMatchObject({ totalLag: 0, lagSeconds: 0 })
    expect((await api('POST', '/v1/groups/billing/reset', { to: 'offset', offset: 1, topics: ['orders'] })).status).toBe(201)
    expect((await api('GET', '/v1/groups/billing')).body.totalLag).toBe(2)
    expect((await api('POST', '/v1/groups/billing/reset', { to: 'start' })).status).toBe(201)
    expect((await api('GET', '/v1/groups/billing')).body.totalLag).toBe(3)
    expect((await api('POST', '/v1/groups/billing/reset', { to: 'sideways' })).status).toBe(400)
    expect((await api('GET', '/v1/groups/nobody')).status).toBe(404)
  })

  it('serves the page, its script and its stylesheet', async () => {
    for (const [path, type] of [
      ['/', 'text/html'],
      ['/console.js', 'text/javascript'],
      ['/console.css', 'text/css'],
    ]) {
      const response = await fetch(`${broker.adminAddress!.url}${path}`)
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toContain(type)
    }
  })

  it('refuses writes with 403 when read-only, and serves nothing of the console when off', async () => {
    expect((await call(readOnly, 'GET', '/v1/topics')).status).toBe(200)
    const refused = await call(readOnly, 'POST', '/v1/topics', { name: 'nope' })
    expect(refused).toEqual({ status: 403, body: { error: 'the console is read-only (--console read-only)' } })
    expect((await call(readOnly, 'DELETE', '/v1/topics/__consumer_offsets')).status).toBe(403)
    expect((await call(off, 'GET', '/v1/topics')).status).toBe(404)
    expect((await fetch(`${off.adminAddress!.url}/`)).status).toBe(404)
    expect((await fetch(`${off.adminAddress!.url}/healthz`)).status).toBe(200)
  })
})

describe('rendering a record value', () => {
  it('pretty-prints JSON objects, keeps other UTF-8 as text and shows the rest as hex', () => {
    expect(renderBytes(Buffer.from('[1,2]'))).toEqual({ format: 'json', text: '[\n  1,\n  2\n]', bytes: 5 })
    expect(renderBytes(Buffer.from('{not json'))).toEqual({ format: 'text', text: '{not json', bytes: 9 })
    expect(renderBytes(Buffer.from('héllo\n'))).toEqual({ format: 'text', text: 'héllo\n', bytes: 7 })
    expect(renderBytes(Buffer.from([0xc3, 0x28]))).toEqual({ format: 'hex', text: 'c328', bytes: 2 })
    expect(renderBytes(Buffer.from('a\u0001b'))).toEqual({ format: 'hex', text: '610162', bytes: 3 })
    expect(renderBytes(null)).toBeNull()
  })
})
