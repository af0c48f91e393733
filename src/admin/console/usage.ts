/**
 * What the topics use: disk, from Kafka's DescribeLogDirs asked of each broker (as kafka-ui and
 * AKHQ size topics), and produce and consume rates, from the rate history fed by the /metrics
 * counters. A broker that does not answer is named, and its replicas left out of the sizes,
 * rather than failing the page.
 */
import type { DescribeLogDirsResponse } from '../../protocol/index.js'
import { ErrorCode } from '../../common/error-codes.js'
import { perSecond, type TrafficRates, type TrafficSampler } from '../traffic-history.js'

export interface LogDirsSource {
  describeLogDirs(nodeId: number): Promise<DescribeLogDirsResponse['results']>
}

export interface TopicSizes {
  /** Bytes on disk per topic, summed over every replica on every broker that answered. */
  bytes: Map<string, number>
  /** Brokers that did not answer: their replicas are not in `bytes`. */
  unanswered: number[]
}

export async function topicSizes(source: LogDirsSource, brokerIds: readonly number[]): Promise<TopicSizes> {
  const bytes = new Map<string, number>()
  const unanswered: number[] = []
  const answers = await Promise.all(brokerIds.map((id) => source.describeLogDirs(id).then((results) => ({ id, results }), () => ({ id, results: null }))))
  for (const { id, results } of answers) {
    if (results === null || results.some((r) => r.errorCode !== ErrorCode.NONE)) {
      unanswered.push(id)
      continue
    }
    for (const dir of results) {
      for (const topic of dir.topics) {
        for (const p of topic.partitions) bytes.set(topic.name, (bytes.get(topic.name) ?? 0) + p.partitionSize)
      }
    }
  }
  return { bytes, unanswered }
}

export const NO_TRAFFIC: TrafficRates = perSecond({ recordsIn: 0, bytesIn: 0, recordsOut: 0, bytesOut: 0 }, 0)

/** GET /v1/traffic: the chart's samples as rates per second, oldest first, and the last minute's rates. */
export function trafficJson(sampler: TrafficSampler | null): unknown {
  if (sampler === null) return { sampleIntervalMs: null, samplesMax: 0, rateWindowMs: 0, rates: NO_TRAFFIC, samples: [] }
  const { history } = sampler
  return {
    sampleIntervalMs: sampler.intervalMs,
    samplesMax: history.samplesMax,
    rateWindowMs: history.rateWindowMs,
    rates: history.rates(),
    samples: history.samples().map((s) => ({ atMs: s.atMs, intervalMs: s.intervalMs, ...perSecond(s, s.intervalMs) })),
  }
}
