import { describe, expect, it } from 'vitest'
import { PartitaError } from '../../src/common/errors.js'
import { ApiKey, apiVersionsFromDeclarations } from '../../src/protocol/apis.js'
import {
  decodeRequest,
  decodeRequestHeader,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  encodeResponseChunks,
  requestHeaderVersion,
  responseHeaderVersion,
} from '../../src/protocol/frames.js'

/** Builds a Buffer from hex groups and quoted ASCII, so each expected frame reads like the spec. */
function bytes(...parts: (string | number[])[]): Buffer {
  return Buffer.concat(
    parts.map((p) => (Array.isArray(p) ? Buffer.from(p) : p.startsWith("'") ? Buffer.from(p.slice(1, -1), 'ascii') : Buffer.from(p.replace(/ /g, ''), 'hex'))),
  )
}

function withSize(body: Buffer): Buffer {
  const size = Buffer.alloc(4)
  size.writeInt32BE(body.length)
  return Buffer.concat([size, body])
}

function expectParseError(fn: () => unknown): void {
  let caught: unknown
  try {
    fn()
  } catch (error) {
    caught = error
  }
  expect(caught).toBeInstanceOf(PartitaError)
  expect((caught as PartitaError).code).toBe('PARTITA_PROTOCOL_PARSE')
}

// ApiVersions v3 as librdkafka sends it first on every connection.
const apiVersionsV3 = bytes(
  '0012', // request_api_key 18 (ApiVersions)
  '0003', // request_api_version 3: flexible, so request header v2
  '00000001', // correlation_id 1
  '0007', "'rdkafka'", // client_id: int16 length + bytes, never compact even in header v2
  '00', // header tagged fields: none
  '0b', "'librdkafka'", // client_software_name: compact string, uvarint length+1 = 11
  '06', "'2.3.0'", // client_software_version: compact string, uvarint length+1 = 6
  '00', // body tagged fields: none
)

// Metadata v1 as kafkajs sends it for one topic: not flexible, so header v1 and int32 array count.
const metadataV1 = bytes(
  '0003', // request_api_key 3 (Metadata)
  '0001', // request_api_version 1
  '00000002', // correlation_id 2
  '0007', "'kafkajs'", // client_id
  '00000001', // topics: int32 count 1 (nullable from v1: -1 would mean all topics)
  '0005', "'topic'", // name: int16 length + bytes
)

// Produce v3: header v1, then transactional_id (v3+), acks, timeout and one partition of records.
const produceV3 = bytes(
  '0000', // request_api_key 0 (Produce)
  '0003', // request_api_version 3
  '00000003', // correlation_id 3
  '0007', "'kafkajs'", // client_id
  'ffff', // transactional_id: null (int16 length -1)
  'ffff', // acks: -1 (all in-sync replicas)
  '00007530', // timeout_ms: 30000
  '00000001', // topic_data: 1 topic
  '0001', "'t'", // name "t"
  '00000001', // partition_data: 1 partition
  '00000000', // index 0
  '00000004', 'deadbeef', // records: int32 length 4, then the batch bytes (opaque here)
)

describe('request frames', () => {
  it('decodes an ApiVersions v3 request byte for byte as librdkafka sends it', () => {
    const { apiKey, header, body } = decodeRequest(apiVersionsV3)
    expect(apiKey).toBe(ApiKey.ApiVersions)
    expect(header).toEqual({ apiKey: 18, apiVersion: 3, correlationId: 1, clientId: 'rdkafka', headerVersion: 2, bodyOffset: 18 })
    expect(body).toEqual({ clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.3.0' })
  })

  it('encodes an ApiVersions v3 request to the same bytes, size-prefixed', () => {
    const frame = encodeRequest(ApiKey.ApiVersions, 3, 1, 'rdkafka', { clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.3.0' })
    expect(frame.toString('hex')).toBe(withSize(apiVersionsV3).toString('hex'))
  })

  it('decodes and encodes a Metadata v1 request with header v1 and int32 array counts', () => {
    const { header, body } = decodeRequest(metadataV1)
    expect(header.headerVersion).toBe(1)
    expect(header.clientId).toBe('kafkajs')
    expect(body).toEqual({ topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'topic' }], allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false })
    expect(encodeRequest(ApiKey.Metadata, 1, 2, 'kafkajs', { topics: [{ name: 'topic' }] }).equals(withSize(metadataV1))).toBe(true)
  })

  it('reads a Metadata v1 null topic array as null (all topics)', () => {
    const allTopics = Buffer.concat([metadataV1.subarray(0, 17), Buffer.from('ffffffff', 'hex')])
    const { body } = decodeRequest(allTopics)
    expect(body).toMatchObject({ topics: null })
  })

  it('decodes a Produce v3 request and keeps its records as a view of the frame, not a copy', () => {
    const decoded = decodeRequest(produceV3)
    expect(decoded.apiKey).toBe(ApiKey.Produce)
    if (decoded.apiKey !== ApiKey.Produce) return
    expect(decoded.header).toMatchObject({ apiKey: 0, apiVersion: 3, correlationId: 3, clientId: 'kafkajs', headerVersion: 1, bodyOffset: 17 })
    const { transactionalId, acks, timeoutMs, topicData } = decoded.body
    expect({ transactionalId, acks, timeoutMs }).toEqual({ transactionalId: null, acks: -1, timeoutMs: 30000 })
    const records = topicData[0].partitionData[0].records
    expect(records?.toString('hex')).toBe('deadbeef')
    expect(records?.buffer).toBe(produceV3.buffer)
    expect(records?.byteOffset).toBe(produceV3.byteOffset + produceV3.length - 4)
  })

  it('picks request header v2 exactly for flexible versions, and v1 for unknown apis', () => {
    expect(requestHeaderVersion(ApiKey.Produce, 8)).toBe(1)
    expect(requestHeaderVersion(ApiKey.Produce, 9)).toBe(2)
    expect(requestHeaderVersion(ApiKey.ApiVersions, 2)).toBe(1)
    expect(requestHeaderVersion(ApiKey.ApiVersions, 3)).toBe(2)
    // A future ApiVersions version is still flexible, so its header must still parse.
    expect(requestHeaderVersion(ApiKey.ApiVersions, 99)).toBe(2)
    expect(requestHeaderVersion(ApiKey.SaslHandshake, 1)).toBe(1)
    expect(requestHeaderVersion(9999, 0)).toBe(1)
  })

  it('reads the header of an ApiVersions request of a version it cannot decode', () => {
    const future = Buffer.from(apiVersionsV3)
    future.writeInt16BE(7, 2)
    expect(decodeRequestHeader(future)).toMatchObject({ apiKey: 18, apiVersion: 7, headerVersion: 2, bodyOffset: 18 })
    expectParseError(() => decodeRequest(future))
  })

  it('throws PARTITA_PROTOCOL_PARSE, never a RangeError, for every truncation of a request', () => {
    for (const frame of [apiVersionsV3, metadataV1, produceV3]) {
      for (let cut = 0; cut < frame.length; cut++) {
        const truncated = Buffer.from(frame.subarray(0, cut))
        expectParseError(() => decodeRequest(truncated))
      }
    }
  })

  it('rejects an array count larger than the bytes left before allocating', () => {
    const huge = Buffer.concat([metadataV1.subarray(0, 17), Buffer.from('7fffffff', 'hex')])
    expectParseError(() => decodeRequest(huge))
    // The compact form: uvarint 0xffffffff (count 2^32 - 2) in a flexible Metadata v9 request.
    const flexible = Buffer.concat([bytes('0003', '0009', '00000001', 'ffff', '00'), Buffer.from('ffffffff0f', 'hex')])
    expectParseError(() => decodeRequest(flexible))
  })

  it('rejects a string length past the frame end and an overlong varint', () => {
    expectParseError(() => decodeRequestHeader(bytes('0003', '0001', '00000001', '7fff', "'abc'")))
    expectParseError(() => decodeRequest(bytes('0012', '0003', '00000001', 'ffff', '00', 'ffffffffff01')))
  })
})

describe('tagged fields', () => {
  // Heartbeat v4 request body: group_id "g", generation_id 1, member_id "m", group_instance_id null.
  const heartbeatV4 = (tags: string) => bytes('000c', '0004', '00000001', 'ffff', '00', '0267', '00000001', '026d', '00', tags)

  it('skips tagged fields it does not know', () => {
    const { body } = decodeRequest(heartbeatV4('01' + '05' + '02' + 'abcd')) // one field: tag 5, size 2
    expect(body).toEqual({ groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null })
  })

  it('reads a known tagged field and rejects one whose value overruns its declared size', () => {
    const response = (tags: string) => bytes('00000001', '0000', '01', '00000000', tags)
    const ok = decodeResponse(ApiKey.ApiVersions, 3, response('01' + '03' + '01' + '01')) // tag 3 (ZkMigrationReady), size 1, true
    expect(ok.body.zkMigrationReady).toBe(true)
    expectParseError(() => decodeResponse(ApiKey.ApiVersions, 3, response('01' + '03' + '02' + '0100')))
    expectParseError(() => decodeRequest(heartbeatV4('01' + '05' + '09' + 'abcd')))
  })

  it('writes a tagged field only when it differs from its default', () => {
    const plain = encodeResponse(ApiKey.ApiVersions, 3, 1, { finalizedFeaturesEpoch: -1 })
    const tagged = encodeResponse(ApiKey.ApiVersions, 3, 1, { finalizedFeaturesEpoch: 5 })
    expect(plain.subarray(-1).toString('hex')).toBe('00')
    // count 1, tag 1, size 8, int64 5
    expect(tagged.subarray(-11).toString('hex')).toBe('01' + '01' + '08' + '0000000000000005')
  })
})

describe('response frames', () => {
  const apiVersionsBody = { errorCode: 0, apiKeys: [{ apiKey: 0, minVersion: 3, maxVersion: 9 }], throttleTimeMs: 0 }

  it('writes the ApiVersions v3 response with header v0 (no tagged fields after the correlation id)', () => {
    const frame = encodeResponse(ApiKey.ApiVersions, 3, 7, apiVersionsBody)
    const expected = bytes(
      '00000007', // correlation_id 7; response header v0 even though v3 is flexible
      '0000', // error_code 0
      '02', // api_keys: compact array, uvarint count+1 = 2
      '0000', '0003', '0009', '00', // api_key 0, min 3, max 9, element tagged fields
      '00000000', // throttle_time_ms 0
      '00', // body tagged fields: none (SupportedFeatures etc. are at their defaults)
    )
    expect(frame.toString('hex')).toBe(withSize(expected).toString('hex'))
    expect(responseHeaderVersion(ApiKey.ApiVersions, 4)).toBe(0)
  })

  it('writes response header v1 for flexible versions of other apis and v0 otherwise', () => {
    expect(responseHeaderVersion(ApiKey.Metadata, 8)).toBe(0)
    expect(responseHeaderVersion(ApiKey.Metadata, 9)).toBe(1)
    const v3 = encodeResponse(ApiKey.Heartbeat, 3, 5, { errorCode: 0 })
    const v4 = encodeResponse(ApiKey.Heartbeat, 4, 5, { errorCode: 0 })
    // v3: size, correlation id, throttle_time_ms, error_code.
    expect(v3.toString('hex')).toBe('0000000a' + '00000005' + '00000000' + '0000')
    // v4: size, correlation id, header tagged fields, throttle, error, body tagged fields.
    expect(v4.toString('hex')).toBe('0000000c' + '00000005' + '00' + '00000000' + '0000' + '00')
  })

  it('decodes what it encodes, as a client reading the frame after its size prefix', () => {
    for (const version of [0, 3, 4]) {
      const frame = encodeResponse(ApiKey.ApiVersions, version, 9, apiVersionsBody)
      expect(frame.readInt32BE(0)).toBe(frame.length - 4)
      const { correlationId, body } = decodeResponse(ApiKey.ApiVersions, version, frame.subarray(4))
      expect(correlationId).toBe(9)
      expect(body.apiKeys).toEqual(apiVersionsBody.apiKeys)
    }
  })

  it('references large Fetch record batches instead of copying them', () => {
    const records = Buffer.alloc(8192, 7)
    const body = { responses: [{ topic: 't', partitions: [{ partitionIndex: 0, highWatermark: 10, records }] }] }
    const chunks = encodeResponseChunks(ApiKey.Fetch, 11, 1, body)
    expect(chunks).toContain(records)
    const whole = Buffer.concat(chunks)
    expect(whole.equals(encodeResponse(ApiKey.Fetch, 11, 1, body))).toBe(true)
    expect(whole.readInt32BE(0)).toBe(whole.length - 4)
    const decoded = decodeResponse(ApiKey.Fetch, 11, whole.subarray(4))
    expect(decoded.body.responses[0].partitions[0].records?.equals(records)).toBe(true)
    expect(decoded.body.responses[0].partitions[0].lastStableOffset).toBe(-1)
  })

  it('throws PARTITA_PROTOCOL_PARSE for every truncation of a response', () => {
    const frame = encodeResponse(ApiKey.ApiVersions, 3, 7, apiVersionsBody).subarray(4)
    for (let cut = 0; cut < frame.length; cut++) {
      expectParseError(() => decodeResponse(ApiKey.ApiVersions, 3, Buffer.from(frame.subarray(0, cut))))
    }
  })
})

describe('apiVersionsFromDeclarations', () => {
  it('lists the declared ranges sorted by api key', () => {
    const out = apiVersionsFromDeclarations([
      { apiKey: ApiKey.Metadata, minVersion: 1, maxVersion: 12 },
      { apiKey: ApiKey.Produce, minVersion: 3, maxVersion: 11 },
      { apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: 4 },
    ])
    expect(out).toEqual([
      { apiKey: 0, minVersion: 3, maxVersion: 11 },
      { apiKey: 3, minVersion: 1, maxVersion: 12 },
      { apiKey: 18, minVersion: 0, maxVersion: 4 },
    ])
  })

  it('refuses a declaration outside the grammar, a duplicate, or an api without codecs', () => {
    expect(() => apiVersionsFromDeclarations([{ apiKey: ApiKey.Produce, minVersion: 0, maxVersion: 99 }])).toThrow(PartitaError)
    expect(() => apiVersionsFromDeclarations([{ apiKey: ApiKey.Produce, minVersion: 5, maxVersion: 4 }])).toThrow(PartitaError)
    expect(() =>
      apiVersionsFromDeclarations([
        { apiKey: 1, minVersion: 4, maxVersion: 4 },
        { apiKey: 1, minVersion: 5, maxVersion: 5 },
      ]),
    ).toThrow(PartitaError)
    expect(() => apiVersionsFromDeclarations([{ apiKey: 9999, minVersion: 0, maxVersion: 0 }])).toThrow(PartitaError)
  })
})

describe('a common struct used by both old and flexible versions', () => {
  it('encodes AddPartitionsToTxn v0-2 partition results without tagged fields, as librdkafka reads them', () => {
    const body = {
      throttleTimeMs: 0,
      resultsByTopicV3AndBelow: [{ name: 'tc', resultsByPartition: [0, 1, 2].map((partitionIndex) => ({ partitionIndex, partitionErrorCode: 0 })) }],
    }
    for (const version of [0, 1, 2]) {
      const frame = encodeResponse(ApiKey.AddPartitionsToTxn, version, 4, body)
      // size, correlation id, throttle, 1 topic, 'tc', 3 partitions of int32 index + int16 code: nothing else.
      expect(frame.length).toBe(4 + 4 + 4 + 4 + (2 + 2) + 4 + 3 * 6)
      expect(frame.readInt32BE(4 + 4 + 4 + 4 + 4 + 4 + 6)).toBe(1)
    }
    // v3 is flexible: there each partition result ends with its (empty) tagged fields.
    expect(encodeResponse(ApiKey.AddPartitionsToTxn, 3, 4, body).length).toBe(4 + 4 + 1 + 4 + 1 + 1 + 2 + 1 + 3 * 7 + 1 + 1)
  })
})
