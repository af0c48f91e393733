import { describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/common/error-codes.js'
import { KafkaError } from '../../src/common/errors.js'
import { DEFAULT_LOG_CONFIG, logConfigFromKafka } from '../../src/storage/log-config.js'

describe('logConfigFromKafka', () => {
  it('maps Kafka topic config names onto the log config', () => {
    const config = logConfigFromKafka({
      'segment.bytes': '1048576',
      'retention.ms': '-1',
      'cleanup.policy': 'delete,compact',
      'flush.messages': '9223372036854775807',
      'message.timestamp.type': 'LogAppendTime',
      'min.insync.replicas': '2',
      'compression.type': 'zstd',
    })
    expect(config).toEqual({
      ...DEFAULT_LOG_CONFIG,
      segmentBytes: 1048576,
      retentionMs: -1,
      cleanupPolicy: 'compact,delete',
      flushMessages: Infinity,
      messageTimestampType: 'LogAppendTime',
      minInsyncReplicas: 2,
    })
  })

  it('rejects an invalid value with INVALID_CONFIG naming the key', () => {
    for (const [key, value] of [
      ['segment.bytes', 'big'],
      ['segment.bytes', '99999999999'],
      ['retention.ms', '-2'],
      ['cleanup.policy', 'forever'],
      ['message.timestamp.type', 'Now'],
    ]) {
      try {
        logConfigFromKafka({ [key]: value })
        expect.unreachable(`${key}=${value} should be rejected`)
      } catch (error) {
        expect(error).toBeInstanceOf(KafkaError)
        expect((error as KafkaError).errorCode).toBe(ErrorCode.INVALID_CONFIG)
        expect((error as KafkaError).message).toContain(key)
      }
    }
  })
})
