/**
 * Valid request bodies for any API version, built by walking the generated grammar (the same
 * schema descriptions the protocol round-trip tests walk): a field the version lacks gets its
 * default, a nullable one is sometimes null, and every other field a value of its type, biased by
 * what the field is (its path names it) toward values the broker acts on: real topics and their
 * partitions, known offsets, live group names, config names, and the edges of each integer type.
 */
import { encodeAssignment, encodeSubscription } from '../../src/client/assignors.js'
import type { FieldSchema, MessageSchema, VersionRange } from '../../src/protocol/index.js'
import { recordSet } from './records.js'
import type { Rng } from './rng.js'
import { CONFIG_NAMES, CONFIG_VALUES, GROUPS, SPARE_TOPICS, type World } from './world.js'

type Value = unknown

const INT32_MIN = -(2 ** 31)
const INT32_MAX = 2 ** 31 - 1
/** The APIs that can legitimately remove data name only the topics set aside for it (world.ts). */
const TOPICS_NAMED_BY: Readonly<Record<string, (world: World) => readonly string[]>> = {
  DeleteTopics: (world) => world.doomedNames,
  DeleteRecords: (world) => world.trimmedNames,
  AlterConfigs: (world) => world.trimmedNames,
  IncrementalAlterConfigs: (world) => world.trimmedNames,
}

const inRange = (range: VersionRange | null, version: number): boolean => range !== null && version >= range[0] && version <= range[1]

interface Context {
  rng: Rng
  world: World
  api: string
  version: number
  /** The topic most recently chosen in this request, so its partitions are named next. */
  topic: string | null
}

const BOUNDS: Record<string, [number, number]> = {
  int8: [-128, 127],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [INT32_MIN, INT32_MAX],
  uint32: [0, 0xffffffff],
  int64: [-(2 ** 53 - 1), 2 ** 53 - 1],
}

/** Any integer of the kind, biased toward its edges and small values. */
function anyInteger(ctx: Context, kind: string): number {
  const [min, max] = BOUNDS[kind]
  const { rng } = ctx
  switch (rng.below(6)) {
    case 0:
      return rng.pick([min, max, -1, 0, 1].filter((v) => v >= min && v <= max))
    case 1:
    case 2:
      return Math.max(min, Math.min(max, rng.between(-2, 16)))
    case 3:
      return Math.max(min, Math.min(max, rng.between(0, 1000)))
    default:
      if (kind === 'int64') return rng.int32() * 2 ** 21 + rng.below(2 ** 21)
      return min + Math.floor((rng.next() / 4294967296) * (max - min + 1))
  }
}

function topicName(ctx: Context): string {
  const { rng, world } = ctx
  const named = TOPICS_NAMED_BY[ctx.api]?.(world) ?? world.allNames
  const name = rng.chance(0.7) ? rng.pick(named) : rng.chance(0.6) ? rng.pick(SPARE_TOPICS) : oddString(rng)
  ctx.topic = name
  return name
}

/** Strings no well-behaved client sends: empty, illegal characters, too long, not ASCII. */
function oddString(rng: Rng): string {
  switch (rng.below(6)) {
    case 0:
      return ''
    case 1:
      return rng.pick(['.', '..', 'a/b', 'with space', 'x'.repeat(250), '__consumer_offsets'])
    case 2:
      return 'é漢🎉'.repeat(rng.between(1, 3))
    case 3:
      return 'y'.repeat(rng.between(200, 600))
    default:
      return rng.bytes(rng.between(1, 12)).toString('latin1')
  }
}

function plainString(rng: Rng): string {
  return rng.chance(0.8) ? `s${rng.next().toString(36)}` : oddString(rng)
}

type StringRole = 'topic' | 'group' | 'member' | 'protocolType' | 'protocolName' | 'configName' | 'configValue' | 'transactionalId' | 'groupState' | 'mechanism' | 'plain'

const STRING_ROLES: Array<[RegExp, StringRole]> = [
  [/(topicData|topics|forgottenTopicsData)\[\]\.(name|topic)$|topicNames\[\]$|resourceName$/, 'topic'],
  [/groupId$|groups\[\]$|groupsNames\[\]$|coordinatorKeys\[\]$|Coordinator\.key$/, 'group'],
  [/memberId$/, 'member'],
  [/protocolType$/, 'protocolType'],
  [/protocols\[\]\.name$|protocolName$/, 'protocolName'],
  [/configs\[\]\.name$|configurationKeys\[\]$/, 'configName'],
  [/configs\[\]\.value$/, 'configValue'],
  [/transactionalId$/, 'transactionalId'],
  [/statesFilter\[\]$/, 'groupState'],
  [/mechanism$/, 'mechanism'],
]

function roleOf<R extends string>(cache: Map<string, R>, roles: Array<[RegExp, R]>, fallback: R, path: string): R {
  let role = cache.get(path)
  if (role === undefined) {
    role = roles.find(([pattern]) => pattern.test(path))?.[1] ?? fallback
    cache.set(path, role)
  }
  return role
}

const stringRoles = new Map<string, StringRole>()

function string(ctx: Context, path: string): string {
  const { rng } = ctx
  switch (roleOf(stringRoles, STRING_ROLES, 'plain', path)) {
    case 'topic':
      return topicName(ctx)
    case 'group':
      return rng.chance(0.85) ? rng.pick(GROUPS) : plainString(rng)
    case 'member':
      return rng.chance(0.7) ? '' : plainString(rng)
    case 'protocolType':
      return rng.pick(['consumer', 'consumer', '', 'connect'])
    case 'protocolName':
      return rng.chance(0.8) ? rng.pick(['range', 'roundrobin', 'cooperative-sticky']) : plainString(rng)
    case 'configName':
      return rng.chance(0.9) ? rng.pick(CONFIG_NAMES) : plainString(rng)
    case 'configValue':
      return rng.chance(0.9) ? rng.pick(CONFIG_VALUES) : plainString(rng)
    case 'transactionalId':
      return rng.chance(0.7) ? rng.pick(['tx', '']) : plainString(rng)
    case 'groupState':
      return rng.chance(0.8) ? rng.pick(['Stable', 'Empty', 'PreparingRebalance', 'Dead']) : plainString(rng)
    case 'mechanism':
      return rng.chance(0.8) ? rng.pick(['PLAIN', 'SCRAM-SHA-256', 'GSSAPI']) : plainString(rng)
    case 'plain':
      return plainString(rng)
  }
}

function partitionIndex(ctx: Context): number {
  const { rng } = ctx
  const count = (ctx.topic === null ? undefined : ctx.world.partitionsOf.get(ctx.topic)) ?? 4
  return rng.chance(0.85) ? rng.below(count) : rng.pick([-1, count, count + 1, INT32_MAX, INT32_MIN])
}

function offset(ctx: Context): number {
  const { rng } = ctx
  return rng.chance(0.8) ? rng.between(0, ctx.world.knownRecordsMax + 3) : rng.pick([-1, -2, -3, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 31])
}

type IntegerRole =
  | 'partition'
  | 'offset'
  | 'sessionTimeout'
  | 'transactionTimeout'
  | 'timeout'
  | 'acks'
  | 'timestamp'
  | 'count'
  | 'replicationFactor'
  | 'brokerId'
  | 'resourceType'
  | 'configOperation'
  | 'zeroOrOne'
  | 'generation'
  | 'epoch'
  | 'producerId'
  | 'replicaId'
  | 'byteCount'
  | 'sessionId'
  | 'any'

const INTEGER_ROLES: Array<[RegExp, IntegerRole]> = [
  [/(partitionData\[\]\.index|partitions\[\]\.partition|partitionIndex|partitionIndexes\[\]|partitions\[\])$/, 'partition'],
  [/(fetchOffset|committedOffset|\.offset)$/, 'offset'],
  // Valid session timeouts are 6-1800 s (the broker's defaults); the other timeouts are checked against nothing.
  [/sessionTimeoutMs$/, 'sessionTimeout'],
  [/transactionTimeoutMs$/, 'transactionTimeout'],
  [/timeoutMs$|TimeoutMs$|maxWaitMs$/, 'timeout'],
  [/acks$/, 'acks'],
  [/timestamp$|Timestamp$/, 'timestamp'],
  [/(numPartitions|\.count)$/, 'count'],
  [/replicationFactor$/, 'replicationFactor'],
  [/brokerIds\[\]$/, 'brokerId'],
  [/resourceType$/, 'resourceType'],
  [/configOperation$/, 'configOperation'],
  [/isolationLevel$|keyType$/, 'zeroOrOne'],
  [/(generationId|generationIdOrMemberEpoch)$/, 'generation'],
  [/[eE]poch$/, 'epoch'],
  [/producerId$/, 'producerId'],
  [/replicaId$/, 'replicaId'],
  [/(maxBytes|minBytes|partitionMaxBytes)$/, 'byteCount'],
  [/sessionId$/, 'sessionId'],
]

const integerRoles = new Map<string, IntegerRole>()

/** The likely values of a role, or null for a role with no bias of its own. */
function likelyInteger(ctx: Context, role: IntegerRole): number | null {
  const { rng } = ctx
  switch (role) {
    case 'sessionTimeout':
      return rng.pick([6_000, 10_000, 30_000])
    case 'transactionTimeout':
      return rng.pick([60_000, 900_000, 900_001])
    case 'timeout':
      return rng.pick([-1, 0, 1, rng.between(0, 200), INT32_MAX, INT32_MIN])
    case 'acks':
      return rng.pick([-1, 0, 1])
    case 'timestamp':
      return rng.pick([-1, -2, ctx.world.baseTimestampMs])
    case 'replicationFactor':
      return rng.between(-1, 4)
    case 'brokerId':
      return rng.between(-1, 3)
    case 'resourceType':
      return rng.chance(0.8) ? 2 : rng.pick([4, 0, 1])
    case 'configOperation':
      return rng.between(0, 3)
    case 'zeroOrOne':
      return rng.between(0, 1)
    case 'generation':
      return rng.between(-1, 3)
    case 'epoch':
      return rng.between(-1, 2)
    case 'producerId':
      return rng.between(-1, 5)
    case 'replicaId':
      return -1
    case 'byteCount':
      return rng.pick([0, 1, 1 << 10, 1 << 20, rng.between(1, 1 << 16)])
    case 'sessionId':
      return 0
    default:
      return null
  }
}

function integer(ctx: Context, field: FieldSchema, path: string): number {
  const { rng } = ctx
  const role = roleOf(integerRoles, INTEGER_ROLES, 'any', path)
  if (role === 'partition') return partitionIndex(ctx)
  if (role === 'offset') return offset(ctx)
  // Partition counts stay small: every partition is a log the broker opens (and a new topic's take
  // about 12 ms each), so a run that created thousands would measure that and nothing else.
  if (role === 'count') return rng.chance(0.9) ? rng.between(-2, 8) : rng.pick([0, 9, 64, INT32_MAX, INT32_MIN, 10_001])
  const likely = rng.chance(0.8) ? likelyInteger(ctx, role) : null
  return likely ?? anyInteger(ctx, field.kind)
}

function bytesValue(ctx: Context, path: string): Buffer {
  const { rng } = ctx
  if (/protocols\[\]\.metadata$/.test(path) && rng.chance(0.7)) {
    return encodeSubscription({ topics: Array.from({ length: rng.between(0, 2) }, () => topicName(ctx)) })
  }
  if (/assignment$/.test(path) && rng.chance(0.7)) {
    const topic = topicName(ctx)
    return encodeAssignment({ assignedPartitions: [{ topic, partitions: [partitionIndex(ctx)] }] })
  }
  return rng.bytes(rng.between(0, 24))
}

function primitive(ctx: Context, field: FieldSchema, path: string): Value {
  const { rng } = ctx
  switch (field.kind) {
    case 'bool':
      return rng.chance(0.5)
    case 'int8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32':
    case 'int64':
      return integer(ctx, field, path)
    case 'float64':
      return rng.pick([0, -1, 1.5, Number.MAX_VALUE, Number.NaN])
    case 'string':
      return string(ctx, path)
    case 'bytes':
      return bytesValue(ctx, path)
    case 'records':
      return recordSet(rng, ctx.world.baseTimestampMs)
    case 'uuid':
      return (rng.chance(0.7) ? Buffer.alloc(16) : rng.bytes(16)).toString('base64url')
    case 'struct':
      return struct(ctx, field.fields ?? [], path)
  }
}

/** The value a decoder yields for a field the version does not carry. */
function absent(field: FieldSchema): Value {
  if (field.default === null) return null
  if (field.array) return []
  if (field.kind === 'struct') return Object.fromEntries((field.fields ?? []).map((f) => [f.name, absent(f)]))
  if (field.kind === 'bytes') return Buffer.alloc(0)
  return field.default
}

/** How often a nullable field is null: as clients send it where clients mostly send null. */
function nullChance(field: FieldSchema, path: string): number {
  if (field.kind === 'records') return 0
  if (/transactionalId$|groupInstanceId$|assignments\[\]$/.test(path)) return 0.8
  return 0.08
}

/** How many elements an array gets: few, and none where a non-empty one is refused outright. */
function arrayLength(rng: Rng, path: string): number {
  if (/assignments\[\]$/.test(path) && !/SyncGroup/.test(path) && rng.chance(0.8)) return 0
  return rng.chance(0.9) ? rng.between(0, 3) : rng.between(4, 12)
}

function fieldValue(ctx: Context, field: FieldSchema, parentPath: string): Value {
  if (!inRange(field.versions, ctx.version)) return absent(field)
  const { rng } = ctx
  const path = `${parentPath}.${field.name}${field.array ? '[]' : ''}`
  if (inRange(field.nullable, ctx.version) && rng.chance(nullChance(field, path))) return null
  if (!field.array) return primitive(ctx, field, path)
  return Array.from({ length: arrayLength(rng, path) }, () => primitive(ctx, field, path))
}

function struct(ctx: Context, fields: readonly FieldSchema[], path: string): Record<string, Value> {
  const out: Record<string, Value> = {}
  for (const field of fields) out[field.name] = fieldValue(ctx, field, path)
  return out
}

/** A request body of `schema` at `version`, for `encodeRequest`. */
export function requestBody(rng: Rng, world: World, schema: MessageSchema, version: number, api: string): Record<string, Value> {
  const ctx: Context = { rng, world, api, version, topic: null }
  return struct(ctx, schema.fields, api)
}
