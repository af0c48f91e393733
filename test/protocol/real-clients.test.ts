/**
 * Golden bytes captured from real clients: every request frame in the fixture was sent by kcat or
 * confluent-kafka (librdkafka 2.0.2), kafkajs 2.2.4 or kafka-python 2.0.2 to a Partita broker, and
 * recorded by a proxy in between. Each must decode, and encode back to the very same bytes.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { decodeRequestBody, decodeRequestHeader, encodeRequest, type RequestApiKey } from '../../src/protocol/index.js'
import { readBatchHeader } from '../../src/records/record-batch.js'

interface CapturedRequest {
  client: string
  apiKey: number
  apiVersion: number
  frame: string
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/real-client-requests.json', import.meta.url), 'utf8')) as { requests: CapturedRequest[] }

describe('requests captured from real clients', () => {
  it('covers every client and the APIs they open with', () => {
    expect(new Set(fixture.requests.map((r) => r.client))).toEqual(new Set(['kcat', 'kafkajs', 'kafka-python', 'confluent']))
    for (const client of ['kcat', 'kafkajs', 'kafka-python', 'confluent']) {
      const keys = fixture.requests.filter((r) => r.client === client).map((r) => r.apiKey)
      expect(keys).toEqual(expect.arrayContaining([18, 3, 0]))
    }
  })

  for (const captured of fixture.requests) {
    it(`decodes and re-encodes ${captured.client}'s api ${captured.apiKey} v${captured.apiVersion} byte for byte`, () => {
      const frame = Buffer.from(captured.frame, 'hex')
      const header = decodeRequestHeader(frame)
      expect([header.apiKey, header.apiVersion]).toEqual([captured.apiKey, captured.apiVersion])
      const key = header.apiKey as RequestApiKey
      const body = decodeRequestBody(key, header.apiVersion, frame, header.bodyOffset)
      const encoded = encodeRequest(key, header.apiVersion, header.correlationId, header.clientId, body)
      // encodeRequest adds the int32 size prefix the capture left out.
      expect(encoded.subarray(4).toString('hex')).toBe(captured.frame)
    })
  }

  it('finds a whole v2 record batch in every captured produce request', () => {
    for (const captured of fixture.requests.filter((r) => r.apiKey === 0)) {
      const frame = Buffer.from(captured.frame, 'hex')
      const header = decodeRequestHeader(frame)
      const body = decodeRequestBody(0, header.apiVersion, frame, header.bodyOffset)
      const records = body.topicData[0].partitionData[0].records!
      const batch = readBatchHeader(records, 0)
      expect(batch.magic).toBe(2)
      expect(batch.batchLength + 12).toBe(records.length)
    }
  })
})
