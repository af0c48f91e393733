/**
 * Retries with exponential backoff, as kafkajs's retrier does, for the errors Kafka marks
 * retriable: the ones a leader change, a slow ISR or a restarting coordinator cause for a moment.
 */
import { ErrorCode, errorName } from '../common/error-codes.js'
import { KafkaError } from '../common/errors.js'

export interface RetryOptions {
  /** Attempts after the first; kafkajs's default is 5. */
  retries?: number
  /** The first backoff in ms; kafkajs's default is 300. */
  initialRetryTime?: number
  /** Each backoff is the previous one times this; default 2. */
  multiplier?: number
  /** Backoffs are randomised by +/- this fraction so clients do not retry in lockstep; default 0.2. */
  factor?: number
  /** No single backoff exceeds this; default 30,000 ms. */
  maxRetryTime?: number
}

export type ResolvedRetry = Required<RetryOptions>

export function resolveRetry(options: RetryOptions | undefined): ResolvedRetry {
  const resolved = {
    retries: options?.retries ?? 5,
    initialRetryTime: options?.initialRetryTime ?? 300,
    multiplier: options?.multiplier ?? 2,
    factor: options?.factor ?? 0.2,
    maxRetryTime: options?.maxRetryTime ?? 30_000,
  }
  if (!Number.isInteger(resolved.retries) || resolved.retries < 0) throw new RangeError(`retry.retries must be a non-negative integer, got ${resolved.retries}`)
  if (!(resolved.initialRetryTime >= 0)) throw new RangeError(`retry.initialRetryTime must be >= 0, got ${resolved.initialRetryTime}`)
  return resolved
}

/** The backoff before retry number `attempt` (0-based). */
export function backoffMs(retry: ResolvedRetry, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(retry.maxRetryTime, retry.initialRetryTime * retry.multiplier ** attempt)
  const jitter = 1 + retry.factor * (2 * random() - 1)
  return Math.max(0, Math.round(base * jitter))
}

const RETRIABLE = new Set<number>([
  ErrorCode.CORRUPT_MESSAGE, // Kafka marks it retriable: the bytes may have been damaged in flight.
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, // A topic being created or a partition being added.
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.REQUEST_TIMED_OUT,
  ErrorCode.BROKER_NOT_AVAILABLE,
  ErrorCode.REPLICA_NOT_AVAILABLE,
  ErrorCode.NETWORK_EXCEPTION,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.NOT_ENOUGH_REPLICAS,
  ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
  ErrorCode.KAFKA_STORAGE_ERROR,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.UNKNOWN_LEADER_EPOCH,
  ErrorCode.OFFSET_NOT_AVAILABLE,
  ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE,
  ErrorCode.UNSTABLE_OFFSET_COMMIT,
])

export function isRetriable(errorCode: number): boolean {
  return RETRIABLE.has(errorCode)
}

/** A resolved promise after `ms`, or at once when the signal aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true || ms <= 0) return resolve()
    const onAbort = (): void => {
      clearTimeout(timer)
      resolve()
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** A KafkaError for a failed partition or request, naming where it happened. */
export function kafkaError(errorCode: number, where: string, message?: string | null): KafkaError {
  const detail = message === null || message === undefined || message === '' ? '' : `: ${message}`
  return new KafkaError(errorCode, `${errorName(errorCode)} on ${where}${detail}`)
}

