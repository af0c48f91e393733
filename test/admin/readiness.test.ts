/**
 * /readyz over a stand-in for the broker (an AdminSource of plain data): 503 with the reasons
 * until recovery is done, every broker runs and every partition has a live leader.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startAdminServer, type AdminServer } from '../../src/admin/admin-server.js'
import type { AdminSource } from '../../src/admin/cluster-snapshot.js'
import type { TopicState } from '../../src/metadata/image.js'

let server: AdminServer | null = null

afterEach(async () => {
  await server?.close()
  server = null
})

function source(state: { started: boolean; live: number[]; leaders: number[] }): AdminSource {
  const topic: TopicState = {
    name: 'orders',
    topicId: '00000000-0000-0000-0000-000000000001',
    configs: {},
    partitions: state.leaders.map((leader, partition) => ({ partition, replicas: [0, 1], leader, leaderEpoch: 1, isr: [0, 1] })),
  }
  return {
    endpoints: () => [0, 1].map((nodeId) => ({ nodeId, host: '127.0.0.1', port: 9092 + nodeId, rack: null })),
    liveBrokerIds: () => state.live,
    topics: () => [topic],
    started: () => state.started,
    askNode: () => Promise.reject(new Error('no shards in this test')),
    threadIds: () => ({ main: process.pid, shards: [-1, -1] }),
    ringOccupancy: () => [],
    nowMs: () => 0,
  }
}

async function readyz(state: { started: boolean; live: number[]; leaders: number[] }): Promise<{ status: number; body: { ready: boolean; reasons: string[] } }> {
  server = await startAdminServer({ host: '127.0.0.1', port: 0, source: source(state) })
  const response = await fetch(`${server.url}/readyz`)
  const health = await fetch(`${server.url}/healthz`)
  expect(health.status).toBe(200)
  await health.text()
  return { status: response.status, body: (await response.json()) as { ready: boolean; reasons: string[] } }
}

describe('/readyz', () => {
  it('is 503 while recovery is not done, though /healthz is 200', async () => {
    const answer = await readyz({ started: false, live: [0, 1], leaders: [0, 1] })
    expect(answer.status).toBe(503)
    expect(answer.body.reasons).toEqual(['recovery is not done: the stored partitions are still being opened'])
  })

  it('is 503 naming the partitions whose leader is missing or not running', async () => {
    const answer = await readyz({ started: true, live: [0], leaders: [0, 1, -1] })
    expect(answer.status).toBe(503)
    expect(answer.body.reasons).toEqual(['broker 1 is not running', '2 partition(s) have no live leader: orders-1, orders-2'])
  })

  it('is 200 once recovery is done and every partition has a live leader', async () => {
    const answer = await readyz({ started: true, live: [0, 1], leaders: [0, 1, 0] })
    expect(answer).toEqual({ status: 200, body: { ready: true, reasons: [] } })
  })

  it('answers /metrics with a 500 and one line when the broker cannot be read, and keeps serving', async () => {
    const failing = source({ started: true, live: [0, 1], leaders: [0] })
    failing.topics = () => {
      throw new Error('metadata store closed')
    }
    server = await startAdminServer({ host: '127.0.0.1', port: 0, source: failing })
    const response = await fetch(`${server.url}/metrics`)
    expect(response.status).toBe(500)
    expect(await response.json()).toEqual({ error: 'metadata store closed' })
    const health = await fetch(`${server.url}/healthz`)
    expect(health.status).toBe(200)
    await health.text()
  })
})
