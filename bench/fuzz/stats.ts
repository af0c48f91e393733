/**
 * What a fuzz run counts: frames by API, prediction and mutation; connections and how they ended;
 * every error code in every answer, per API; and findings (each one a bug until shown otherwise),
 * kept with the frame index that replays them.
 */
import { ErrorCode, errorName } from '../../src/common/error-codes.js'
import { apiByKey } from '../../src/protocol/index.js'
import type { Frame } from './frames.js'

export interface Finding {
  kind: string
  /** The frame that replays it (`--first <frame> --frames 1`), or -1 when no single frame is to blame. */
  frame: number
  detail: string
  /** The client address (`ip:port`) of the connection it happened on, to find the broker's own account of it. */
  peer?: string
}

/** Findings kept per kind; beyond this only the count grows. */
const FINDINGS_KEPT_PER_KIND = 20

function bump<K>(map: Map<K, number>, key: K, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by)
}

/**
 * Every errorCode field in a decoded answer, however deeply nested; `unexpected` gets the message
 * beside each UNKNOWN_SERVER_ERROR, Kafka's code for a failure the broker did not foresee.
 */
function errorCodesOf(value: unknown, out: number[], unexpected: string[], depth = 0): void {
  if (depth > 8 || typeof value !== 'object' || value === null || Buffer.isBuffer(value)) return
  if (Array.isArray(value)) {
    for (const item of value) errorCodesOf(item, out, unexpected, depth + 1)
    return
  }
  for (const [key, field] of Object.entries(value)) {
    if (key === 'errorCode' && typeof field === 'number') {
      out.push(field)
      if (field === ErrorCode.UNKNOWN_SERVER_ERROR) unexpected.push(String((value as { errorMessage?: unknown }).errorMessage ?? '(no message)'))
    } else {
      errorCodesOf(field, out, unexpected, depth + 1)
    }
  }
}

export class FuzzStats {
  framesSent = 0
  /** Frames drawn again, by why (see frames.ts redrawReason). */
  readonly redrawn = new Map<string, number>()
  connectionsOpened = 0
  connectionsClosedAsPredicted = 0
  connectionsClosedAfterSilentProduce = 0
  connectionsClosedUnexpectedly = 0
  /** Requests whose answers were lost because their connection closed (the broker drops them). */
  unansweredAtClose = 0
  readonly sentByApi = new Map<string, number>()
  readonly answeredByApi = new Map<string, number>()
  readonly abandonedByApi = new Map<string, number>()
  readonly predictions = new Map<string, number>()
  readonly mutations = new Map<string, number>()
  readonly errorCodes = new Map<string, Map<number, number>>()
  readonly findingCounts = new Map<string, number>()
  readonly findings: Finding[] = []
  #latencyMaxMs = 0

  sent(frame: Frame): void {
    this.framesSent++
    if (frame.redrawn !== undefined) bump(this.redrawn, frame.redrawn)
    bump(this.sentByApi, frame.apiName)
    const p = frame.prediction
    bump(this.predictions, p.kind === 'close' ? `close (${p.reason})` : p.kind)
    if (frame.mutations.length === 0) bump(this.mutations, 'none')
    for (const m of frame.mutations) bump(this.mutations, m)
  }

  answered(frame: Frame, body: unknown, latencyMs: number): void {
    // Named by the API that handled it, which a spliced header may have changed.
    const handledBy = frame.prediction.kind === 'answer' ? frame.prediction.apiKey : frame.apiKey
    const name = apiByKey(handledBy)?.name ?? frame.apiName
    bump(this.answeredByApi, name)
    this.#latencyMaxMs = Math.max(this.#latencyMaxMs, latencyMs)
    const codes: number[] = []
    const unexpected: string[] = []
    errorCodesOf(body, codes, unexpected)
    for (const message of unexpected) this.finding('unknown-server-error', frame.index, `${name}: ${message}`)
    let histogram = this.errorCodes.get(name)
    if (histogram === undefined) {
      histogram = new Map()
      this.errorCodes.set(name, histogram)
    }
    for (const code of codes) bump(histogram, code)
  }

  abandoned(frame: Frame): void {
    bump(this.abandonedByApi, frame.apiName)
  }

  finding(kind: string, frame: number, detail: string, peer?: string): void {
    bump(this.findingCounts, kind)
    if ((this.findingCounts.get(kind) ?? 0) <= FINDINGS_KEPT_PER_KIND) this.findings.push({ kind, frame, detail, ...(peer === undefined ? {} : { peer }) })
  }

  get latencyMaxMs(): number {
    return this.#latencyMaxMs
  }

  /** The error-code histogram as plain data: API -> "CODE_NAME (n)" -> count. */
  errorCodeReport(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {}
    for (const [api, histogram] of [...this.errorCodes].sort(([a], [b]) => a.localeCompare(b))) {
      out[api] = Object.fromEntries([...histogram].sort(([a], [b]) => a - b).map(([code, count]) => [`${errorName(code)} (${code})`, count]))
    }
    return out
  }
}

export function sortedRecord(map: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...map].sort(([a], [b]) => a.localeCompare(b)))
}
