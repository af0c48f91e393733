/**
 * Frame i of a run: an API the broker advertises and one of its versions, a valid body for it
 * (generate.ts), encoded with the generated codecs, then mutated (mutate.ts), with the broker's
 * reaction predicted (predict.ts). Everything comes from frameRng(seed, i).
 */
import { ApiKey, apiByKey, encodeRequest, requestHeaderVersion, type RequestApiKey } from '../../src/protocol/index.js'
import { requestBody } from './generate.js'
import { mutate, type ApiRange, type MutationKind } from './mutate.js'
import { predict, type Prediction } from './predict.js'
import { frameRng, type Rng } from './rng.js'
import type { World } from './world.js'

export interface Frame {
  index: number
  apiName: string
  apiKey: number
  apiVersion: number
  bytes: Buffer
  mutations: MutationKind[]
  prediction: Prediction
  /** How many times it was drawn again (see FrameSource.partitionReplicasMax). */
  redrawn?: number
}

export interface FrameSource {
  seed: number
  world: World
  advertised: readonly ApiRange[]
  advertisedByKey: ReadonlyMap<number, ApiRange>
  /**
   * A frame that would have the broker open more partition replicas than this is drawn again: a
   * known issue (the broker stalls for minutes opening thousands, see the report), left out so
   * the run can look for others. Infinity keeps every frame.
   */
  partitionReplicasMax: number
}

export function frameSource(seed: number, world: World, advertised: readonly ApiRange[], partitionReplicasMax = Infinity): FrameSource {
  return { seed, world, advertised, advertisedByKey: new Map(advertised.map((a) => [a.apiKey, a])), partitionReplicasMax }
}

/** Draws beyond the first before a frame is sent as it is, whatever it asks for. */
const REDRAWS_MAX = 20
const PARTITIONS_PER_TOPIC_MAX = 10_000

interface AdminBody {
  validateOnly?: boolean
  topics?: Array<{ numPartitions?: number; replicationFactor?: number; count?: number }>
}

/** At most how many partition replicas the broker opens for this request (an upper bound). */
export function partitionReplicasAsked(prediction: Prediction, brokers: number): number {
  if (prediction.kind !== 'answer') return 0
  const body = prediction.body as AdminBody | null
  if (body === null || body.validateOnly === true) return 0
  const partitions = (n: number | undefined): number => (n === -1 ? 1 : n !== undefined && n > 0 && n <= PARTITIONS_PER_TOPIC_MAX ? n : 0)
  const replicas = (rf: number | undefined): number => (rf === -1 ? 1 : rf !== undefined && rf > 0 && rf <= brokers ? rf : 0)
  let total = 0
  if (prediction.apiKey === ApiKey.CreateTopics) for (const t of body.topics ?? []) total += partitions(t.numPartitions) * replicas(t.replicationFactor)
  if (prediction.apiKey === ApiKey.CreatePartitions) for (const t of body.topics ?? []) total += partitions(t.count) * brokers
  return total
}

function clientId(rng: Rng): string | null {
  if (rng.chance(0.9)) return 'partita-fuzz'
  return rng.chance(0.5) ? null : 'é'.repeat(rng.between(0, 300))
}

/** Frame `index`, drawn again (at most REDRAWS_MAX times) while it asks for too many partitions. */
export function buildFrame(source: FrameSource, index: number): Frame {
  let frame = drawFrame(source, index, 0)
  for (let attempt = 1; attempt <= REDRAWS_MAX && partitionReplicasAsked(frame.prediction, source.world.brokers) > source.partitionReplicasMax; attempt++) {
    frame = { ...drawFrame(source, index, attempt), redrawn: attempt }
  }
  return frame
}

function drawFrame(source: FrameSource, index: number, attempt: number): Frame {
  const rng = frameRng(source.seed, index, attempt)
  const range = rng.pick(source.advertised)
  const api = apiByKey(range.apiKey)!
  const apiVersion = rng.between(range.minVersion, range.maxVersion)
  const body = requestBody(rng, source.world, api.requestSchema, apiVersion, api.name)
  const encoded = encodeRequest(range.apiKey as RequestApiKey, apiVersion, index & 0x7fffffff, clientId(rng), body as never)
  const content = encoded.subarray(4)
  // The header's end: key, version, correlation id, client id, and a tag count when flexible.
  const clientIdBytes = content.readInt16BE(8)
  const flexible = requestHeaderVersion(range.apiKey, apiVersion) === 2
  const bodyOffset = 10 + Math.max(0, clientIdBytes) + (flexible ? 1 : 0)
  const mutated = mutate(rng, { content, bodyOffset, flexible, advertised: source.advertised })
  const prediction = predict(mutated.bytes.subarray(4), mutated.sizeLies, source.advertisedByKey)
  return { index, apiName: api.name, apiKey: range.apiKey, apiVersion, bytes: mutated.bytes, mutations: mutated.mutations, prediction }
}
