/**
 * The worker runtime's only uses of undocumented Node surfaces:
 *  - the `'internalMessage'` event of `process`, on which Node delivers IPC messages whose `cmd`
 *    starts with `NODE_`. corral's control frames use that prefix so that they never reach the
 *    app's `process.on('message')` listeners (Node's own cluster worker half receives its
 *    `NODE_CLUSTER` frames the same way). Sending is plain `process.send()`; Node's routing of
 *    the `NODE_` prefix is what keeps the frame internal on the primary's side too.
 *  - the IPC pipe's own write methods (`writeUtf8String` for json serialization, `writeBuffer`
 *    for advanced), which `process.send()` calls with the message already serialized: the one
 *    place where its size is known without serializing it a second time (maxMessageSize);
 *  - node:cluster's `newconn` frame on that event (prepended to Node's own listener) and a
 *    socket's `_handle`: how the runtime tells the connections the primary handed over from
 *    those a server accepted itself (least-connections counts the former);
 *  - the `_handle` of process.stdout and stderr when they are pipes, whose `setBlocking(true)`
 *    (libuv's uv_stream_set_blocking) makes writes wait for the reader, as Node itself does for a
 *    terminal on POSIX (tty.WriteStream) and for pipes on Windows.
 *
 * Covered by the worker-runtime and reliability tests on every supported Node line.
 */
import os = require('node:os');
import protocol = require('./runtime-protocol.cjs');

type Frame = Readonly<Record<string, unknown>>;

/** libuv's "message too long": what process.send() reports when a write returns it. */
const UV_EMSGSIZE = -os.constants.errno.EMSGSIZE;

/** The pipe's write methods as process.send() calls them; each returns 0 or a negative errno. */
interface IpcPipe {
  writeUtf8String: (this: IpcPipe, req: unknown, string: string, handle: unknown) => number;
  writeBuffer: (this: IpcPipe, req: unknown, buffer: Uint8Array, handle: unknown) => number;
}

/** Bytes of a UTF-8 string over `limit`, counted only when the string's length cannot settle it. */
function overLimit(string: string, limit: number): number | undefined {
  if (string.length * 3 <= limit) return undefined; // Each UTF-16 unit is at most 3 bytes in UTF-8.
  const bytes = Buffer.byteLength(string, 'utf8');
  return bytes > limit ? bytes : undefined;
}

function isCorralFrame(message: unknown): message is Frame {
  return typeof message === 'object' && message !== null &&
    (message as Frame)['cmd'] === protocol.FRAME_CMD && (message as Frame)['v'] === protocol.VERSION;
}

const internals = {
  /**
   * Calls `listener` with the handle of each connection the primary hands over (node:cluster's
   * `newconn` frame, which corral's primary sends: node-cluster-internals.md §2.9), before Node's
   * worker half makes a socket of it: the listener is prepended, and Node's own runs synchronously
   * after it, so the socket that the 'net.server.socket' diagnostics channel publishes next has
   * this handle as its `_handle`.
   */
  onHandoff(listener: (handle: object, frame: Readonly<Partial<Record<string, unknown>>>) => void): void {
    process.prependListener('internalMessage' as 'message', (message: unknown, handle: unknown) => {
      const frame = message as Partial<Record<string, unknown>> | null;
      if (typeof handle === 'object' && handle !== null && typeof frame === 'object' && frame !== null &&
        frame['cmd'] === 'NODE_CLUSTER' && frame['act'] === 'newconn') listener(handle, frame);
    });
  },

  /** The libuv handle under a socket (undocumented `_handle`): the key that ties it to its handoff. */
  socketHandle(socket: object): unknown {
    return (socket as { _handle?: unknown })._handle;
  },

  /**
   * Makes writes to `stream` (process.stdout or stderr) block while its pipe is full, as they do
   * on a terminal. Node makes a pipe non-blocking (libuv's uv_pipe_open sets O_NONBLOCK on any
   * pipe, socketpair or FIFO it is given) and queues what does not fit in the process's memory,
   * without bound: with a reader that pauses, a fast logger grows by hundreds of MiB. False when
   * the stream is not a pipe or its handle has no setBlocking (another Node): it then stays as Node
   * made it.
   */
  blockWrites(stream: NodeJS.WriteStream): boolean {
    const handle = (stream as unknown as { _type?: unknown; _handle?: { setBlocking?: (blocking: boolean) => number } | null });
    if (handle._type !== 'pipe' || typeof handle._handle?.setBlocking !== 'function') return false;
    return handle._handle.setBlocking(true) === 0;
  },

  /** Calls `listener` for each corral frame of this protocol version the primary sends. */
  onCorralFrame(listener: (frame: Frame) => void): void {
    process.on('internalMessage' as 'message', (message: unknown) => {
      if (isCorralFrame(message)) listener(message);
    });
  },

  /**
   * Sends a frame to the primary; false when there is no channel (the worker runs alone).
   * `onSent` runs once the frame is written (or failed to be).
   */
  sendCorralFrame(frame: protocol.FromWorker, onSent: () => void = () => {}): boolean {
    if (typeof process.send !== 'function' || !process.connected) return false;
    // A failed write means the primary is gone; the worker's own 'disconnect' handling follows.
    return process.send({ cmd: protocol.FRAME_CMD, v: protocol.VERSION, ...frame }, undefined, {}, onSent);
  },

  /**
   * Makes every message this process sends over IPC that serializes to more than `limit` bytes
   * fail before any of it is written: process.send() then reports `write EMSGSIZE` (to its
   * callback, or as an 'error' event), and `onRefused(bytes)` is told first. False where the pipe
   * is not found (no IPC channel, or a Node that keeps it elsewhere): messages are then not limited.
   */
  limitOutgoingMessages(limit: number, onRefused: (bytes: number) => void): boolean {
    const symbol = Object.getOwnPropertySymbols(process).find((candidate) => candidate.description === 'kChannelHandle');
    const pipe = (symbol === undefined ? undefined : (process as unknown as Record<symbol, unknown>)[symbol]) as Partial<IpcPipe> | undefined;
    if (typeof pipe?.writeUtf8String !== 'function' || typeof pipe.writeBuffer !== 'function') return false;
    const { writeUtf8String, writeBuffer } = pipe as IpcPipe;
    // Own properties of this pipe object shadow the native methods for it alone.
    pipe.writeUtf8String = function (req, string, handle) {
      const bytes = overLimit(string, limit);
      if (bytes === undefined) return writeUtf8String.call(this, req, string, handle);
      onRefused(bytes);
      return UV_EMSGSIZE;
    };
    pipe.writeBuffer = function (req, buffer, handle) {
      if (buffer.length <= limit) return writeBuffer.call(this, req, buffer, handle);
      onRefused(buffer.length);
      return UV_EMSGSIZE;
    };
    return true;
  },
};

export = internals;
