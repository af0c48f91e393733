/**
 * What library code logs through. The shape is a subset of pino's, so an embedding service passes
 * its own pino logger (or anything with these methods) to startBroker; each call is one event, one
 * line. Library code never writes to the console itself.
 */
import pino from 'pino'

export interface Logger {
  error(message: string): void
  warn(message: string): void
  info(message: string): void
  debug(message: string): void
  /** A logger that adds these fields to every event (pino's child); prefixed messages without it. */
  child?(bindings: Record<string, string | number>): Logger
}

export const LOG_LEVELS = ['silent', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value)
}

/** A log event as it crosses from a shard to the main thread (plain data, one per line logged). */
export interface LogEvent {
  event: 'log'
  level: 'error' | 'warn' | 'info' | 'debug'
  message: string
}

export function isLogEvent(value: unknown): value is LogEvent {
  return typeof value === 'object' && value !== null && (value as { event?: unknown }).event === 'log'
}

/** A logger whose events are handed to `emit` (a shard's event channel to the main thread). */
export function emittingLogger(emit: (event: LogEvent) => void): Logger {
  return {
    error: (message) => emit({ event: 'log', level: 'error', message }),
    warn: (message) => emit({ event: 'log', level: 'warn', message }),
    info: (message) => emit({ event: 'log', level: 'info', message }),
    debug: (message) => emit({ event: 'log', level: 'debug', message }),
  }
}

/** Sends one event to `logger` at its level. */
export function logAt(logger: Logger, event: LogEvent): void {
  logger[event.level](event.message)
}

/** A logger that drops everything: for tests and for callers that want silence. */
export const SILENT_LOGGER: Logger = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} }

/** `logger` with `bindings` on every event: pino's child where there is one, else a message prefix. */
export function childLogger(logger: Logger, bindings: Record<string, string | number>): Logger {
  if (logger.child !== undefined) return logger.child(bindings)
  return prefixedLogger(logger, `${Object.entries(bindings).map(([k, v]) => `${k} ${v}`).join(', ')}: `)
}

/** Prefixes every message, for the events of one broker or one component. */
export function prefixedLogger(logger: Logger, prefix: string): Logger {
  return {
    error: (message) => logger.error(`${prefix}${message}`),
    warn: (message) => logger.warn(`${prefix}${message}`),
    info: (message) => logger.info(`${prefix}${message}`),
    debug: (message) => logger.debug(`${prefix}${message}`),
  }
}

export interface CreateLoggerOptions {
  level?: LogLevel
  /** Human lines instead of JSON; default: whether the destination is a terminal. */
  pretty?: boolean
  /** File descriptor written synchronously (so nothing is lost at exit); default 2, stderr. */
  fd?: number
  /** Where lines go instead of `fd` (tests). */
  write?: (line: string) => void
}

/** A pino logger: JSON lines, or a short human line per event on a terminal. */
export function createLogger(options: CreateLoggerOptions = {}): pino.Logger {
  const fd = options.fd ?? 2
  const pretty = options.pretty ?? (fd === 2 ? process.stderr.isTTY === true : fd === 1 ? process.stdout.isTTY === true : false)
  const raw: pino.DestinationStream = options.write !== undefined ? { write: options.write } : pino.destination({ fd, sync: true })
  const destination: pino.DestinationStream = pretty ? { write: (line) => raw.write(humanLine(line)) } : raw
  return pino({ level: options.level ?? 'info', base: { pid: process.pid } }, destination)
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' }

/**
 * One of pino's JSON lines as a person reads it: `HH:MM:SS.mmm LEVEL message key=value ...`. A
 * line that is not JSON (it cannot happen with pino, but a formatter must not throw) passes as is.
 */
export function humanLine(jsonLine: string): string {
  let entry: Record<string, unknown>
  try {
    entry = JSON.parse(jsonLine) as Record<string, unknown>
  } catch {
    return jsonLine
  }
  const { level, time, msg, ...rest } = entry
  delete rest.pid
  delete rest.hostname
  const when = typeof time === 'number' ? new Date(time).toISOString().slice(11, 23) : ''
  const name = (LEVEL_NAMES[Number(level)] ?? String(level)).padEnd(5)
  const fields = Object.entries(rest).map(([k, v]) => ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
  return `${when} ${name} ${typeof msg === 'string' ? msg : ''}${fields.join('')}\n`
}
