/**
 * The handler registry: one handler per API, each with its declared versions. The ApiVersions
 * answer is built from exactly this list. SASL is not served, so it is neither listed nor advertised.
 */
import type { RequestApiKey } from '../../protocol/index.js'
import { addOffsetsToTxnHandler } from './add-offsets-to-txn.js'
import { addPartitionsToTxnHandler } from './add-partitions-to-txn.js'
import { alterConfigsHandler } from './alter-configs.js'
import { createApiVersionsHandler } from './api-versions.js'
import { createPartitionsHandler } from './create-partitions.js'
import { createTopicsHandler } from './create-topics.js'
import { deleteGroupsHandler } from './delete-groups.js'
import { deleteRecordsHandler } from './delete-records.js'
import { deleteTopicsHandler } from './delete-topics.js'
import { describeClusterHandler } from './describe-cluster.js'
import { describeConfigsHandler } from './describe-configs.js'
import { describeGroupsHandler } from './describe-groups.js'
import { describeLogDirsHandler } from './describe-log-dirs.js'
import { describeProducersHandler } from './describe-producers.js'
import { describeTransactionsHandler } from './describe-transactions.js'
import { endTxnHandler } from './end-txn.js'
import { electLeadersHandler } from './elect-leaders.js'
import { fetchHandler } from './fetch.js'
import { alterPartitionReassignmentsHandler, listPartitionReassignmentsHandler } from './partition-reassignments.js'
import { findCoordinatorHandler } from './find-coordinator.js'
import { heartbeatHandler } from './heartbeat.js'
import { incrementalAlterConfigsHandler } from './incremental-alter-configs.js'
import { initProducerIdHandler } from './init-producer-id.js'
import { joinGroupHandler } from './join-group.js'
import { leaveGroupHandler } from './leave-group.js'
import { listGroupsHandler } from './list-groups.js'
import { listOffsetsHandler } from './list-offsets.js'
import { listTransactionsHandler } from './list-transactions.js'
import { metadataHandler } from './metadata.js'
import { offsetCommitHandler } from './offset-commit.js'
import { offsetDeleteHandler } from './offset-delete.js'
import { offsetFetchHandler } from './offset-fetch.js'
import { offsetForLeaderEpochHandler } from './offset-for-leader-epoch.js'
import { produceHandler } from './produce.js'
import { syncGroupHandler } from './sync-group.js'
import { txnOffsetCommitHandler } from './txn-offset-commit.js'
import { writeTxnMarkersHandler } from './write-txn-markers.js'
import type { ApiHandler } from './types.js'

export { API_VERSIONS_DECLARATION, unsupportedApiVersionsBody } from './api-versions.js'
export { CLOSE_CONNECTION, NO_RESPONSE } from './types.js'
export type { ApiHandler, HandlerContext, HandlerResult } from './types.js'

const SERVED: readonly ApiHandler[] = [
  produceHandler,
  fetchHandler,
  listOffsetsHandler,
  metadataHandler,
  offsetCommitHandler,
  offsetFetchHandler,
  findCoordinatorHandler,
  joinGroupHandler,
  heartbeatHandler,
  leaveGroupHandler,
  syncGroupHandler,
  describeGroupsHandler,
  listGroupsHandler,
  createTopicsHandler,
  deleteTopicsHandler,
  deleteRecordsHandler,
  initProducerIdHandler,
  describeConfigsHandler,
  alterConfigsHandler,
  createPartitionsHandler,
  deleteGroupsHandler,
  incrementalAlterConfigsHandler,
  offsetForLeaderEpochHandler,
  describeClusterHandler,
  offsetDeleteHandler,
  describeLogDirsHandler,
  describeProducersHandler,
  electLeadersHandler,
  alterPartitionReassignmentsHandler,
  listPartitionReassignmentsHandler,
  addPartitionsToTxnHandler,
  addOffsetsToTxnHandler,
  endTxnHandler,
  writeTxnMarkersHandler,
  txnOffsetCommitHandler,
  describeTransactionsHandler,
  listTransactionsHandler,
]

/** Every handler the server dispatches to, ApiVersions included. */
export const HANDLERS: readonly ApiHandler[] = [createApiVersionsHandler(SERVED), ...SERVED]

const byKey = new Map<number, ApiHandler>(HANDLERS.map((h) => [h.apiKey, h]))

/** The handler for `apiKey`, or undefined when the API is not served. */
export function handlerFor(apiKey: number): ApiHandler | undefined {
  return byKey.get(apiKey)
}

export type { RequestApiKey }
