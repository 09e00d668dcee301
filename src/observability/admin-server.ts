/**
 * The primary's admin HTTP server (`admin`, `--admin`), on its own port, never the app's:
 *
 *   GET /metrics      Prometheus text format, or OpenMetrics when the Accept header asks for it
 *   GET /             the live dashboard (one self-contained page: no build step, no CDN)
 *   GET /api/status   the cluster now, as JSON (what the dashboard draws)
 *   GET /api/events   server-sent events: the last minutes, then a snapshot a second and each
 *                     lifecycle event as it happens
 *   GET /livez        200 while the primary's event loop answers (a liveness probe)
 *   GET /readyz       200 while every slot has a ready worker and no stop is under way, else
 *                     503 with the reason (a readiness probe; load balancers stop sending)
 *
 * It only reads: nothing here changes the cluster. Clients are bounded, so that a scraper gone
 * wrong cannot take the descriptors the app's connections need.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AdminListenError } from '../errors.js';
import type { AdminAddress } from './admin-address.js';
import { DASHBOARD_PAGE } from './dashboard-page.js';
import type { DashboardFeed } from './dashboard-feed.js';
import type { Readiness } from '../managed/types.js';
import { CONTENT_TYPES, negotiate, type ExpositionFormat } from './exposition.js';

/** Connections the admin server keeps open at once (dashboards and scrapers); more are refused. */
export const MAX_ADMIN_CONNECTIONS = 64;
const PATHS = ['/', '/metrics', '/livez', '/readyz', '/api/status', '/api/events'];

export interface AdminSource {
  metrics(format: ExpositionFormat): Promise<string>;
  readiness(): Readiness;
  readonly feed: DashboardFeed;
}

export class AdminServer {
  readonly url: string;
  readonly #server: http.Server;
  readonly #streams = new Set<http.ServerResponse>();

  private constructor(server: http.Server, url: string) {
    this.#server = server;
    this.url = url;
  }

  static async open(address: AdminAddress, source: AdminSource): Promise<AdminServer> {
    const server = http.createServer();
    server.maxConnections = MAX_ADMIN_CONNECTIONS;
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => reject(new AdminListenError(address, error)));
      server.listen({ host: address.host, port: address.port }, () => resolve());
    });
    server.removeAllListeners('error');
    // Never keeps the primary alive by itself.
    server.unref();
    const bound = server.address() as AddressInfo;
    const host = bound.family === 'IPv6' || bound.address.includes(':') ? `[${bound.address}]` : bound.address;
    const admin = new AdminServer(server, `http://${host}:${bound.port}`);
    server.on('request', (request, response) => admin.#serve(request, response, source));
    server.on('clientError', (_error, socket) => socket.destroy());
    return admin;
  }

  /** Stops listening and ends every open connection, the dashboards' event streams too. */
  async close(): Promise<void> {
    for (const stream of this.#streams) stream.end();
    this.#streams.clear();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  #serve(request: http.IncomingMessage, response: http.ServerResponse, source: AdminSource): void {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    response.setHeader('Cache-Control', 'no-store');
    response.setHeader('X-Content-Type-Options', 'nosniff');
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
      response.end('The admin server only reads: use GET.\n');
      return;
    }
    if (path === '/metrics') {
      const format = negotiate(request.headers.accept);
      source.metrics(format).then((text) => {
        response.writeHead(200, { 'Content-Type': CONTENT_TYPES[format] });
        response.end(request.method === 'HEAD' ? undefined : text);
      }, (error: unknown) => {
        response.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        response.end(`The metrics could not be gathered: ${error instanceof Error ? error.message : String(error)}\n`);
      });
      return;
    }
    if (path === '/' || path === '/index.html') {
      response.writeHead(200, {
        'Content-Type': 'text/html; charset=utf-8',
        // The page is corral's own, inline: nothing else may run or load in it.
        'Content-Security-Policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
      });
      response.end(request.method === 'HEAD' ? undefined : DASHBOARD_PAGE);
      return;
    }
    if (path === '/livez') {
      // Answering at all is the proof: a primary whose loop is blocked answers nothing, and the
      // probe's own timeout fails it.
      this.#json(request, response, 200, { live: true, pid: process.pid, uptime: Math.round(process.uptime() * 1000) });
      return;
    }
    if (path === '/readyz') {
      const readiness = source.readiness();
      this.#json(request, response, readiness.ready ? 200 : 503, readiness);
      return;
    }
    if (path === '/api/status') {
      response.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' });
      response.end(request.method === 'HEAD' ? undefined : JSON.stringify(source.feed.view()));
      return;
    }
    if (path === '/api/events') {
      this.#stream(request, response, source.feed);
      return;
    }
    response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    response.end(`No such page: ${path}. The admin server serves ${PATHS.join(', ')}.\n`);
  }

  #json(request: http.IncomingMessage, response: http.ServerResponse, status: number, body: unknown): void {
    response.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
    response.end(request.method === 'HEAD' ? undefined : `${JSON.stringify(body)}\n`);
  }

  /** Server-sent events: `backlog` once, then `snapshot` every second and `lifecycle` as they happen. */
  #stream(request: http.IncomingMessage, response: http.ServerResponse, feed: DashboardFeed): void {
    response.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
    if (request.method === 'HEAD') {
      response.end();
      return;
    }
    const send = (event: string, data: unknown): void => {
      // A client that reads slower than a snapshot a second is dropped rather than buffered for.
      if (response.writableLength > 1024 * 1024) {
        response.destroy();
        return;
      }
      response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    send('backlog', { ...feed.backlog, now: feed.view() });
    const onSnapshot = (view: unknown): void => send('snapshot', view);
    const onLifecycle = (event: unknown): void => send('lifecycle', event);
    feed.on('snapshot', onSnapshot);
    feed.on('lifecycle', onLifecycle);
    this.#streams.add(response);
    response.on('close', () => {
      feed.off('snapshot', onSnapshot);
      feed.off('lifecycle', onLifecycle);
      this.#streams.delete(response);
    });
  }
}
