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

export interface AdminServerOptions {
  source: AdminSource
  host: string
  /** 0 picks a free port. */
  port: number
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
  const server = createServer((request, response) => {
    void serve(request, response, options.source, scrape)
  })
  // Keep-alive sockets from a scraper must not hold close() open.
  server.keepAliveTimeout = 5_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  const hostForUrl = options.host.includes(':') ? `[${options.host}]` : options.host
  let closing: Promise<void> | null = null
  return {
    host: options.host,
    port,
    url: `http://${hostForUrl}:${port}`,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      return closing
    },
  }
}

async function serve(request: IncomingMessage, response: ServerResponse, source: AdminSource, scrape: () => Promise<ClusterSnapshot>): Promise<void> {
  const path = new URL(request.url ?? '/', 'http://admin').pathname
  const route = ADMIN_ROUTES.get(path)
  let answer: AdminResponse
  if (route === undefined) answer = json(404, { error: `no route ${path}`, routes: [...ADMIN_ROUTES.keys()] })
  else if (request.method !== 'GET' && request.method !== 'HEAD') answer = json(405, { error: `${request.method ?? '?'} is not allowed on ${path}; use GET` })
  else {
    try {
      answer = await route(source, scrape)
    } catch (error) {
      answer = json(500, { error: error instanceof Error ? error.message : String(error) })
    }
  }
  response.writeHead(answer.status, { 'content-type': answer.contentType, 'content-length': Buffer.byteLength(answer.body) })
  response.end(request.method === 'HEAD' ? undefined : answer.body)
}
