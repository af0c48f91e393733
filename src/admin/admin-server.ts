/**
 * The admin HTTP port (node:http, on the main thread): /metrics, /healthz, /readyz and the JSON
 * API under /v1/. Routing is a table of exact paths to GET handlers, so a later console adds its
 * /v1/... routes (and static files) by adding entries. Scrapes run one at a time: a second scrape
 * arriving meanwhile shares the one in flight, so a busy Prometheus cannot pile requests on the
 * shards.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { collectSnapshot, type AdminSource, type ClusterSnapshot } from './cluster-snapshot.js'
import { renderMetrics } from './metrics.js'
import { PROMETHEUS_CONTENT_TYPE } from './prometheus.js'
import { readiness, statusJson } from './status.js'
import { CONSOLE_API_PATHS, handleConsoleApi, isConsolePath, type ConsoleBackend, type ConsoleMode } from './console/api.js'
import { CONSOLE_ASSET_PATHS, consoleAssets } from './console/assets.js'
import { startTrafficSampler, TRAFFIC_SAMPLE_INTERVAL_MS, type TrafficSampler } from './traffic-history.js'

export interface AdminServerOptions {
  source: AdminSource
  host: string
  /** 0 picks a free port. */
  port: number
  /**
   * The web console and its /v1 JSON API; off when absent. `trafficSampleMs`: how often its rate
   * history reads the brokers' counters (default TRAFFIC_SAMPLE_INTERVAL_MS).
   */
  console?: { mode: ConsoleMode; backend: () => ConsoleBackend | null; trafficSampleMs?: number }
}

export interface AdminServer {
  readonly host: string
  readonly port: number
  /** `http://host:port`. */
  readonly url: string
  close(): Promise<void>
}

export interface AdminResponse {
  status: number
  contentType: string
  body: string
}

export type AdminRoute = (source: AdminSource, scrape: () => Promise<ClusterSnapshot>) => AdminResponse | Promise<AdminResponse>

const JSON_TYPE = 'application/json; charset=utf-8'
const TEXT_TYPE = 'text/plain; charset=utf-8'

const json = (status: number, value: unknown): AdminResponse => ({ status, contentType: JSON_TYPE, body: JSON.stringify(value) + '\n' })

export const ADMIN_ROUTES: ReadonlyMap<string, AdminRoute> = new Map<string, AdminRoute>([
  ['/healthz', () => ({ status: 200, contentType: TEXT_TYPE, body: 'ok\n' })],
  [
    '/readyz',
    (source) => {
      const ready = readiness(source)
      return json(ready.ready ? 200 : 503, ready)
    },
  ],
  ['/metrics', async (_source, scrape) => ({ status: 200, contentType: PROMETHEUS_CONTENT_TYPE, body: renderMetrics(await scrape()) })],
  ['/v1/status', async (source, scrape) => json(200, statusJson(await scrape(), readiness(source)))],
])

export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  let inFlight: Promise<ClusterSnapshot> | null = null
  const scrape = (): Promise<ClusterSnapshot> => {
    inFlight ??= collectSnapshot(options.source).finally(() => (inFlight = null))
    return inFlight
  }
  const consoleMode = options.console?.mode ?? 'off'
  const backend = options.console?.backend ?? (() => null)
  // Only the console draws rates, so without it nothing samples.
  const sampler = consoleMode === 'off' ? null : startTrafficSampler(options.source, options.console?.trafficSampleMs ?? TRAFFIC_SAMPLE_INTERVAL_MS)
  const server = createServer((request, response) => {
    void serve(request, response, options.source, scrape, consoleMode, backend, sampler)
  })
  // Keep-alive sockets from a scraper must not hold close() open.
  server.keepAliveTimeout = 5_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => {
      server.off('error', reject)
      resolve()
    })
  }).catch((error: unknown) => {
    sampler?.stop()
    throw error
  })
  const port = (server.address() as AddressInfo).port
  const hostForUrl = options.host.includes(':') ? `[${options.host}]` : options.host
  let closing: Promise<void> | null = null
  return {
    host: options.host,
    port,
    url: `http://${hostForUrl}:${port}`,
    close: () => {
      sampler?.stop()
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      return closing
    },
  }
}

/** A console request body larger than this is refused: records and configs are small. */
const BODY_BYTES_MAX = 1 << 20

async function serve(
  request: IncomingMessage,
  response: ServerResponse,
  source: AdminSource,
  scrape: () => Promise<ClusterSnapshot>,
  consoleMode: ConsoleMode,
  backend: () => ConsoleBackend | null,
  sampler: TrafficSampler | null,
): Promise<void> {
  let answer: AdminResponse
  try {
    answer = await answerFor(request, source, scrape, consoleMode, backend, sampler)
  } catch (error) {
    answer = json(500, { error: error instanceof Error ? error.message : String(error) })
  }
  response.writeHead(answer.status, { 'content-type': answer.contentType, 'content-length': Buffer.byteLength(answer.body), 'cache-control': 'no-store' })
  response.end(request.method === 'HEAD' ? undefined : answer.body)
}

async function answerFor(
  request: IncomingMessage,
  source: AdminSource,
  scrape: () => Promise<ClusterSnapshot>,
  consoleMode: ConsoleMode,
  backend: () => ConsoleBackend | null,
  sampler: TrafficSampler | null,
): Promise<AdminResponse> {
  const url = new URL(request.url ?? '/', 'http://admin')
  const path = url.pathname
  const method = request.method ?? 'GET'
  const route = ADMIN_ROUTES.get(path)
  if (route !== undefined) {
    if (method !== 'GET' && method !== 'HEAD') return json(405, { error: `${method} is not allowed on ${path}; use GET` })
    return route(source, scrape)
  }
  const asset = consoleMode === 'off' ? undefined : consoleAssets(consoleMode).get(path)
  if (asset !== undefined) {
    if (method !== 'GET' && method !== 'HEAD') return json(405, { error: `${method} is not allowed on ${path}; use GET` })
    return { status: 200, contentType: asset.contentType, body: asset.body }
  }
  const segments = path.split('/').filter((s) => s !== '')
  if (consoleMode !== 'off' && segments[0] === 'v1' && isConsolePath(segments.slice(1).map(decodeSegment))) {
    const body = method === 'POST' ? await readJsonBody(request) : undefined
    if (body instanceof Error) return json(body.message.startsWith('the request body is larger') ? 413 : 400, { error: body.message })
    const answer = await handleConsoleApi(backend(), consoleMode, { method, segments: segments.slice(1).map(decodeSegment), query: url.searchParams, body }, sampler)
    return json(answer.status, answer.value)
  }
  const routes = [...ADMIN_ROUTES.keys(), ...(consoleMode === 'off' ? [] : [...CONSOLE_ASSET_PATHS, ...CONSOLE_API_PATHS])]
  return json(404, { error: `no route ${path}`, routes })
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}

/** The body parsed as JSON, or an Error saying why it could not be (too large, not JSON). */
async function readJsonBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let bytes = 0
  for await (const chunk of request as AsyncIterable<Buffer>) {
    bytes += chunk.length
    if (bytes > BODY_BYTES_MAX) return new Error(`the request body is larger than ${BODY_BYTES_MAX} bytes`)
    chunks.push(chunk)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  if (text.trim() === '') return {}
  try {
    return JSON.parse(text) as unknown
  } catch (error) {
    return new Error(`the request body is not JSON: ${error instanceof Error ? error.message : String(error)}`)
  }
}
