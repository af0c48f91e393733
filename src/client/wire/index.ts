// The wire client's public surface: a Kafka protocol connection and a small client over it.
export { Connection } from './connection.js'
export type { ConnectionOptions, RequestOptions } from './connection.js'
export { AlterConfigOp, ConfigResourceType, KafkaClient, OffsetSpec, parseHostPort, throwIfError } from './kafka-client.js'
export type {
  BrokerAddress,
  ClusterMetadata,
  ConfigChange,
  ConfigResource,
  FetchInput,
  FetchOptions,
  FetchResult,
  KafkaClientOptions,
  ListOffsetsInput,
  ListOffsetsResult,
  NewTopic,
  PartitionInfo,
  ProduceInput,
  ProduceOptions,
  ProduceResult,
  TopicInfo,
  TopicPartition,
} from './kafka-client.js'
export { CLIENT_VERSIONS, pickVersion } from './versions.js'
export type { VersionRange } from './versions.js'
