/**
 * The embedded client: kafkajs-shaped producer, consumer and admin over KafkaOperations, so code
 * moves between an embedded broker and a remote one with few changes.
 */
export { Admin, ConfigResourceTypes } from './admin.js'
export type { ConfigEntryView, GroupDescription, ITopicConfig, PartitionMetadataView, ResourceConfigQuery } from './admin.js'
export { Consumer, ConsumerEvents } from './consumer.js'
export type { Batch, ConsumerOptions, ConsumerRunConfig, EachBatchPayload, EachMessagePayload, TopicPartitionOffset } from './consumer.js'
export { PartitionAssigners } from './group-member.js'
export type { AssignerOption, PartitionAssigner } from './group-member.js'
export { CompressionTypes } from './messages.js'
export type { CompressionTypeCode, IHeaders, KafkaMessage, Message, RecordMetadata } from './messages.js'
export { Producer, ProducerEvents } from './producer.js'
export type { AcksOption, CreatePartitioner, ProducerBatch, ProducerOptions, ProducerRecord } from './producer.js'
export type { PartitionerOption, PartitionFn } from './partitioner.js'
export type { RetryOptions } from './retry.js'
export type { InstrumentationEvent, RemoveListener } from './events.js'
