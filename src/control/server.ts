/**
 * The control endpoint of a running `corral start`: a Unix socket, mode 0600, in the per-user run
 * directory (run-dir.ts). A socket left by a primary that was killed is detected (nothing answers
 * on it) and replaced, never trusted; a live one means the name is taken. Each client is
 * bounded (control-connection.ts), and at most MAX_CONNECTIONS are served at once.
 */
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { ControlError } from './errors.js';
import { findApps, probe } from './client.js';
import { ControlConnection } from './control-connection.js';
import { CONTROL_PROTOCOL_VERSION, type ControlRequest } from './protocol.js';

/** Control connections open at once; more are refused (CORRAL_ERR_BUSY). */
export const MAX_CONNECTIONS = 32;

export type ControlHandlers = {
  readonly [command in ControlRequest['command']]: (request: ControlRequest) => Promise<unknown>;
};

export class ControlServer {
  readonly path: string;
  readonly #server: net.Server;
  readonly #connections = new Set<ControlConnection>();
  #pending = 0;
  #closed = false;
  #drained: (() => void) | undefined;

  private constructor(path: string, server: net.Server) {
    this.path = path;
    this.#server = server;
  }

  /** Listens on `path`; throws ControlError CORRAL_ERR_APP_RUNNING if a live primary answers there. */
  static async open(path: string, name: string, handlers: ControlHandlers): Promise<ControlServer> {
    // The same name live in another run directory of this user (started from a shell with
    // XDG_RUNTIME_DIR, now from cron without) is the same app for `corral status` and the rest.
    for (const other of findApps()) {
      if (other.name !== name || other.socket === path) continue;
      const live = await probe(other.socket).catch(() => ({ alive: false, pid: undefined }));
      if (live.alive) {
        throw new ControlError('CORRAL_ERR_APP_RUNNING', `an app named '${name}' is already running${live.pid === undefined ? '' : ` (primary pid ${live.pid})`}, ` +
          `with its control socket ${other.socket}. Stop it with 'corral stop ${name}', or start this one under another --name.`);
      }
    }
    if (lstatSync(path, { throwIfNoEntry: false }) !== undefined) {
      // (probe() refuses anything that is not a socket of this user, dangling symlinks included.)
      const live = await probe(path);
      if (live.alive) {
        throw new ControlError('CORRAL_ERR_APP_RUNNING', `an app named '${name}' is already running${live.pid === undefined ? '' : ` (primary pid ${live.pid})`}. ` +
          `Stop it with 'corral stop ${name}', reload it with 'corral reload ${name}', or start this one under another --name.`);
      }
      // Nothing answers: left by a primary that was killed. Replace it.
      unlinkSync(path);
    }
    const server = net.createServer();
    const control = new ControlServer(path, server);
    server.on('connection', (socket) => control.#serve(socket, handlers));
    // Created 0600 from the start (no window in which others could connect), then made sure of.
    const umask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(umask);
    }
    chmodSync(path, 0o600);
    return control;
  }

  /** Stops listening, lets replies still being worked on go out, then closes every connection. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#server.close();
    if (this.#pending > 0) await new Promise<void>((resolve) => { this.#drained = resolve; });
    for (const connection of this.#connections) connection.end();
    try {
      unlinkSync(this.path);
    } catch {
      // Already gone (removed by hand, or replaced by a newer primary's socket after a kill).
    }
  }

  #serve(socket: net.Socket, handlers: ControlHandlers): void {
    socket.on('error', () => socket.destroy());
    // Clients that went away just before this one connected (their end of file is in the same
    // poll of the event loop as this accept, perhaps after it) are counted out first: a client
    // that closes its connections and opens a new one must not be told the socket is busy.
    if (this.#connections.size >= MAX_CONNECTIONS) setImmediate(() => this.#admit(socket, handlers));
    else this.#admit(socket, handlers);
  }

  #admit(socket: net.Socket, handlers: ControlHandlers): void {
    if (socket.destroyed) return;
    if (this.#closed) {
      socket.destroy(); // Admitted after close() ended the others: it would be left open.
      return;
    }
    if (this.#connections.size >= MAX_CONNECTIONS) {
      // Refused at once, so that idle clients can never use up the primary's descriptors (which
      // the app's connections need).
      socket.end(`${JSON.stringify({ v: CONTROL_PROTOCOL_VERSION, id: null, ok: false, error: {
        code: 'CORRAL_ERR_BUSY', message: `The control socket serves at most ${MAX_CONNECTIONS} connections at a time; try again.`,
      } })}\n`);
      return;
    }
    const connection = new ControlConnection(socket, (request) => this.#run(handlers, request));
    this.#connections.add(connection);
    // Out as soon as the client has gone (its end of file with nothing left to send it, or an
    // error), not only at 'close', which comes a phase of the event loop later. One whose replies
    // still wait to be written holds its descriptor until then: it counts until 'close'.
    const out = (): boolean => this.#connections.delete(connection);
    socket.on('end', () => { if (socket.writableLength === 0) out(); }).on('error', out).on('close', out);
  }

  async #run(handlers: ControlHandlers, request: ControlRequest): Promise<unknown> {
    this.#pending += 1;
    try {
      return await handlers[request.command](request);
    } finally {
      this.#pending -= 1;
      if (this.#pending === 0) this.#drained?.();
    }
  }
}
