/**
 * DescribeLogDirs v0-4 (KIP-113): this broker's log directory (one per broker here), with the
 * size of each replica it hosts and, for v4, the file system's total and usable bytes. A client
 * asks every broker; each answers for itself. Partitions are never moving between directories,
 * so no replica is a "future" one.
 */
import { ErrorCode } from '../../common/error-codes.js'
import { ApiKey } from '../../protocol/index.js'
import { defineHandler, groupByTopic } from './types.js'

export const describeLogDirsHandler = defineHandler({
  apiKey: ApiKey.DescribeLogDirs,
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, request) {
    const asked = request.topics === null ? null : request.topics.map((t) => ({ topic: t.topic, partitions: t.partitions }))
    const dir = await ctx.core.describeLogDirs(asked)
    const items = dir.partitions.map((p) => ({
      topic: p.topic,
      item: { partitionIndex: p.partition, partitionSize: p.sizeBytes, offsetLag: p.offsetLag, isFutureKey: false },
    }))
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      results: [
        {
          errorCode: ErrorCode.NONE,
          logDir: dir.logDir,
          topics: groupByTopic(items).map(({ name, items: partitions }) => ({ name, partitions })),
          totalBytes: dir.totalBytes,
          usableBytes: dir.usableBytes,
        },
      ],
    }
  },
})
