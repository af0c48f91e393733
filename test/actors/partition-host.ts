/** The runtime as the supervisor's actor host, with the partition actor module and no controller behind it. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach } from 'vitest'
import { PARTITION_ACTOR_KIND } from '../../src/actors/partition-messages.js'
import { startActorHost, type RuntimeActorHost } from '../../src/controller/actor-host.js'
import { resolveBrokerConfig } from '../../src/metadata/broker-config.js'
import { compiledUrl } from '../../src/runtime/compiled-url.js'

/**
 * Starts a host in a temporary data directory per call; each is stopped and its directory removed
 * after the test that started it (registers the afterEach hook).
 */
export function partitionHostPerTest(): () => Promise<{ host: RuntimeActorHost; dir: string }> {
  const running: Array<{ host: RuntimeActorHost; dir: string }> = []
  afterEach(async () => {
    for (const { host, dir } of running.splice(0)) {
      await host.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  })
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'partita-host-'))
    const host = await startActorHost(resolveBrokerConfig({ brokers: 1 }, dir), {
      actorModules: { [PARTITION_ACTOR_KIND]: compiledUrl(import.meta.url, '../../src/actors/partition-actor-module.js') },
      onEvent: () => undefined,
      onRequest: () => Promise.reject(new Error('no requests expected')),
      onShardDown: () => undefined,
      onShardFailure: () => undefined,
      onLog: () => undefined,
    })
    running.push({ host, dir })
    return { host, dir }
  }
}
