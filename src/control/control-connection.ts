/**
 * One client of the control socket, with the limits that keep a client from hurting the app: a
 * request line is at most MAX_REQUEST_BYTES bytes (counted in bytes, framed in linear time);
 * requests are answered one at a time, in order, and the connection is not read while a request
 * is being worked on or while its replies are not being read (a client that pipelines thousands
 * of requests and never reads costs one request's memory, not thousands); a connection that sends
 * no complete request for IDLE_TIMEOUT ms is closed, however slowly it trickles bytes.
 */
import type net from 'node:net';
import {
  CONTROL_PROTOCOL_VERSION, MAX_REQUEST_BYTES, parseRequest, type ControlReply, type ControlRequest,
} from './protocol.js';

/** How long a connection may go without a complete request while nothing is being worked on for it. */
export const IDLE_TIMEOUT = 10_000;

const NEWLINE = 0x0a;

export type RequestHandler = (request: ControlRequest) => Promise<unknown>;

export class ControlConnection {
  readonly #socket: net.Socket;
  readonly #handle: RequestHandler;
  /** Bytes of the line being received (kept as chunks: never joined before its newline arrives). */
  #partial: Buffer[] = [];
  #partialBytes = 0;
  /** Complete lines not yet answered. */
  readonly #lines: Buffer[] = [];
  #working = false;
  #ending = false;
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(socket: net.Socket, handle: RequestHandler) {
    this.#socket = socket;
    this.#handle = handle;
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('drain', () => this.#next());
    socket.on('close', () => clearTimeout(this.#idleTimer));
    this.#armIdleTimer();
  }

  /** Ends the connection once its current reply (if any) is out. */
  end(): void {
    this.#lines.length = 0;
    this.#ending = true;
    if (!this.#working) this.#socket.end();
  }

  #receive(chunk: Buffer): void {
    let start = 0;
    for (let newline = chunk.indexOf(NEWLINE); newline !== -1; newline = chunk.indexOf(NEWLINE, start)) {
      if (!this.#take(chunk.subarray(start, newline))) return;
      this.#lines.push(this.#partial.length === 1 ? this.#partial[0]! : Buffer.concat(this.#partial));
      this.#partial = [];
      this.#partialBytes = 0;
      start = newline + 1;
    }
    if (!this.#take(chunk.subarray(start))) return;
    this.#next();
  }

  /** Adds bytes to the current line; false (and the connection refused) if the line grows too long. */
  #take(bytes: Buffer): boolean {
    if (bytes.length === 0) return true;
    this.#partialBytes += bytes.length;
    if (this.#partialBytes > MAX_REQUEST_BYTES) {
      this.#lines.length = 0;
      this.#partial = [];
      this.#write({ v: CONTROL_PROTOCOL_VERSION, id: null, ok: false,
        error: { code: 'CORRAL_ERR_BAD_REQUEST', message: `A request line may be at most ${MAX_REQUEST_BYTES} bytes.` } });
      this.#socket.end();
      this.#socket.pause();
      return false;
    }
    this.#partial.push(bytes);
    return true;
  }

  /** Works on the next line, if nothing else is under way and the client reads its replies. */
  #next(): void {
    if (this.#working || this.#socket.destroyed) return;
    if (this.#socket.writableNeedDrain) {
      this.#socket.pause();
      return;
    }
    const line = this.#lines.shift();
    if (line === undefined) {
      this.#socket.resume();
      return;
    }
    const text = line.toString('utf8');
    if (text.trim() === '') {
      this.#next();
      return;
    }
    this.#socket.pause();
    this.#working = true;
    clearTimeout(this.#idleTimer);
    void this.#answer(text).finally(() => {
      this.#working = false;
      if (this.#ending) {
        this.#socket.end();
        return;
      }
      this.#armIdleTimer();
      this.#next();
    });
  }

  async #answer(line: string): Promise<void> {
    const parsed = parseRequest(line);
    if (!parsed.ok) {
      this.#write({ v: CONTROL_PROTOCOL_VERSION, id: parsed.id, ok: false, error: { code: parsed.code, message: parsed.message } });
      return;
    }
    const { request } = parsed;
    try {
      this.#write({ v: CONTROL_PROTOCOL_VERSION, id: request.id, ok: true, result: await this.#handle(request) });
    } catch (error) {
      const { code, message } = error as { code?: unknown; message?: unknown };
      this.#write({ v: CONTROL_PROTOCOL_VERSION, id: request.id, ok: false, error: {
        code: typeof code === 'string' ? code : 'CORRAL_ERR_INTERNAL',
        message: typeof message === 'string' ? message : String(error),
      } });
    }
  }

  #write(reply: ControlReply): void {
    if (!this.#socket.destroyed && this.#socket.writable) this.#socket.write(`${JSON.stringify(reply)}\n`);
  }

  #armIdleTimer(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => this.#socket.destroy(), IDLE_TIMEOUT);
    this.#idleTimer.unref();
  }
}
