/**
 * What the client commands share: the --bootstrap-server option, a connected client that is
 * always closed, option parsing that fails with one readable line, and the one-line rendering of
 * any error (Kafka error names, connection failures) that main.ts prints as `partita: ...`.
 */
import type { Command } from 'commander'
import { errorName } from '../common/error-codes.js'
import { KafkaError, PartitaError } from '../common/errors.js'
import { KafkaClient } from '../client/wire/kafka-client.js'

export const BOOTSTRAP_DEFAULT = '127.0.0.1:9092'
/** Where the client commands find brokers when neither -b nor --bootstrap-server is given. */
export const BROKERS_ENV = 'PARTITA_BROKERS'

/** A mistake in the command line or a failed operation: printed as one line, exit status 1. */
export class CliError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'CliError'
  }
}

export interface ClientCommandOptions {
  brokers?: string
  bootstrapServer?: string
}

/** -b/--brokers as rpk names it, --bootstrap-server as Kafka's tools do, then PARTITA_BROKERS, then the default. */
export function addBootstrapOption(command: Command): Command {
  return command
    .option('-b, --brokers <host:port,...>', `brokers to connect to (env ${BROKERS_ENV}; default ${BOOTSTRAP_DEFAULT})`)
    .option('--bootstrap-server <host:port,...>', 'the same as --brokers, as Kafka\'s tools name it')
}

export function bootstrapOf(options: ClientCommandOptions, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[BROKERS_ENV]
  return options.brokers ?? options.bootstrapServer ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : BOOTSTRAP_DEFAULT)
}

/** Connects, runs `fn`, and closes the client whatever happens. */
export async function withClient<T>(options: ClientCommandOptions, fn: (client: KafkaClient) => Promise<T>): Promise<T> {
  const client = await KafkaClient.connect({ bootstrapServers: bootstrapOf(options), clientId: 'partita-cli', connectTimeoutMs: 5_000 })
  try {
    return await fn(client)
  } finally {
    await client.close()
  }
}

export type OutputFormat = 'text' | 'json'

/** --format text|json, which every read command takes. */
export function formatOption(command: Command): Command {
  return command.option('--format <format>', 'text (an aligned table) or json (one object per line)', 'text')
}

export function parseFormat(value: string): OutputFormat {
  if (value === 'text' || value === 'json') return value
  throw new CliError(`--format must be text or json, got '${value}'`)
}

/** One JSON object per line, ready for jq. */
export function printJson(objects: readonly unknown[]): void {
  printLines(objects.map((o) => JSON.stringify(o)))
}

/** One line for any error: Kafka errors by name, our own by message, never a stack. */
export function describeError(error: unknown): string {
  if (error instanceof KafkaError) {
    const name = errorName(error.errorCode)
    return error.message.includes(name) ? error.message : `${error.message}: ${name}`
  }
  if (error instanceof PartitaError || error instanceof CliError) return error.message
  if (error instanceof Error) return error.message
  return String(error)
}

export function parseInteger(name: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const parsed = Number(value)
  if (value.trim() === '' || !Number.isInteger(parsed) || parsed < min || parsed > max) {
    throw new CliError(`--${name} must be an integer from ${min} to ${max}, got '${value}'`)
  }
  return parsed
}

/** Collects repeatable `--config k=v` values. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

/** Parses `k=v` pairs; a pair without `=` or with an empty name is refused. */
export function parseConfigs(pairs: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw new CliError(`malformed --config '${pair}', expected name=value`)
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1)
  }
  return out
}

/** Throws CliError naming the Kafka error when `errorCode` is not NONE. */
export function check(errorCode: number, context: string, message?: string | null): void {
  if (errorCode === 0) return
  const detail = message !== undefined && message !== null && message !== '' && message !== errorName(errorCode) ? ` (${message})` : ''
  throw new CliError(`${context}: ${errorName(errorCode)}${detail}`)
}

/** Writes lines to stdout in one call, so large outputs are not one syscall per line. */
export function printLines(lines: readonly string[]): void {
  if (lines.length > 0) process.stdout.write(lines.join('\n') + '\n')
}

/** Left-aligned columns, as Kafka's tools print tables. */
export function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string[] {
  const cells = [header, ...rows.map((r) => r.map(String))]
  if (rows.length === 0) return [header.join('  ')]
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : (c ?? '').padEnd(widths[i]))).join('  ').trimEnd())
}

/** `KEY  value` lines with the values aligned, as rpk prints a summary. */
export function keyValues(pairs: readonly (readonly [string, string] | string[])[]): string[] {
  const width = Math.max(0, ...pairs.map((p) => p[0].length))
  return pairs.map((p) => `${p[0].padEnd(width)}  ${p[1]}`.trimEnd())
}
