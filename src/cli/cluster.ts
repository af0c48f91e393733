/**
 * `partita cluster info|health`: rpk cluster info and health, from Metadata alone, so they work
 * against any Kafka cluster. A partition is under-replicated when its ISR is smaller than its
 * replica set, offline when it has no leader. `health` exits non-zero when either exists.
 */
import type { Command } from 'commander'
import type { ClusterMetadata } from '../client/wire/kafka-client.js'
import { addBootstrapOption, CliError, formatOption, keyValues, parseFormat, printJson, printLines, table, withClient, type ClientCommandOptions } from './common.js'

type Options = ClientCommandOptions & { format: string; internal?: boolean }

export function registerCluster(program: Command): void {
  const cluster = program.command('cluster').description('brokers, controller, topics and health')

  formatOption(addBootstrapOption(cluster.command('info').description('the brokers, the controller and the topics')))
    .option('-i, --internal', 'include internal topics')
    .action(async (options: Options) => {
      const format = parseFormat(options.format)
      await withClient(options, async (client) => {
        const info = clusterInfo(await client.metadata(null), options.internal === true)
        if (format === 'json') {
          printJson([info])
          return
        }
        printLines([
          ...keyValues([
            ['CLUSTER', info.clusterId ?? '-'],
            ['CONTROLLER', String(info.controller)],
          ]),
          '',
          ...table(['ID', 'HOST', 'PORT', 'RACK'], info.brokers.map((b) => [b.id === info.controller ? `${b.id}*` : b.id, b.host, b.port, b.rack ?? '-'])),
          '',
          ...table(['TOPIC', 'PARTITIONS', 'REPLICAS'], info.topics.map((t) => [t.name, t.partitions, t.replicas])),
        ])
      })
    })

  formatOption(addBootstrapOption(cluster.command('health').description('under-replicated and offline partitions; exits 1 when there are any'))).action(async (options: Options) => {
    const format = parseFormat(options.format)
    const report = await withClient(options, async (client) => clusterHealth(await client.metadata(null)))
    if (format === 'json') {
      printJson([report])
    } else {
      printLines(
        keyValues([
          ['HEALTHY', String(report.healthy)],
          ['CONTROLLER', String(report.controller)],
          ['BROKERS', report.brokers.join(',')],
          ['UNDER-REPLICATED', report.underReplicated.length === 0 ? '-' : report.underReplicated.join(',')],
          ['OFFLINE', report.offline.length === 0 ? '-' : report.offline.join(',')],
        ]),
      )
    }
    if (!report.healthy) throw new CliError(`cluster unhealthy: ${report.underReplicated.length} under-replicated, ${report.offline.length} offline partitions`)
  })
}

export function clusterInfo(meta: ClusterMetadata, internal: boolean) {
  return {
    clusterId: meta.clusterId,
    controller: meta.controllerId,
    brokers: meta.brokers.map((b) => ({ id: b.nodeId, host: b.host, port: b.port, rack: b.rack })).sort((a, b) => a.id - b.id),
    topics: meta.topics
      .filter((t) => internal || !t.isInternal)
      .map((t) => ({ name: t.name, partitions: t.partitions.length, replicas: t.partitions[0]?.replicas.length ?? 0 }))
      .sort((a, b) => (a.name < b.name ? -1 : 1)),
  }
}

export interface HealthReport {
  healthy: boolean
  controller: number
  brokers: number[]
  /** `topic-partition` names. */
  underReplicated: string[]
  offline: string[]
}

export function clusterHealth(meta: ClusterMetadata): HealthReport {
  const underReplicated: string[] = []
  const offline: string[] = []
  for (const t of meta.topics) {
    for (const p of t.partitions) {
      if (p.leader < 0) offline.push(`${t.name}-${p.partition}`)
      else if (p.isr.length < p.replicas.length) underReplicated.push(`${t.name}-${p.partition}`)
    }
  }
  return {
    healthy: underReplicated.length === 0 && offline.length === 0,
    controller: meta.controllerId,
    brokers: meta.brokers.map((b) => b.nodeId).sort((a, b) => a - b),
    underReplicated: underReplicated.sort(),
    offline: offline.sort(),
  }
}
