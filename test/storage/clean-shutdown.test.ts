import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { LOG_DIR_CLEAN_SHUTDOWN_FILE, consumeCleanShutdownMarker, writeCleanShutdownMarker } from '../../src/storage/clean-shutdown.js'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

function logDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'partita-clean-'))
  dirs.push(dir)
  return dir
}

describe('the log directory clean-shutdown marker', () => {
  it('names the logs closed before it, and is removed when read, so it vouches for one start only', () => {
    const dir = logDir()
    writeCleanShutdownMarker(dir, ['orders-1', 'orders-0'])
    expect(fs.readdirSync(dir)).toEqual([LOG_DIR_CLEAN_SHUTDOWN_FILE])
    expect([...consumeCleanShutdownMarker(dir)].sort()).toEqual(['orders-0', 'orders-1'])
    expect(fs.existsSync(path.join(dir, LOG_DIR_CLEAN_SHUTDOWN_FILE))).toBe(false)
    expect(consumeCleanShutdownMarker(dir).size).toBe(0)
  })

  it('vouches for nothing when damaged, missing, or in a directory that does not exist', () => {
    const dir = logDir()
    writeCleanShutdownMarker(dir, ['orders-0'])
    const file = path.join(dir, LOG_DIR_CLEAN_SHUTDOWN_FILE)
    const bytes = fs.readFileSync(file)
    bytes[bytes.length - 3] ^= 0x01
    fs.writeFileSync(file, bytes)
    expect(consumeCleanShutdownMarker(dir).size).toBe(0)
    expect(fs.existsSync(file)).toBe(false)
    fs.writeFileSync(file, 'not a marker')
    expect(consumeCleanShutdownMarker(dir).size).toBe(0)
    expect(consumeCleanShutdownMarker(path.join(dir, 'missing')).size).toBe(0)
  })
})
