import { errorName } from './error-codes.js'

/**
 * A Kafka-level failure of one request or partition. It carries the numeric Kafka error code so
 * the wire layer can answer with it. Across threads only `errorCode` and `message` survive, so
 * code that receives an error from another thread must read the code, never `instanceof`.
 */
export class KafkaError extends Error {
  readonly errorCode: number

  constructor(errorCode: number, message?: string) {
    super(message ?? errorName(errorCode))
    this.name = 'KafkaError'
    this.errorCode = errorCode
  }
}

/**
 * A broker fault (not a client's mistake): a dead worker, a full queue, a broken invariant.
 * Codes are strings prefixed `PARTITA_` so they survive postMessage as plain data.
 */
export class PartitaError extends Error {
  readonly code: string

  constructor(code: `PARTITA_${string}`, message: string) {
    super(message)
    this.name = 'PartitaError'
    this.code = code
  }
}

/** The shape either error takes after a trip through postMessage or msgpackr. */
export interface SerializedError {
  message: string
  errorCode?: number
  code?: string
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof KafkaError) return { message: error.message, errorCode: error.errorCode }
  if (error instanceof PartitaError) return { message: error.message, code: error.code }
  if (error instanceof Error) return { message: error.message, code: 'PARTITA_INTERNAL' }
  return { message: String(error), code: 'PARTITA_INTERNAL' }
}

export function deserializeError(data: SerializedError): Error {
  if (data.errorCode !== undefined) return new KafkaError(data.errorCode, data.message)
  return new PartitaError((data.code ?? 'PARTITA_INTERNAL') as `PARTITA_${string}`, data.message)
}
