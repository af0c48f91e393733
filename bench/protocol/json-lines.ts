import type { Readable } from 'node:stream'

/**
 * Reads a child's stdout as one JSON object a line (the Python drivers' output): each whole line
 * is parsed, kept in the returned array and passed to `onLine` as it comes.
 */
export function jsonLinesOf(stream: Readable, onLine: (line: Record<string, unknown>) => void = () => {}): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = []
  let buffered = ''
  stream.on('data', (chunk: Buffer) => {
    buffered += chunk.toString()
    // Bounded: each pass takes one whole line.
    for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
      const line = JSON.parse(buffered.slice(0, end)) as Record<string, unknown>
      buffered = buffered.slice(end + 1)
      lines.push(line)
      onLine(line)
    }
  })
  return lines
}
