import { ErrorCode } from '../common/error-codes.js'
import { KafkaError, PartitaError } from '../common/errors.js'

export function storageError(message: string): KafkaError {
  return new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, message)
}

/** An error thrown by a failed system call (EIO, ENOSPC, EMFILE, ENOENT...), by its errno code. */
export function errnoCode(error: unknown): string | null {
  if (!(error instanceof Error) || error instanceof PartitaError || error instanceof KafkaError) return null
  const code = (error as NodeJS.ErrnoException).code
  // Node's own ERR_* codes mean a programming error (a bad argument), not a failing disk.
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : null
}

/**
 * Expected failures of the disk or the process (a full disk, an I/O error, no descriptors left, a
 * vanished file) become KAFKA_STORAGE_ERROR naming what failed and the errno code, so they reach
 * the client as an error code instead of killing the thread. Anything else (a broken invariant, a
 * Kafka error already chosen) passes unchanged.
 */
export function asStorageError(error: unknown, what: string): unknown {
  const code = errnoCode(error)
  if (code === null) return error
  const message = (error as Error).message
  return storageError(`${what} failed: ${message.startsWith(code) ? message : `${code}: ${message}`}`)
}

export function withStorageErrors<T>(what: string, fn: () => T): T {
  try {
    return fn()
  } catch (error) {
    throw asStorageError(error, what)
  }
}

export async function withStorageErrorsAsync<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (error) {
    throw asStorageError(error, what)
  }
}
