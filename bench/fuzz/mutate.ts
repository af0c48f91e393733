/**
 * Mutations of a valid request frame. Every mutation works on the frame's bytes after the size
 * prefix, which is then rewritten to match, so the broker still reads a well-framed request: the
 * damage is inside. One rare mutation, sizePrefix, lies about the size itself; the frame after it
 * on the same connection can no longer be predicted, so the sender sends nothing after it.
 */
import type { Rng } from './rng.js'

export type MutationKind =
  | 'bitFlip'
  | 'byteOverwrite'
  | 'truncate'
  | 'extend'
  | 'insert'
  | 'delete'
  | 'duplicate'
  | 'intOverwrite'
  | 'varint'
  | 'taggedFields'
  | 'spliceKey'
  | 'spliceVersion'
  | 'sizePrefix'

const WEIGHTS: Readonly<Record<MutationKind | 'none', number>> = {
  none: 22,
  bitFlip: 14,
  byteOverwrite: 8,
  truncate: 9,
  extend: 7,
  insert: 4,
  delete: 4,
  duplicate: 3,
  intOverwrite: 8,
  varint: 4,
  taggedFields: 4,
  spliceKey: 6,
  spliceVersion: 5,
  sizePrefix: 1,
}

const MUTATION_COUNTS: Readonly<Record<'1' | '2' | '3', number>> = { 1: 70, 2: 20, 3: 10 }

export interface ApiRange {
  apiKey: number
  minVersion: number
  maxVersion: number
}

export interface FrameToMutate {
  /** The request after its size prefix: header, then body. */
  content: Buffer
  /** Where the body starts in `content`. */
  bodyOffset: number
  /** The request is a flexible version (its body ends in a tagged-field section). */
  flexible: boolean
  advertised: readonly ApiRange[]
}

export interface MutatedFrame {
  /** The whole frame, size prefix included. */
  bytes: Buffer
  mutations: MutationKind[]
}

function uvarint(value: number): Buffer {
  const out: number[] = []
  let v = value >>> 0
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80)
    v >>>= 7
  }
  out.push(v)
  return Buffer.from(out)
}

/** A position to damage: mostly in the body, sometimes in the header. */
function position(rng: Rng, frame: FrameToMutate, content: Buffer): number {
  if (content.length === 0) return 0
  if (rng.chance(0.15) || frame.bodyOffset >= content.length) return rng.below(content.length)
  return rng.between(frame.bodyOffset, content.length - 1)
}

function overwrite(content: Buffer, at: number, bytes: Buffer): Buffer {
  const out = Buffer.from(content)
  bytes.copy(out, at, 0, Math.min(bytes.length, out.length - at))
  return out
}

function taggedSection(rng: Rng): Buffer {
  const count = rng.between(1, 3)
  const parts: Buffer[] = [uvarint(count)]
  for (let i = 0; i < count; i++) {
    const data = rng.bytes(rng.below(12))
    parts.push(uvarint(rng.pick([0, 1, 2, 3, rng.below(1000)])))
    // Sometimes the declared size lies, so the decoder runs off the end.
    parts.push(uvarint(rng.chance(0.8) ? data.length : rng.pick([data.length + 1, 0xffff, 0x7fffffff])))
    parts.push(data)
  }
  return Buffer.concat(parts)
}

/** A header for another API key or version in front of the same body. */
function respliced(rng: Rng, frame: FrameToMutate, content: Buffer, kind: 'spliceKey' | 'spliceVersion'): Buffer {
  const out = Buffer.from(content)
  const currentKey = out.readInt16BE(0)
  if (kind === 'spliceKey') {
    const target = rng.chance(0.9) ? rng.pick(frame.advertised) : { apiKey: rng.between(-1, 80), minVersion: 0, maxVersion: 20 }
    out.writeInt16BE(target.apiKey, 0)
    out.writeInt16BE(rng.between(target.minVersion, target.maxVersion), 2)
  } else {
    const range = frame.advertised.find((a) => a.apiKey === currentKey)
    const version = range !== undefined && rng.chance(0.8) ? rng.between(range.minVersion, range.maxVersion) : rng.pick([-1, 0, 99, 32767])
    out.writeInt16BE(version, 2)
  }
  return out
}

function mutateOnce(rng: Rng, frame: FrameToMutate, content: Buffer, kind: MutationKind): Buffer {
  const at = position(rng, frame, content)
  switch (kind) {
    case 'bitFlip': {
      const out = Buffer.from(content)
      for (let i = rng.between(1, 4); i > 0 && out.length > 0; i--) out[position(rng, frame, out)] ^= 1 << rng.below(8)
      return out
    }
    case 'byteOverwrite':
      return overwrite(content, at, Buffer.from([rng.pick([0x00, 0xff, 0x7f, 0x80, 0x01, rng.below(256)])]))
    case 'truncate':
      return content.subarray(0, at)
    case 'extend':
      return Buffer.concat([content, rng.bytes(rng.between(1, 64))])
    case 'insert':
      return Buffer.concat([content.subarray(0, at), rng.bytes(rng.between(1, 16)), content.subarray(at)])
    case 'delete':
      return Buffer.concat([content.subarray(0, at), content.subarray(Math.min(content.length, at + rng.between(1, 16)))])
    case 'duplicate': {
      const end = Math.min(content.length, at + rng.between(1, 32))
      return Buffer.concat([content.subarray(0, end), content.subarray(at, end), content.subarray(end)])
    }
    case 'intOverwrite': {
      const width = rng.pick([2, 4])
      const bytes = Buffer.alloc(width)
      if (width === 2) bytes.writeInt16BE(rng.pick([-1, 0, 1, 0x7fff, -0x8000, rng.below(64)]))
      else bytes.writeInt32BE(rng.pick([-1, 0, 1, 0x7fffffff, -0x80000000, rng.below(1 << 16)]))
      return overwrite(content, at, bytes)
    }
    case 'varint': {
      const bytes = rng.pick([Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), Buffer.from([0x00]), Buffer.from([0x01]), uvarint(rng.next())])
      return overwrite(content, at, bytes)
    }
    case 'taggedFields':
      // A flexible body ends with its top-level tag count (0 when nothing is tagged): replace it.
      if (!frame.flexible || content.length <= frame.bodyOffset) return Buffer.concat([content, taggedSection(rng)])
      return rng.chance(0.7)
        ? Buffer.concat([content.subarray(0, content.length - 1), taggedSection(rng)])
        : Buffer.concat([content.subarray(0, at), taggedSection(rng), content.subarray(Math.min(content.length, at + 1))])
    case 'spliceKey':
    case 'spliceVersion':
      return content.length >= 4 ? respliced(rng, frame, content, kind) : content
    case 'sizePrefix':
      return content
  }
}

function sizePrefix(rng: Rng, length: number, lie: boolean): Buffer {
  const prefix = Buffer.alloc(4)
  const size = lie ? rng.pick([-1, -0x80000000, 0x7fffffff, length + rng.between(1, 8), Math.max(0, length - rng.between(1, 8))]) : length
  prefix.writeInt32BE(size)
  return prefix
}

/** Zero to three mutations of `frame`, chosen by `rng`. */
export function mutate(rng: Rng, frame: FrameToMutate): MutatedFrame {
  const first = rng.weighted(WEIGHTS)
  const mutations: MutationKind[] = []
  let content = frame.content
  if (first !== 'none') {
    const wanted = rng.weighted(MUTATION_COUNTS)
    const kinds: MutationKind[] = [first]
    for (let tries = 0; kinds.length < Number(wanted) && tries < 100; tries++) {
      const next = rng.weighted(WEIGHTS)
      if (next !== 'none') kinds.push(next)
    }
    for (const kind of kinds) {
      content = mutateOnce(rng, frame, content, kind)
      mutations.push(kind)
    }
  }
  return { bytes: Buffer.concat([sizePrefix(rng, content.length, mutations.includes('sizePrefix')), content]), mutations }
}
