/**
 * Partita as a library: `startBroker` runs a whole Kafka-compatible broker in this process, with
 * a real TCP endpoint for any Kafka client and kafkajs-shaped clients that skip the socket.
 */
export { startBroker, ADMIN_PORT_DEFAULT } from './start-broker.js'
export type { StartBrokerOptions } from './start-broker.js'
export type { Broker } from './start-broker.js'
export type { BrokerOptions } from './metadata/broker-config.js'
export * from './client/index.js'
export { ErrorCode, errorName } from './common/error-codes.js'
export { KafkaError, PartitaError } from './common/errors.js'
export { ManualClock, SystemClock } from './common/clock.js'
export type { Clock } from './common/clock.js'
export { createLogger } from './common/logger.js'
export type { Logger, LogLevel } from './common/logger.js'
