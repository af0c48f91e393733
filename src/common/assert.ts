import { PartitaError } from './errors.js'

/**
 * Invariant checks that stay on in production, as TigerBeetle keeps them: a broken invariant means
 * the broker's own state is wrong, and going on would risk losing or corrupting stored records.
 */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new PartitaError('PARTITA_ASSERTION', `assertion failed: ${message}`)
}

/** True for an error raised by a failed `assert`, here or on another thread (codes survive the trip). */
export function isInvariantViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'PARTITA_ASSERTION'
}
