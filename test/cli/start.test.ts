/**
 * `partita start` as a child process (the compiled CLI in dist/, built by `npm run build`): the
 * thread map it writes for profilers when PARTITA_THREAD_MAP_FILE is set.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'

const CLI = path.resolve('dist/src/cli/main.js')
let child: ChildProcess | null = null
let dataDir: string | null = null

afterEach(async () => {
  if (child !== null && child.exitCode === null) {
    const exited = new Promise((resolve) => child!.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
  }
  child = null
  if (dataDir !== null) fs.rmSync(dataDir, { recursive: true, force: true })
  dataDir = null
})

/** Resolves with what the process printed once it says it is listening on its Kafka port. */
function listening(process: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = ''
    process.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes('partita: listening on')) resolve(output)
    })
    process.once('exit', (code) => reject(new Error(`partita start exited with ${code}: ${output}`)))
  })
}

describe('partita start', () => {
  it('writes the main thread and each broker\'s thread id to PARTITA_THREAD_MAP_FILE before it reports listening', async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'partita-start-'))
    const mapFile = path.join(dataDir, 'threads.json')
    child = spawn(process.execPath, [CLI, 'start', '--port', '0', '--admin-port', '0', '--data-dir', path.join(dataDir, 'data'), '--brokers', '2'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, PARTITA_THREAD_MAP_FILE: mapFile },
    })
    await listening(child)
    const map = JSON.parse(fs.readFileSync(mapFile, 'utf8')) as { main: number; shards: number[] }
    expect(map.main).toBe(child.pid)
    expect(map.shards).toHaveLength(2)
    const threads = fs.readdirSync(`/proc/${child.pid}/task`).map(Number)
    for (const tid of map.shards) {
      expect(threads).toContain(tid)
      expect(tid).not.toBe(map.main)
    }
    expect(new Set(map.shards).size).toBe(2)
  })

  it('prints the admin address with --admin-port and serves /readyz and /metrics there', async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'partita-start-'))
    child = spawn(process.execPath, [CLI, 'start', '--port', '0', '--admin-port', '0', '--data-dir', path.join(dataDir, 'data'), '--brokers', '1'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const output = await listening(child)
    const url = /partita: admin listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1]
    expect(url).toBeDefined()
    const ready = await fetch(`${url}/readyz`)
    expect(ready.status).toBe(200)
    await ready.text()
    const metrics = await (await fetch(`${url}/metrics`)).text()
    expect(metrics).toMatch(/^redpanda_cluster_brokers 1$/m)
  })
})
