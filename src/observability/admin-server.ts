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
 * It only reads: nothing here changes the cluster. No client can keep the probes from being
 * answered (admin-admission.ts: connections bounded in all and per peer, the idle ones given up
 * first; event streams bounded and ended after STREAM_LIFETIME), a request head must come whole
 * within HEADERS_TIMEOUT, a head too large is answered 414 or 431, and a Host header that names
 * another site is refused (admin-host.ts: DNS rebinding). What it discloses is in the README
 * (Security): the app's name, pids, states, resources and metrics; never stderr, environment or
 * paths, which stay on the control socket.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { AdminListenError } from '../errors.js';
import type { AdminAddress } from '../options/admin-address.js';
import { AdminAdmission, peerOf } from './admin-admission.js';
import { hostAllowed } from './admin-host.js';
import { DASHBOARD_PAGE } from './dashboard-page.js';
import type { DashboardFeed } from './dashboard-feed.js';
import type { Readiness } from '../managed/types.js';
import { CONTENT_TYPES, negotiate, type ExpositionFormat } from './exposition.js';

const PATHS = ['/', '/metrics', '/livez', '/readyz', '/api/status', '/api/events'];
/** A request head must be whole this soon after the connection opened (or the last response). */
export const HEADERS_TIMEOUT = 5_000;
/** A connection with nothing read or written for this long is closed (a client that stopped reading). */
const INACTIVITY_TIMEOUT = 30_000;
/** Dashboards' event streams open at once, in all and from one peer; more are answered 503. */
export const MAX_STREAMS = 16;
export const STREAMS_PER_PEER = 4;
/** An event stream ends after this long; the page's EventSource reconnects at once (`retry`). */
export const STREAM_LIFETIME = 30 * 60_000;

export interface AdminSource {
  metrics(format: ExpositionFormat): Promise<string>;
  readiness(): Readiness;
  readonly feed: DashboardFeed;
}

export class AdminServer {
  readonly url: string;
  readonly admission = new AdminAdmission();
  readonly #server: http.Server;
  readonly #bound: string;
  readonly #streams = new Map<http.ServerResponse, string>();

  private constructor(server: http.Server, url: string, bound: string) {
    this.#server = server;
    this.url = url;
    this.#bound = bound;
  }

  static async open(address: AdminAddress, source: AdminSource): Promise<AdminServer> {
    // Node checks the head and request deadlines every connectionsCheckingInterval (30 s by default).
    const server = http.createServer({ connectionsCheckingInterval: 1_000 });
    server.headersTimeout = HEADERS_TIMEOUT;
    server.requestTimeout = 10_000;
    server.timeout = INACTIVITY_TIMEOUT;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => reject(new AdminListenError(address, error)));
      server.listen({ host: address.host, port: address.port }, () => resolve());
    });
    server.removeAllListeners('error');
    // Never keeps the primary alive by itself.
    server.unref();
    const bound = server.address() as AddressInfo;
    const host = bound.family === 'IPv6' || bound.address.includes(':') ? `[${bound.address}]` : bound.address;
    const admin = new AdminServer(server, `http://${host}:${bound.port}`, bound.address);
    // Each open stream listens to the feed's two events.
    source.feed.setMaxListeners(MAX_STREAMS + 2);
    server.on('connection', (socket: Socket) => admin.admission.admit(socket));
    server.on('request', (request, response) => {
      admin.admission.requestBegan(request.socket);
      response.once('close', () => admin.admission.requestEnded(request.socket));
      admin.#serve(request, response, source);
    });
    server.on('clientError', answerClientError);
    return admin;
  }

  /** Stops listening and ends every open connection, the dashboards' event streams too. */
  async close(): Promise<void> {
    for (const stream of this.#streams.keys()) stream.end();
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
    if (!hostAllowed(request.headers.host, this.#bound)) {
      response.writeHead(403, { 'Content-Type': 'text/plain; charset=utf-8' });
      response.end(`The admin server listens on ${this.#bound} and answers requests addressed to it by IP address, as localhost ` +
        `or by this machine's name, not as ${JSON.stringify(request.headers.host)}: a name pointed at a loopback address ` +
        `is how a web page would read it (DNS rebinding). Use ${this.url}${path}.\n`);
      return;
    }
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

  /**
   * Server-sent events: `backlog` once, then `snapshot` every second and `lifecycle` as they
   * happen, for STREAM_LIFETIME at most; at most MAX_STREAMS at once (STREAMS_PER_PEER from one peer).
   */
  #stream(request: http.IncomingMessage, response: http.ServerResponse, feed: DashboardFeed): void {
    const peer = peerOf(request.socket.remoteAddress);
    const fromPeer = [...this.#streams.values()].filter((other) => other === peer).length;
    if (this.#streams.size >= MAX_STREAMS || fromPeer >= STREAMS_PER_PEER) {
      response.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '30' });
      response.end(`Too many dashboards are open (${this.#streams.size >= MAX_STREAMS ? `${MAX_STREAMS} in all` : `${STREAMS_PER_PEER} from ${peer}`}): ` +
        'close one, or read /api/status or /metrics instead.\n');
      return;
    }
    response.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
    if (request.method === 'HEAD') {
      response.end();
      return;
    }
    // The page's EventSource reconnects this soon after the stream ends (its lifetime, a restart).
    response.write('retry: 1000\n\n');
    const lifetime = setTimeout(() => response.end(), STREAM_LIFETIME).unref();
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
    this.#streams.set(response, peer);
    response.on('close', () => {
      clearTimeout(lifetime);
      feed.off('snapshot', onSnapshot);
      feed.off('lifecycle', onLifecycle);
      this.#streams.delete(response);
    });
  }
}

/**
 * A request Node could not parse: answered with its status, as a client can act on it, rather
 * than dropped. A head over Node's limit (http.maxHeaderSize, 16 KiB) is 414 when its request
 * line alone is that long (the URL is what is too long), 431 otherwise; a head not whole within
 * HEADERS_TIMEOUT is 408.
 */
function answerClientError(error: Error & { code?: string; rawPacket?: Buffer }, socket: Duplex): void {
  if (!socket.writable || error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? (requestLineTooLong(error.rawPacket) ? 414 : 431)
    : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const body = status === 414 ? 'The URL is too long.\n' : status === 431 ? 'The request headers are too large (16 KiB at most).\n'
    : status === 408 ? `The request head did not come within ${HEADERS_TIMEOUT} ms.\n` : 'The request could not be read as HTTP.\n';
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/** Whether the request line of the head Node refused, as far as it was read, is past the head limit by itself. */
function requestLineTooLong(raw: Buffer | undefined): boolean {
  if (raw === undefined) return false;
  const end = raw.indexOf('\r\n');
  return (end === -1 ? raw.length : end) >= http.maxHeaderSize;
}
