/**
 * Draining a worker's servers without dropping a request.
 *
 * Node's `server.close()` stops accepting, but on a keep-alive connection whose response is in
 * flight it still answers `Connection: keep-alive` and then closes the connection, and it closes
 * idle keep-alive connections at once: a client that is sending its next request on one of them
 * at that moment sees a reset (the failed requests seen on PM2 reloads). So while draining:
 *  - every response not yet started, and every request still to come, is marked
 *    `Connection: close`, and Node closes its connection after it;
 *  - the listening socket is closed with net.Server's close(), not http.Server's, so idle
 *    connections are left alone for a moment; those still idle after IDLE_GRACE are closed then
 *    (a client that was about to reuse one has sent its request by then, and gets Connection: close).
 *
 * Servers and in-flight responses are found through Node's diagnostics channels (documented;
 * subscribing changes nothing the app sees). HTTP/1 servers (http, https, express, fastify…) get
 * all of this; other servers stop accepting and their connections are the app's to end.
 */
import dc = require('node:diagnostics_channel');
import net = require('node:net');
import type { IncomingMessage, ServerResponse } from 'node:http';

/** How long a keep-alive connection may stay idle on a draining worker before it is closed. */
const IDLE_GRACE = 500;

interface RequestEvent {
  request: IncomingMessage;
  response: ServerResponse;
  server: net.Server;
}

interface ListenEvent {
  server: net.Server;
}

class ConnectionDrain {
  readonly #servers = new Set<net.Server>();
  /** Servers drain() closed and whose connections have not all ended yet: still counted by connections(). */
  readonly #closing = new Set<net.Server>();
  readonly #inFlight = new Set<ServerResponse>();
  /** Prune finished responses (aborted requests publish no finish) when the set grows past this. */
  #pruneAt = 256;
  #draining = false;
  #finished = 0;
  #idlePassed: Promise<void> = Promise.resolve();
  /** Told whenever a response ends while a drain waits for requestsDone(). */
  #onResponseEnd: (() => void) | undefined;

  constructor() {
    wrapNetServerClose();
    dc.subscribe('tracing:net.server.listen:asyncEnd', (message) => this.#onListen(message as ListenEvent));
    dc.subscribe('http.server.request.start', (message) => this.#onRequest(message as RequestEvent));
    dc.subscribe('http.server.response.finish', (message) => {
      this.#finished += 1;
      this.#inFlight.delete((message as RequestEvent).response);
      this.#onResponseEnd?.();
    });
  }

  /** HTTP responses finished so far. */
  get requests(): number {
    return this.#finished;
  }

  /**
   * Connections open on the servers now (net.Server's own count, nothing per connection): the
   * listening ones, and those a drain closed until their last connection ends, so that a
   * draining worker's reports say what holds it (and what a SIGKILL at its deadline would cut).
   */
  connections(): Promise<number> {
    const servers = [...new Set([...this.#servers, ...this.#closing])].filter((server) => server.listening || this.#closing.has(server));
    return Promise.all(servers.map((server) => new Promise<number>((resolve) => {
      server.getConnections((error, count) => resolve(error === null ? count : 0));
    }))).then((counts) => counts.reduce((sum, count) => sum + count, 0));
  }

  /**
   * Resolves once the drain's idle keep-alive connections have been closed (IDLE_GRACE after it
   * began), or every connection ended: from then on the app itself may close its servers (its
   * stop signal handler's `server.close()` closes idle connections at once, which a client
   * reusing one at that moment would see as a reset).
   */
  get idlePassed(): Promise<void> {
    return this.#idlePassed;
  }

  /**
   * Resolves once no HTTP response is in flight on a draining worker (finished, or its request
   * aborted): the requests the app was serving when its stop came have been answered.
   */
  requestsDone(): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        for (const response of this.#inFlight) if (response.writableFinished || response.destroyed) this.#inFlight.delete(response);
        if (this.#inFlight.size > 0) return;
        this.#onResponseEnd = undefined;
        resolve();
      };
      this.#onResponseEnd = check;
      check();
    });
  }

  /** Stops accepting on every server; resolves once each has closed (its connections ended). */
  drain(): Promise<void> {
    this.#draining = true;
    for (const response of this.#inFlight) this.#closeAfter(response);
    // An aborted request publishes no finish: its response's close says it ended.
    for (const response of this.#inFlight) response.once('close', () => this.#onResponseEnd?.());
    const servers = [...this.#servers].filter((server) => server.listening);
    if (servers.length === 0) return Promise.resolve();
    const closed = servers.map((server) => new Promise<void>((resolve) => {
      this.#closing.add(server);
      net.Server.prototype.close.call(server, () => {
        this.#closing.delete(server);
        resolve();
      });
      closeCallsBackAsOwn(server);
    }));
    let firstPass: () => void = () => {};
    const idlePassed = new Promise<void>((resolve) => { firstPass = resolve; });
    const idleCloser = setInterval(() => {
      for (const server of servers) {
        const closeIdle = (server as Partial<{ closeIdleConnections(): void }>).closeIdleConnections;
        if (typeof closeIdle === 'function') closeIdle.call(server);
      }
      firstPass();
    }, IDLE_GRACE);
    const allClosed = Promise.all(closed).then(() => clearInterval(idleCloser));
    this.#idlePassed = Promise.race([idlePassed, allClosed]);
    return allClosed;
  }

  #onListen({ server }: ListenEvent): void {
    if (this.#servers.size >= this.#pruneAt) {
      for (const known of this.#servers) if (!known.listening) this.#servers.delete(known);
      this.#pruneAt = Math.max(256, this.#servers.size * 2);
    }
    this.#servers.add(server);
  }

  #onRequest({ response }: RequestEvent): void {
    if (this.#draining) {
      this.#closeAfter(response);
      this.#inFlight.add(response);
      response.once('close', () => this.#onResponseEnd?.());
      return;
    }
    this.#inFlight.add(response);
    if (this.#inFlight.size >= this.#pruneAt) {
      for (const known of this.#inFlight) if (known.writableEnded || known.destroyed) this.#inFlight.delete(known);
      this.#pruneAt = Math.max(256, this.#inFlight.size * 2);
    }
  }

  #closeAfter(response: ServerResponse): void {
    if (!response.headersSent) response.shouldKeepAlive = false;
  }
}

/**
 * corral closes the app's servers before the app's own stop code runs (its stop signal handler,
 * an onShutdown hook), and that code often closes them too: `server.close(callback)`. On a server
 * already closed Node calls the callback with ERR_SERVER_NOT_RUNNING, and apps written for a
 * signal that comes first (Kubernetes, PM2, plain Node) take that for a failure: Next.js prints
 * `Error: Server is not running` on every stop, `process.exit(error ? 1 : 0)` makes the stop
 * unclean. So the app's close() of a server corral closed calls back as it would have for the
 * app's own close: once the server has closed (its connections ended), without that error.
 *
 * However the app reaches it (`server.close(cb)`, a close it bound at startup with
 * `promisify(server.close.bind(server))`, http's, https' or its own override calling on): each
 * ends in net.Server's close, looked up when called. That one is wrapped, once, and acts for the
 * servers corral closed only; every other call goes through unchanged.
 */
const closedByCorral = new WeakSet<net.Server>();
let closeWrapped = false;

function closeCallsBackAsOwn(server: net.Server): void {
  closedByCorral.add(server);
}

function wrapNetServerClose(): void {
  if (closeWrapped) return;
  closeWrapped = true;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called with the server as `this` below
  const netClose = net.Server.prototype.close;
  // Named `close`, as the method it stands for.
  const wrapped = function close(this: net.Server, callback?: (error?: Error) => void): net.Server {
    if (typeof callback !== 'function' || !closedByCorral.has(this)) return netClose.call(this, callback);
    return netClose.call(this, (error?: Error) => {
      const code = (error as { code?: unknown } | undefined)?.code;
      callback(code === 'ERR_SERVER_NOT_RUNNING' ? undefined : error);
    });
  };
  Object.defineProperty(net.Server.prototype, 'close', { configurable: true, enumerable: false, writable: true, value: wrapped });
}

export = ConnectionDrain;
