/**
 * ListTransactions v0 (KIP-664): the transactions this broker coordinates, filtered by state
 * (Kafka's names; a name it does not know is echoed back in unknownStateFilters) and producer id.
 */
import { TxnState } from '../../actors/txn/txn-records.js'
import { ApiKey } from '../../protocol/index.js'
import { defineHandler } from './types.js'

export const listTransactionsHandler = defineHandler({
  apiKey: ApiKey.ListTransactions,
  minVersion: 0,
  maxVersion: 0,
  async handle(ctx, request) {
    const known = new Set(Object.keys(TxnState))
    const unknownStateFilters = request.stateFilters.filter((s) => !known.has(s))
    const listed = ctx.core.txns.list()
    const states = new Set(request.stateFilters)
    const producers = new Set(request.producerIdFilters)
    const transactionStates = listed.transactions
      .filter((t) => states.size === 0 || states.has(t.state))
      .filter((t) => producers.size === 0 || producers.has(t.producerId))
      .map((t) => ({ transactionalId: t.transactionalId, producerId: t.producerId, transactionState: t.state }))
    return { throttleTimeMs: 0, errorCode: listed.errorCode, unknownStateFilters, transactionStates }
  },
})
