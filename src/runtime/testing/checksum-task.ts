/** A CPU task for the runtime's tests (compiled to dist/): sums bytes, or fails when asked. */
export interface ChecksumInput {
  bytes: Uint8Array
  fail?: string
}

export default function checksum(input: ChecksumInput): { sum: number; length: number } {
  if (input.fail !== undefined) throw new Error(input.fail)
  let sum = 0
  for (const byte of input.bytes) sum = (sum + byte) >>> 0
  return { sum, length: input.bytes.length }
}
