/**
 * FindCoordinator v0-4. Groups are coordinated on the main thread, reachable through any broker's
 * listener, so the coordinator named is the controller (always a live, listed broker).
 * Transaction coordinators do not exist yet: key type 1 gets COORDINATOR_NOT_AVAILABLE, which
 * clients retry rather than treat as fatal. v4 batches keys; earlier versions ask for one.
 */
import type { BrokerCore } from '../../broker/types.js'
import { ErrorCode } from '../../common/error-codes.js'
import { ApiKey } from '../../protocol/index.js'
import { defineHandler } from './types.js'

const KEY_TYPE_GROUP = 0
const KEY_TYPE_TRANSACTION = 1

interface Coordinator {
  key: string
  nodeId: number
  host: string
  port: number
  errorCode: number
  errorMessage: string | null
}

function findCoordinator(core: BrokerCore, key: string, keyType: number): Coordinator {
  if (keyType === KEY_TYPE_GROUP) {
    const controllerId = core.controllerId()
    const node = core.brokers().find((b) => b.nodeId === controllerId)
    if (node !== undefined) return { key, nodeId: node.nodeId, host: node.host, port: node.port, errorCode: ErrorCode.NONE, errorMessage: null }
  }
  const errorCode = keyType === KEY_TYPE_GROUP || keyType === KEY_TYPE_TRANSACTION ? ErrorCode.COORDINATOR_NOT_AVAILABLE : ErrorCode.INVALID_REQUEST
  const errorMessage = keyType === KEY_TYPE_TRANSACTION ? 'Transactions are not supported by this broker' : null
  return { key, nodeId: -1, host: '', port: -1, errorCode, errorMessage }
}

export const findCoordinatorHandler = defineHandler({
  apiKey: ApiKey.FindCoordinator,
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, request, version) {
    if (version >= 4) {
      return { throttleTimeMs: 0, coordinators: request.coordinatorKeys.map((key) => findCoordinator(ctx.core, key, request.keyType)) }
    }
    const c = findCoordinator(ctx.core, request.key, request.keyType)
    return { throttleTimeMs: 0, errorCode: c.errorCode, errorMessage: c.errorMessage, nodeId: c.nodeId, host: c.host, port: c.port }
  },
})
