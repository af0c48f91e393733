/**
 * KIP-588 gave fenced producers their own code, PRODUCER_FENCED; a client of an older version of
 * each transaction API knows only INVALID_PRODUCER_EPOCH for it, as Kafka's KafkaApis maps it.
 */
import { ErrorCode } from '../../common/error-codes.js'

export function fencedCodeFor(errorCode: number, version: number, firstVersionWithFenced: number): number {
  return errorCode === ErrorCode.PRODUCER_FENCED && version < firstVersionWithFenced ? ErrorCode.INVALID_PRODUCER_EPOCH : errorCode
}
