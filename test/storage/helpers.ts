import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ManualClock } from '../../src/common/clock.js'
import { DEFAULT_LOG_CONFIG, type LogConfig } from '../../src/storage/log-config.js'
import { PartitionLog } from '../../src/storage/log.js'
import { encodeBatch } from '../../src/records/record-batch.js'

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'partita-'))
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true })
}

export function smallConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  return { ...DEFAULT_LOG_CONFIG, segmentBytes: 2000, indexIntervalBytes: 200, ...overrides }
}

/** A client-style batch (offset 0, epoch -1) of `count` keyed records stamped at `timestampMs`. */
export function batch(count: number, timestampMs: number, options: { valueBytes?: number; keyless?: boolean; tag?: number } = {}): Buffer {
  const records = []
  for (let i = 0; i < count; i++) {
    records.push({
      key: options.keyless === true ? null : Buffer.from(`k${i}`),
      value: Buffer.alloc(options.valueBytes ?? 20, (options.tag ?? 0) + i),
      timestampDelta: i,
    })
  }
  return encodeBatch({ baseTimestamp: timestampMs, records })
}

export async function openLog(dir: string, config: LogConfig, clock = new ManualClock()): Promise<PartitionLog> {
  return PartitionLog.open(dir, config, { clock })
}

/** The files of a log directory and their bytes, to show an operation changed nothing. */
export function snapshotDir(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>()
  for (const name of fs.readdirSync(dir).sort()) out.set(name, fs.readFileSync(path.join(dir, name)))
  return out
}
