import zlib from 'node:zlib'
import { constants as bufferConstants } from 'node:buffer'
import { promisify } from 'node:util'
import snappy from 'snappy'
import lz4 from 'lz4-napi'
import { Decoder as ZstdDecoder, Encoder as ZstdEncoder } from '@toondepauw/node-zstd'
import { assert } from '../common/assert.js'
import { ErrorCode } from '../common/error-codes.js'
import { KafkaError } from '../common/errors.js'
import { CompressionType } from './record-batch.js'

/*
 * The four codecs a Kafka record batch may use for its records block (attributes bits 0-2), each in
 * the exact byte format Kafka clients write and read:
 *
 *   gzip    RFC 1952 gzip members (Java's GZIPOutputStream), node's zlib.
 *   snappy  Java Kafka writes the xerial snappy-java stream: the 8-byte magic 82 'SNAPPY' 00, two
 *           big-endian int32s (version 1, minimum compatible version 1), then chunks of int32
 *           length + one raw snappy block, each block holding at most 32 KiB of input.
 *           librdkafka and kafkajs-snappy write one raw snappy block without framing. Every
 *           reader (Java's SnappyInputStream, librdkafka, kafkajs-snappy, sarama, kafka-python)
 *           accepts both, so we decompress both and compress like Java does: xerial framing is
 *           what a Java broker would store, and what the oldest readers were written against.
 *   lz4     The LZ4 frame format (magic 0x184D2204) with the correct header checksum (KIP-57),
 *           independent 64 KiB blocks, no checksums: the same header bytes Java Kafka's
 *           KafkaLZ4BlockOutputStream writes (04 22 4D 18 60 40 82).
 *   zstd    Standard zstd frames, level 3 (Kafka's default level).
 *
 * Decompression is bounded by `maxBytes` so a small hostile batch cannot make the broker
 * allocate gigabytes. gzip is bounded by zlib's maxOutputLength; for snappy, lz4 and zstd we walk
 * the container's headers first (snappy states each block's length, lz4 and zstd blocks have a
 * known maximum output) and refuse before the native decoder allocates anything. The lz4 and
 * zstd bounds count a compressed block as full, so they can refuse output that falls short of
 * `maxBytes` by less than one block (64 KiB or 128 KiB) a frame; a limit is a safety valve, not a
 * quota, and this keeps the check free of decoding. Over the
 * bound the error is RECORD_LIST_TOO_LARGE, not CORRUPT_MESSAGE: clients treat CORRUPT_MESSAGE
 * as retriable and would resend the same batch until their retries run out, while
 * RECORD_LIST_TOO_LARGE is final, which is right for a batch that will never fit.
 * Any other failure of a decoder on bad input is CORRUPT_MESSAGE; none may crash the broker.
 */

/** Default cap on one batch's decompressed records block. */
export const DECOMPRESSED_BYTES_MAX_DEFAULT = 64 * 1024 * 1024

const BUFFER_MAX_BYTES = bufferConstants.MAX_LENGTH

const SNAPPY_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00])
const SNAPPY_HEADER_SIZE = 16
/** SnappyOutputStream's default block size, which Kafka's SnappyFactory keeps. */
const SNAPPY_CHUNK_BYTES = 32 * 1024
/** snappy-java's stream version and minimum compatible version, both 1. */
const SNAPPY_VERSION = 1

const LZ4_MAGIC = 0x184d2204
const LZ4_FRAME_BLOCK_BYTES = 64 * 1024
const LZ4_FRAME_HEADER = Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82])
const LZ4_END_MARK = Buffer.alloc(4)
const LZ4_BLOCK_MAX_BYTES = [0, 0, 0, 0, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024]

const ZSTD_MAGIC = 0xfd2fb528
const ZSTD_LEVEL = 3
const ZSTD_BLOCK_MAX_BYTES = 128 * 1024

const zstdEncoder = new ZstdEncoder(ZSTD_LEVEL)
const zstdDecoder = new ZstdDecoder()

const gzipAsync = promisify(zlib.gzip)
const gunzipAsync = promisify(zlib.gunzip) as (buf: Buffer, options: zlib.ZlibOptions) => Promise<Buffer>

// ---- public API ---------------------------------------------------------------------------

/** Compresses a records block with the codec Kafka numbers `type`. NONE returns the input. */
export function compress(type: number, bytes: Buffer): Buffer {
  switch (type) {
    case CompressionType.NONE:
      return bytes
    case CompressionType.GZIP:
      return zlib.gzipSync(bytes)
    case CompressionType.SNAPPY:
      return xerialFrame(splitChunks(bytes, SNAPPY_CHUNK_BYTES).map((chunk) => snappy.compressSync(chunk)))
    case CompressionType.LZ4:
      return lz4Frame(splitChunks(bytes, LZ4_FRAME_BLOCK_BYTES), (chunk) => lz4.compressSync(chunk))
    case CompressionType.ZSTD:
      return zstdEncoder.encodeSync(bytes)
    default:
      throw unsupported(type)
  }
}

/** As `compress`, with the native work off the calling thread (libuv's pool); same bytes out. */
export async function compressAsync(type: number, bytes: Buffer): Promise<Buffer> {
  switch (type) {
    case CompressionType.NONE:
      return bytes
    case CompressionType.GZIP:
      return gzipAsync(bytes)
    case CompressionType.SNAPPY:
      return xerialFrame(await Promise.all(splitChunks(bytes, SNAPPY_CHUNK_BYTES).map((chunk) => snappy.compress(chunk))))
    case CompressionType.LZ4: {
      const chunks = splitChunks(bytes, LZ4_FRAME_BLOCK_BYTES)
      const blocks = await Promise.all(chunks.map((chunk) => lz4.compress(chunk)))
      return lz4Frame(chunks, (_chunk, i) => blocks[i])
    }
    case CompressionType.ZSTD:
      return zstdEncoder.encode(bytes)
    default:
      throw unsupported(type)
  }
}

/**
 * Decompresses a records block. Throws KafkaError: UNSUPPORTED_COMPRESSION_TYPE for an unknown
 * type, CORRUPT_MESSAGE for input the codec rejects, RECORD_LIST_TOO_LARGE when the output would
 * exceed `maxBytes`. NONE returns the input (bounded the same way).
 */
export function decompress(type: number, bytes: Buffer, maxBytes = DECOMPRESSED_BYTES_MAX_DEFAULT): Buffer {
  checkMaxBytes(maxBytes)
  switch (type) {
    case CompressionType.NONE:
      return checkOutput(bytes, maxBytes)
    case CompressionType.GZIP:
      return guard('gzip', () => zlib.gunzipSync(bytes, { maxOutputLength: maxBytes }), maxBytes)
    case CompressionType.SNAPPY: {
      const blocks = snappyBlocks(bytes, maxBytes)
      return guard('snappy', () => concat(blocks.map((block) => snappyUncompress(block))), maxBytes)
    }
    case CompressionType.LZ4:
      checkBound(lz4Bound(bytes), maxBytes)
      return guard('lz4', () => lz4.decompressFrameSync(bytes), maxBytes)
    case CompressionType.ZSTD:
      checkBound(zstdBound(bytes), maxBytes)
      return guard('zstd', () => zstdDecoder.decodeSync(bytes), maxBytes)
    default:
      throw unsupported(type)
  }
}

/** As `decompress`, with the native work off the calling thread; the bound checks stay synchronous. */
export async function decompressAsync(
  type: number,
  bytes: Buffer,
  maxBytes = DECOMPRESSED_BYTES_MAX_DEFAULT,
): Promise<Buffer> {
  checkMaxBytes(maxBytes)
  switch (type) {
    case CompressionType.NONE:
      return checkOutput(bytes, maxBytes)
    case CompressionType.GZIP:
      return guardAsync('gzip', () => gunzipAsync(bytes, { maxOutputLength: maxBytes }), maxBytes)
    case CompressionType.SNAPPY: {
      const blocks = snappyBlocks(bytes, maxBytes)
      return guardAsync('snappy', async () => concat(await Promise.all(blocks.map(snappyUncompressAsync))), maxBytes)
    }
    case CompressionType.LZ4:
      checkBound(lz4Bound(bytes), maxBytes)
      return guardAsync('lz4', () => lz4.decompressFrame(bytes), maxBytes)
    case CompressionType.ZSTD:
      checkBound(zstdBound(bytes), maxBytes)
      return guardAsync('zstd', () => zstdDecoder.decode(bytes), maxBytes)
    default:
      throw unsupported(type)
  }
}

// ---- errors and bounds --------------------------------------------------------------------

function unsupported(type: number): KafkaError {
  return new KafkaError(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `unsupported compression type ${type}`)
}

function corrupt(codec: string, detail: string): KafkaError {
  return new KafkaError(ErrorCode.CORRUPT_MESSAGE, `${codec}: ${detail}`)
}

function tooLarge(bytes: number, maxBytes: number): KafkaError {
  return new KafkaError(
    ErrorCode.RECORD_LIST_TOO_LARGE,
    `decompressed records would be ${bytes} bytes or more, over the limit of ${maxBytes}`,
  )
}

function checkMaxBytes(maxBytes: number): void {
  // zlib refuses a maxOutputLength past the largest Buffer.
  assert(
    Number.isSafeInteger(maxBytes) && maxBytes >= 1 && maxBytes <= BUFFER_MAX_BYTES,
    `maxBytes must be a positive safe integer, got ${maxBytes}`,
  )
}

function checkBound(boundBytes: number, maxBytes: number): void {
  if (boundBytes > maxBytes) throw tooLarge(boundBytes, maxBytes)
}

function checkOutput(out: Buffer, maxBytes: number): Buffer {
  if (out.length > maxBytes) throw tooLarge(out.length, maxBytes)
  return out
}

/** Maps a native decoder's failure to a Kafka error; our own KafkaErrors pass through. */
function translate(codec: string, maxBytes: number, error: unknown): KafkaError {
  if (error instanceof KafkaError) return error
  if (error instanceof RangeError && (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
    return tooLarge(maxBytes + 1, maxBytes)
  }
  return corrupt(codec, error instanceof Error ? error.message : String(error))
}

function guard(codec: string, run: () => Buffer, maxBytes: number): Buffer {
  let out: Buffer
  try {
    out = run()
  } catch (error) {
    throw translate(codec, maxBytes, error)
  }
  return checkOutput(out, maxBytes)
}

async function guardAsync(codec: string, run: () => Promise<Buffer>, maxBytes: number): Promise<Buffer> {
  let out: Buffer
  try {
    out = await run()
  } catch (error) {
    throw translate(codec, maxBytes, error)
  }
  return checkOutput(out, maxBytes)
}

function concat(parts: Buffer[]): Buffer {
  return parts.length === 1 ? parts[0] : Buffer.concat(parts)
}

// ---- snappy -------------------------------------------------------------------------------

/** Cuts input into pieces of `chunkBytes` (the last shorter); empty input is one empty piece. */
function splitChunks(bytes: Buffer, chunkBytes: number): Buffer[] {
  // An empty input still gets one (empty) chunk: librdkafka only takes a buffer for xerial
  // framing when it is longer than the 16-byte header, so a bare header would not decode there.
  if (bytes.length === 0) return [bytes]
  const chunks: Buffer[] = []
  for (let pos = 0; pos < bytes.length; pos += chunkBytes) {
    chunks.push(bytes.subarray(pos, Math.min(pos + chunkBytes, bytes.length)))
  }
  return chunks
}

function xerialFrame(blocks: Buffer[]): Buffer {
  let size = SNAPPY_HEADER_SIZE
  for (const block of blocks) size += 4 + block.length
  const out = Buffer.allocUnsafe(size)
  SNAPPY_MAGIC.copy(out, 0)
  out.writeInt32BE(SNAPPY_VERSION, 8)
  out.writeInt32BE(SNAPPY_VERSION, 12)
  let pos = SNAPPY_HEADER_SIZE
  for (const block of blocks) {
    out.writeInt32BE(block.length, pos)
    block.copy(out, pos + 4)
    pos += 4 + block.length
  }
  return out
}

function hasXerialMagic(bytes: Buffer, pos: number): boolean {
  return bytes.length - pos >= SNAPPY_HEADER_SIZE && bytes.compare(SNAPPY_MAGIC, 0, 8, pos, pos + 8) === 0
}

/**
 * Splits snappy input into raw blocks (one for unframed input, one per xerial chunk) and checks
 * the total uncompressed length every block states up front against `maxBytes`.
 */
function snappyBlocks(bytes: Buffer, maxBytes: number): Buffer[] {
  const blocks = hasXerialMagic(bytes, 0) ? xerialChunks(bytes) : [bytes]
  let total = 0
  for (const block of blocks) total += snappyUncompressedLength(block)
  checkBound(total, maxBytes)
  return blocks
}

function xerialChunks(bytes: Buffer): Buffer[] {
  const chunks: Buffer[] = []
  let pos = SNAPPY_HEADER_SIZE
  // Every chunk takes at least 4 bytes, so the loop ends within bytes.length / 4 rounds.
  while (pos < bytes.length) {
    // snappy-java concatenates streams by repeating the header; skip it as its reader does.
    if (hasXerialMagic(bytes, pos)) {
      pos += SNAPPY_HEADER_SIZE
      continue
    }
    if (bytes.length - pos < 4) throw corrupt('snappy', 'truncated xerial chunk length')
    const length = bytes.readInt32BE(pos)
    pos += 4
    if (length < 0 || length > bytes.length - pos) throw corrupt('snappy', `bad xerial chunk length ${length}`)
    chunks.push(bytes.subarray(pos, pos + length))
    pos += length
  }
  return chunks
}

/** Reads the little-endian base-128 varint that starts every raw snappy block. */
function snappyUncompressedLength(block: Buffer): number {
  let value = 0
  for (let i = 0; i < 5; i++) {
    if (i >= block.length) throw corrupt('snappy', 'truncated block length')
    const byte = block[i]
    value += (byte & 0x7f) * 2 ** (7 * i)
    if ((byte & 0x80) === 0) return value
  }
  throw corrupt('snappy', 'block length varint longer than 5 bytes')
}

function snappyUncompress(block: Buffer): Buffer {
  return snappy.uncompressSync(block, { asBuffer: true }) as Buffer
}

async function snappyUncompressAsync(block: Buffer): Promise<Buffer> {
  return (await snappy.uncompress(block, { asBuffer: true })) as Buffer
}

// ---- lz4 ----------------------------------------------------------------------------------

/**
 * Writes one LZ4 frame as Java Kafka's KafkaLZ4BlockOutputStream does: the fixed header (FLG
 * 0x60, BD 0x40 for 64 KiB blocks, header checksum 0x82), one block per 64 KiB of input, stored
 * uncompressed when compressing does not shrink it, then the zero end mark. lz4-napi's own frame
 * writer picks 4 MiB blocks for inputs over 64 KiB, which readers accept but Java never writes,
 * and which would loosen the decompression bound below; so we frame raw blocks ourselves.
 * `compressBlock` returns lz4-napi's block format: a 4-byte length prefix, then the raw block.
 */
function lz4Frame(chunks: Buffer[], compressBlock: (chunk: Buffer, index: number) => Buffer): Buffer {
  const parts: Buffer[] = [LZ4_FRAME_HEADER]
  chunks.forEach((chunk, index) => {
    if (chunk.length === 0) return
    const block = compressBlock(chunk, index).subarray(4)
    const stored = block.length < chunk.length
    const size = Buffer.allocUnsafe(4)
    size.writeUInt32LE(stored ? block.length : (chunk.length | 0x80000000) >>> 0)
    parts.push(size, stored ? block : chunk)
  })
  parts.push(LZ4_END_MARK)
  return Buffer.concat(parts)
}

/**
 * Walks LZ4 frames without decoding and returns an upper bound on their output: each
 * uncompressed block contributes its size, each compressed block the frame's maximum block
 * size (encoders fill every block but the last, so the bound is at most one block loose).
 */
function lz4Bound(bytes: Buffer): number {
  let pos = 0
  let bound = 0
  if (bytes.length === 0) throw corrupt('lz4', 'empty input')
  // Each frame consumes at least 7 header bytes and each block at least 4: the loops are bounded.
  while (pos < bytes.length) {
    if (bytes.length - pos < 7 || bytes.readUInt32LE(pos) !== LZ4_MAGIC) throw corrupt('lz4', 'bad frame magic')
    const flg = bytes[pos + 4]
    const bd = bytes[pos + 5]
    if (flg >> 6 !== 1) throw corrupt('lz4', `frame version ${flg >> 6}`)
    const blockMaxBytes = LZ4_BLOCK_MAX_BYTES[(bd >> 4) & 7]
    if (blockMaxBytes === 0) throw corrupt('lz4', `block size code ${(bd >> 4) & 7}`)
    const blockChecksum = (flg & 0x10) !== 0
    pos += 7 + ((flg & 0x08) !== 0 ? 8 : 0) + ((flg & 0x01) !== 0 ? 4 : 0)
    for (;;) {
      if (bytes.length - pos < 4) throw corrupt('lz4', 'truncated block header')
      const word = bytes.readUInt32LE(pos)
      pos += 4
      if (word === 0) break
      const size = word & 0x7fffffff
      if (size > blockMaxBytes) throw corrupt('lz4', `block of ${size} bytes over the frame's maximum`)
      bound += (word & 0x80000000) !== 0 ? size : blockMaxBytes
      pos += size + (blockChecksum ? 4 : 0)
      if (pos > bytes.length) throw corrupt('lz4', 'truncated block')
    }
    pos += (flg & 0x04) !== 0 ? 4 : 0
    if (pos > bytes.length) throw corrupt('lz4', 'truncated content checksum')
  }
  return bound
}

// ---- zstd ---------------------------------------------------------------------------------

function isZstdSkippable(magic: number): boolean {
  return magic >>> 4 === 0x184d2a5
}

/**
 * Walks zstd frames without decoding and returns an upper bound on their output: raw and RLE
 * blocks state their size and a compressed block yields at most 128 KiB. A stated frame content
 * size is not trusted to lower the bound (the decoder checks it only as it goes).
 */
function zstdBound(bytes: Buffer): number {
  let pos = 0
  let bound = 0
  if (bytes.length === 0) throw corrupt('zstd', 'empty input')
  while (pos < bytes.length) {
    if (bytes.length - pos < 4) throw corrupt('zstd', 'truncated frame magic')
    const magic = bytes.readUInt32LE(pos)
    if (isZstdSkippable(magic)) {
      if (bytes.length - pos < 8) throw corrupt('zstd', 'truncated skippable frame')
      pos += 8 + bytes.readUInt32LE(pos + 4)
      if (pos > bytes.length) throw corrupt('zstd', 'truncated skippable frame')
      continue
    }
    if (magic !== ZSTD_MAGIC) throw corrupt('zstd', 'bad frame magic')
    const frame = zstdFrameBound(bytes, pos + 4)
    bound += frame.boundBytes
    pos = frame.end
  }
  return bound
}

const ZSTD_DICT_ID_BYTES = [0, 1, 2, 4]
const ZSTD_FCS_BYTES = [0, 2, 4, 8]

function zstdFrameBound(bytes: Buffer, start: number): { boundBytes: number; end: number } {
  if (start >= bytes.length) throw corrupt('zstd', 'truncated frame header')
  const fhd = bytes[start]
  if ((fhd & 0x08) !== 0) throw corrupt('zstd', 'reserved frame header bit set')
  const singleSegment = (fhd & 0x20) !== 0
  const fcsFlag = fhd >> 6
  const fcsBytes = fcsFlag === 0 && singleSegment ? 1 : ZSTD_FCS_BYTES[fcsFlag]
  let pos = start + 1 + (singleSegment ? 0 : 1) + ZSTD_DICT_ID_BYTES[fhd & 3]
  pos += fcsBytes
  let blockBound = 0
  // Each block consumes at least 3 header bytes, so the loop is bounded by the input length.
  for (;;) {
    if (bytes.length - pos < 3) throw corrupt('zstd', 'truncated block header')
    const header = bytes.readUIntLE(pos, 3)
    pos += 3
    const last = (header & 1) !== 0
    const blockType = (header >> 1) & 3
    const size = header >>> 3
    if (blockType === 3) throw corrupt('zstd', 'reserved block type')
    if (size > ZSTD_BLOCK_MAX_BYTES) throw corrupt('zstd', `block of ${size} bytes over 128 KiB`)
    blockBound += blockType === 2 ? ZSTD_BLOCK_MAX_BYTES : size
    pos += blockType === 1 ? 1 : size
    if (pos > bytes.length) throw corrupt('zstd', 'truncated block')
    if (last) break
  }
  pos += (fhd & 0x04) !== 0 ? 4 : 0
  if (pos > bytes.length) throw corrupt('zstd', 'truncated content checksum')
  return { boundBytes: blockBound, end: pos }
}
