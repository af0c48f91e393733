/**
 * A fuzz run stopped by a signal stops the broker it started: Node does not pass a signal on to
 * child processes, and a broker left behind went on using the box after its fuzzer was killed.
 * Runs the compiled fuzzer in dist/ (`npm test` builds first).
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const FUZZER = fileURLToPath(new URL('../../dist/bench/fuzz/main.js', import.meta.url))

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('the fuzzer stopped by a signal', () => {
  it('stops the broker it started when it gets SIGTERM', async () => {
    const fuzzer = spawn(process.execPath, [FUZZER, '--frames', '1000000', '--seed', '1', '--brokers', '1'], { stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = new Promise<NodeJS.Signals | null>((resolve) => fuzzer.once('exit', (_code, signal) => resolve(signal)))
    // The line that starts the run names the broker's pid.
    const brokerPid = await new Promise<number>((resolve, reject) => {
      createInterface({ input: fuzzer.stdout! }).on('line', (line) => {
        const match = /\(pid (\d+)\)/.exec(line)
        if (match !== null) resolve(Number(match[1]))
      })
      fuzzer.once('exit', (code) => reject(new Error(`the fuzzer exited with ${code} before starting its run`)))
    })
    expect(alive(brokerPid)).toBe(true)
    fuzzer.kill('SIGTERM')
    expect(await exited).toBe('SIGTERM')
    // The broker shuts down cleanly on its SIGTERM: bounded by the test's timeout.
    while (alive(brokerPid)) await new Promise((resolve) => setTimeout(resolve, 50))
    expect(alive(brokerPid)).toBe(false)
  }, 60_000)
})
