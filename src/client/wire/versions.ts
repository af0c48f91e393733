/**
 * The API versions this wire client speaks, per api key. The ranges are modest on purpose: each
 * is one the request builders in kafka-client.ts fill correctly (fields outside a version are
 * simply not written by the generated encoders), and one every Kafka broker since 2.x serves.
 * A connection picks the highest version inside both its own range and the broker's.
 */
import { PartitaError } from '../../common/errors.js'
import { ApiKey } from '../../protocol/index.js'

export interface VersionRange {
  readonly min: number
  readonly max: number
}

export const CLIENT_VERSIONS: ReadonlyMap<number, VersionRange> = new Map<number, VersionRange>([
  [ApiKey.Produce, { min: 3, max: 7 }],
  [ApiKey.Fetch, { min: 4, max: 11 }],
  [ApiKey.ListOffsets, { min: 1, max: 5 }],
  [ApiKey.Metadata, { min: 1, max: 9 }],
  [ApiKey.OffsetCommit, { min: 2, max: 8 }],
  [ApiKey.OffsetFetch, { min: 1, max: 7 }],
  [ApiKey.FindCoordinator, { min: 0, max: 3 }],
  [ApiKey.JoinGroup, { min: 0, max: 6 }],
  [ApiKey.Heartbeat, { min: 0, max: 4 }],
  [ApiKey.LeaveGroup, { min: 0, max: 4 }],
  [ApiKey.SyncGroup, { min: 0, max: 4 }],
  [ApiKey.DescribeGroups, { min: 0, max: 5 }],
  [ApiKey.ListGroups, { min: 0, max: 4 }],
  [ApiKey.ApiVersions, { min: 0, max: 3 }],
  [ApiKey.CreateTopics, { min: 0, max: 5 }],
  [ApiKey.DeleteTopics, { min: 0, max: 5 }],
  [ApiKey.DeleteRecords, { min: 0, max: 2 }],
  [ApiKey.InitProducerId, { min: 0, max: 3 }],
  [ApiKey.DescribeConfigs, { min: 0, max: 3 }],
  [ApiKey.AlterConfigs, { min: 0, max: 1 }],
  [ApiKey.CreatePartitions, { min: 0, max: 2 }],
  [ApiKey.DeleteGroups, { min: 0, max: 2 }],
  [ApiKey.IncrementalAlterConfigs, { min: 0, max: 1 }],
  [ApiKey.DescribeLogDirs, { min: 0, max: 4 }],
  [ApiKey.ListTransactions, { min: 0, max: 0 }],
])

/**
 * The highest version both sides serve, or a PARTITA_UNSUPPORTED_VERSION error naming the API
 * and both ranges (a broker too old or too new for this client).
 */
export function pickVersion(apiKey: number, broker: VersionRange | undefined, name = `api ${apiKey}`): number {
  const ours = CLIENT_VERSIONS.get(apiKey)
  if (ours === undefined) throw new PartitaError('PARTITA_UNSUPPORTED_VERSION', `the wire client does not speak ${name}`)
  if (broker === undefined) throw new PartitaError('PARTITA_UNSUPPORTED_VERSION', `the broker does not serve ${name}`)
  const version = Math.min(ours.max, broker.max)
  if (version < Math.max(ours.min, broker.min)) {
    throw new PartitaError(
      'PARTITA_UNSUPPORTED_VERSION',
      `no common version of ${name}: client ${ours.min}-${ours.max}, broker ${broker.min}-${broker.max}`,
    )
  }
  return version
}
