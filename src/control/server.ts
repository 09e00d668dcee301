/**
 * The control endpoint of a running `corral start`: a Unix socket, mode 0600, in the per-user run
 * directory (run-dir.ts). A socket left by a primary that was killed is detected (nothing answers
 * on it) and replaced, never trusted; a live one means the name is taken.
 */
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { ControlError } from './errors.js';
import { probe } from './client.js';
import {
  CONTROL_PROTOCOL_VERSION, MAX_REQUEST_BYTES, parseRequest, type ControlReply, type ControlRequest,
} from './protocol.js';

export type ControlHandlers = {
  readonly [command in ControlRequest['command']]: (request: ControlRequest) => Promise<unknown>;
};

export class ControlServer {
  readonly path: string;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  #pending = 0;
  #drained: (() => void) | undefined;

  private constructor(path: string, server: net.Server) {
    this.path = path;
    this.#server = server;
  }

  /** Listens on `path`; throws ControlError CORRAL_ERR_APP_RUNNING if a live primary answers there. */
  static async open(path: string, name: string, handlers: ControlHandlers): Promise<ControlServer> {
    if (existsSync(path)) {
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
    this.#server.close();
    if (this.#pending > 0) await new Promise<void>((resolve) => { this.#drained = resolve; });
    for (const socket of this.#sockets) socket.end();
    try {
      unlinkSync(this.path);
    } catch {
      // Already gone (removed by hand, or replaced by a newer primary's socket after a kill).
    }
  }

  #serve(socket: net.Socket, handlers: ControlHandlers): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setEncoding('utf8');
    let buffered = '';
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_REQUEST_BYTES) {
        this.#reply(socket, { v: CONTROL_PROTOCOL_VERSION, id: null, ok: false,
          error: { code: 'CORRAL_ERR_BAD_REQUEST', message: `A request line may be at most ${MAX_REQUEST_BYTES} bytes.` } });
        socket.end();
        buffered = '';
        return;
      }
      for (let newline = buffered.indexOf('\n'); newline !== -1; newline = buffered.indexOf('\n')) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.trim() !== '') this.#handle(socket, line, handlers);
      }
    });
  }

  #handle(socket: net.Socket, line: string, handlers: ControlHandlers): void {
    const parsed = parseRequest(line);
    if (!parsed.ok) {
      this.#reply(socket, { v: CONTROL_PROTOCOL_VERSION, id: parsed.id, ok: false, error: { code: parsed.code, message: parsed.message } });
      return;
    }
    const { request } = parsed;
    this.#pending += 1;
    handlers[request.command](request).then(
      (result) => this.#reply(socket, { v: CONTROL_PROTOCOL_VERSION, id: request.id, ok: true, result }),
      (error: unknown) => {
        const { code, message } = error as { code?: unknown; message?: unknown };
        this.#reply(socket, { v: CONTROL_PROTOCOL_VERSION, id: request.id, ok: false, error: {
          code: typeof code === 'string' ? code : 'CORRAL_ERR_INTERNAL',
          message: typeof message === 'string' ? message : String(error),
        } });
      },
    ).finally(() => {
      this.#pending -= 1;
      if (this.#pending === 0) this.#drained?.();
    });
  }

  #reply(socket: net.Socket, reply: ControlReply): void {
    if (!socket.destroyed) socket.write(`${JSON.stringify(reply)}\n`);
  }
}
