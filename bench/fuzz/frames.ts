/**
 * Frame i of a run: an API the broker advertises and one of its versions, a valid body for it
 * (generate.ts), encoded with the generated codecs, then mutated (mutate.ts), with the broker's
 * reaction predicted (predict.ts). Everything comes from frameRng(seed, i).
 */
import { apiByKey, encodeRequest, requestHeaderVersion, type RequestApiKey } from '../../src/protocol/index.js'
import { dataChangesOf, partitionReplicasAsked } from './changes.js'
import { requestBody } from './generate.js'
import { mutate, type ApiRange, type MutationKind } from './mutate.js'
import { predict, type Prediction } from './predict.js'
import { frameRng, type Rng } from './rng.js'
import type { World } from './world.js'

export type RedrawReason = 'partition storm' | 'set-aside topic' | 'pre-created topic grown'

export interface Frame {
  index: number
  apiName: string
  apiKey: number
  apiVersion: number
  bytes: Buffer
  mutations: MutationKind[]
  prediction: Prediction
  /** Why its first draw was not sent (see redrawReason). */
  redrawn?: RedrawReason
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

/**
 * How many partitions a pre-created topic may be grown to. The run deletes what its frames create
 * as it goes, so the state it holds stays bounded and RSS growth means memory the broker keeps;
 * grown without a bound, the pre-created topics went from about 190 partitions after the
 * 10,000,000-frame run's warm-up to 340 at its end.
 */
export const PRECREATED_PARTITIONS_MAX = 8

/** Draws beyond the first before a frame is sent as it is, whatever it asks for. */
const REDRAWS_MAX = 20

/**
 * Why a frame is drawn again, or null when it is sent. Mutations and spliced headers turn any
 * body into any request, so without this a kept topic would soon be deleted by, say, a Metadata
 * body read as DeleteTopics: legitimate, logged, and the end of every check on its records.
 */
export function redrawReason(frame: Frame, source: FrameSource): RedrawReason | null {
  if (partitionReplicasAsked(frame.prediction, source.world.brokers) > source.partitionReplicasMax) return 'partition storm'
  const changes = dataChangesOf(frame.prediction)
  const { kept, trimmed } = source.world.setAside
  // A move bumps the leader epochs the oracle holds every set-aside partition to.
  if ([...changes.deleted, ...changes.moved].some((name) => kept.has(name) || trimmed.has(name))) return 'set-aside topic'
  if ([...changes.trimmed.map((t) => t.topic), ...changes.reconfigured].some((name) => kept.has(name))) return 'set-aside topic'
  if (changes.grown.some((g) => source.world.partitionsOf.has(g.topic) && g.count > PRECREATED_PARTITIONS_MAX)) return 'pre-created topic grown'
  return null
}

function clientId(rng: Rng): string | null {
  if (rng.chance(0.9)) return 'partita-fuzz'
  return rng.chance(0.5) ? null : 'é'.repeat(rng.between(0, 300))
}

/** Frame `index`, drawn again (at most REDRAWS_MAX times) while redrawReason finds a reason. */
export function buildFrame(source: FrameSource, index: number): Frame {
  let frame = drawFrame(source, index, 0)
  const reason = redrawReason(frame, source)
  if (reason === null) return frame
  for (let attempt = 1; attempt <= REDRAWS_MAX; attempt++) {
    frame = drawFrame(source, index, attempt)
    if (redrawReason(frame, source) === null) break
  }
  return { ...frame, redrawn: reason }
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
  const prediction = predict(mutated.bytes.subarray(4), mutated.bytes.readInt32BE(0), source.advertisedByKey)
  return { index, apiName: api.name, apiKey: range.apiKey, apiVersion, bytes: mutated.bytes, mutations: mutated.mutations, prediction }
}
