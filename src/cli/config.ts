/**
 * Where `partita start` gets its configuration, lowest precedence first: each key's default, a
 * .properties or JSON file (--config), PARTITA_* environment variables (PARTITA_LOG_RETENTION_MS
 * for log.retention.ms), then flags. Each value remembers its source, for --print-config. An
 * unknown key or a bad value is a CliError: one line naming the key, its source and what is wrong.
 * Every broker key Kafka 3.9 accepts is accepted (kafka-broker-keys.ts): the ones in CONFIG_KEYS
 * take effect, the rest are checked against their Kafka type and kept for DescribeConfigs only.
 */
import { readFileSync } from 'node:fs'
import { extname } from 'node:path'
import { baseSettings, CONFIG_KEYS, ConfigValueError, configKey, type ServerSettings } from '../metadata/config-keys.js'
import { DYNAMIC_BROKER_KEYS } from '../metadata/broker-dynamic-configs.js'
import { kafkaBrokerKey, kafkaValueProblem } from '../metadata/kafka-broker-keys.js'
import { validateTopicConfigs } from '../metadata/topic-config-keys.js'
import { CliError } from './common.js'

export interface ConfigValue {
  key: string
  /** null: unset (the key it defers to decides). */
  value: string | null
  /** `default`, `file NAME`, `env NAME` or `flag --NAME`. */
  source: string
}

/** One value from one source, before precedence is applied. */
export interface ConfigEntry {
  key: string
  value: string
  source: string
}

export interface LoadedConfig {
  settings: ServerSettings
  /** Every known key, in CONFIG_KEYS order, with the value that won and where it came from. */
  values: ConfigValue[]
}

export const ENV_PREFIX = 'PARTITA_'

/** `log.retention.ms` is read from PARTITA_LOG_RETENTION_MS. */
export function envName(key: string): string {
  return ENV_PREFIX + key.toUpperCase().replace(/[.-]/g, '_')
}

/** The entries of a config file: JSON when it ends in .json, Java .properties otherwise. */
export function readConfigFile(path: string): ConfigEntry[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new CliError(`config: cannot read ${path}${code === undefined ? '' : `: ${code}`}`)
  }
  return extname(path).toLowerCase() === '.json' ? parseJsonConfig(text, path) : parseProperties(text, path)
}

/**
 * Java's .properties as Kafka's server.properties uses it: `key=value` or `key: value`, `#` and
 * `!` comments, a trailing backslash continuing a line. Later lines override earlier ones.
 */
export function parseProperties(text: string, name: string): ConfigEntry[] {
  const out: ConfigEntry[] = []
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const lineNumber = i + 1
    let line = lines[i].trimStart()
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue
    // Bounded by the file's lines.
    while (/(^|[^\\])(\\\\)*\\$/.test(line) && i + 1 < lines.length) line = line.slice(0, -1) + lines[++i].trimStart()
    const match = /^((?:\\.|[^=:\s\\])+)\s*[=:\s]\s*(.*)$/.exec(line)
    if (match === null) throw new CliError(`config: ${name}:${lineNumber}: expected key=value, got '${line}'`)
    out.push({ key: unescape(match[1]), value: unescape(match[2].trimEnd()), source: `file ${name}:${lineNumber}` })
  }
  return out
}

function unescape(text: string): string {
  return text.replace(/\\(.)/g, (_, c: string) => ({ t: '\t', n: '\n', r: '\r' })[c] ?? c)
}

/** A JSON object of keys to strings, numbers or booleans; nested objects join their keys with dots. */
export function parseJsonConfig(text: string, name: string): ConfigEntry[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new CliError(`config: ${name}: not JSON: ${(error as Error).message}`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new CliError(`config: ${name}: expected a JSON object of keys to values`)
  const out: ConfigEntry[] = []
  const walk = (object: object, prefix: string): void => {
    for (const [k, v] of Object.entries(object)) {
      const key = prefix + k
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out.push({ key, value: String(v), source: `file ${name}` })
      else if (typeof v === 'object' && v !== null && !Array.isArray(v)) walk(v as object, `${key}.`)
      else throw new CliError(`config: ${name}: ${key} must be a string, number or boolean`)
    }
  }
  walk(parsed, '')
  return out
}

/** The PARTITA_* variables that name a known key; others (PARTITA_BROKERS for the client commands) are not config. */
export function environmentEntries(env: NodeJS.ProcessEnv): ConfigEntry[] {
  const out: ConfigEntry[] = []
  for (const { key } of CONFIG_KEYS) {
    const value = env[envName(key)]
    if (value !== undefined) out.push({ key, value, source: `env ${envName(key)}` })
  }
  return out
}

/**
 * Applies the sources in order (later wins per key), then every set key in CONFIG_KEYS order so a
 * key Kafka lets override another (log.retention.ms over .hours) does so whatever set each.
 */
export function resolveConfig(...sources: ConfigEntry[][]): LoadedConfig {
  const chosen = new Map<string, ConfigEntry>()
  for (const entry of sources.flat()) {
    if (configKey(entry.key) === undefined && kafkaBrokerKey(entry.key) === undefined) {
      throw new CliError(`config: unknown key '${entry.key}' (${entry.source})`)
    }
    chosen.set(entry.key, entry)
  }
  const settings = baseSettings()
  const values: ConfigValue[] = []
  const kafkaStartValues: Record<string, string> = {}
  for (const definition of CONFIG_KEYS) {
    const entry = chosen.get(definition.key)
    if (entry === undefined) {
      values.push({ key: definition.key, value: definition.defaultValue, source: 'default' })
      continue
    }
    try {
      definition.apply(entry.value, settings)
    } catch (error) {
      if (!(error instanceof ConfigValueError)) throw error
      throw new CliError(`config: bad value for ${definition.key} (${entry.source}): ${error.message}`)
    }
    values.push({ key: definition.key, value: entry.value, source: entry.source })
    if (kafkaBrokerKey(definition.key) !== undefined) kafkaStartValues[definition.key] = entry.value
  }
  // Kafka's keys that Partita accepts with no effect (README, "Broker configs"): type-checked as Kafka does, then kept.
  for (const entry of chosen.values()) {
    const kafka = kafkaBrokerKey(entry.key)
    if (kafka === undefined || configKey(entry.key) !== undefined) continue
    const problem = kafkaValueProblem(kafka, entry.value)
    if (problem !== null) throw new CliError(`config: bad value for ${entry.key} (${entry.source}): ${problem}`)
    kafkaStartValues[entry.key] = entry.value
    // A log default Kafka also updates dynamically is the broker-wide default of its topic key, whatever that key does.
    const topicKey = DYNAMIC_BROKER_KEYS[entry.key]
    if (topicKey !== undefined) {
      try {
        validateTopicConfigs({ [topicKey]: entry.value })
      } catch (error) {
        throw new CliError(`config: bad value for ${entry.key} (${entry.source}): ${error instanceof Error ? error.message : String(error)}`)
      }
      settings.broker.topicDefaults = { ...settings.broker.topicDefaults, [topicKey]: entry.value }
    }
    values.push({ key: entry.key, value: entry.value, source: topicKey === undefined ? `${entry.source} (accepted, no effect)` : entry.source })
  }
  settings.broker.kafkaStartValues = kafkaStartValues
  return { settings, values }
}

/** The value of `key` the lower-precedence sources give (for flags that set part of a value). */
export function valueBefore(key: string, ...sources: ConfigEntry[][]): string | null {
  const entries = sources.flat().filter((e) => e.key === key)
  return entries.length > 0 ? entries[entries.length - 1].value : (configKey(key)?.defaultValue ?? null)
}
