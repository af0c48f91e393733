/** The runtime as the supervisor's actor host, with the partition actor module and no controller behind it. */
import { PARTITION_ACTOR_KIND } from '../../src/actors/partition-messages.js'
import { startActorHost, type RuntimeActorHost } from '../../src/controller/actor-host.js'
import { resolveBrokerConfig } from '../../src/metadata/broker-config.js'
import { compiledUrl } from '../../src/runtime/compiled-url.js'

export function startPartitionHost(dataDir: string): Promise<RuntimeActorHost> {
  return startActorHost(resolveBrokerConfig({ brokers: 1 }, dataDir), {
    actorModules: { [PARTITION_ACTOR_KIND]: compiledUrl(import.meta.url, '../../src/actors/partition-actor-module.js') },
    onEvent: () => undefined,
    onRequest: () => Promise.reject(new Error('no requests expected')),
    onShardDown: () => undefined,
    onShardFailure: () => undefined,
    onLog: () => undefined,
  })
}
