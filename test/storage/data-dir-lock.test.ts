/**
 * One broker per data directory: a second broker on the same directory is refused while the
 * first runs, and a lock left by a process that is gone is taken over.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startBroker } from '../../src/start-broker.js'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'partita-lock-'))
  dirs.push(dir)
  return dir
}

describe('data directory lock', () => {
  it('refuses a second broker on a data directory in use, and allows it after the first closes', async () => {
    const dataDir = freshDir()
    const first = await startBroker({ dataDir, port: 0, brokers: 1 })
    await expect(startBroker({ dataDir, port: 0, brokers: 1 })).rejects.toMatchObject({ code: 'PARTITA_DATA_DIR_LOCKED' })
    await first.close()
    const second = await startBroker({ dataDir, port: 0, brokers: 1 })
    await second.close()
  })

  it('takes over a lock whose owner is gone', async () => {
    const dataDir = freshDir()
    // Pid 2^22 + 1 is above Linux's pid_max default, so no process has it.
    writeFileSync(join(dataDir, '.lock'), String(2 ** 22 + 1))
    const broker = await startBroker({ dataDir, port: 0, brokers: 1 })
    await broker.close()
  })
})
