/**
 * The only module in corral that touches surfaces Node does not document.
 *
 * Why they are needed: corral's workers run Node's own worker half of `node:cluster`
 * (lib/internal/cluster/child.js), so `listen()` in a worker is intercepted by Node itself and
 * `require('node:cluster').isWorker` stays true. That worker half talks to its primary in
 * `{cmd: 'NODE_CLUSTER'}` frames, which Node routes to the undocumented `'internalMessage'` event
 * (never to user `'message'` listeners), and it expects raw libuv handles (TCPWrap, PipeWrap,
 * UDPWrap) rather than `net.Socket` objects. To be that worker half's primary we must:
 *
 *  1. receive `'internalMessage'` frames and send `NODE_CLUSTER` frames, with raw handles attached;
 *  2. bind a listening socket without listening (`net._createServerHandle`,
 *     `dgram._createSocketHandle`, or on Node 26, where that is gone, a public bind whose raw
 *     handle is taken from dgram's private state) for the shared balancer, as Node's
 *     SharedHandle does;
 *  3. take the raw listening handle out of a `net.Server` (`server._handle`) and receive raw client
 *     handles from its `onconnection` hook, as Node's RoundRobinHandle does (and from a bound
 *     SO_REUSEPORT handle's, to empty the queue of a socket the reuseport balancer retires);
 *  4. wrap the CommonJS loader's `Module._load`, which every `require()` goes through (APM
 *     tools such as require-in-the-middle hook the same place). Node has no documented way to
 *     make `require('cluster')` return another object (so that libraries which take node:cluster
 *     themselves see corral's primary);
 *  5. list the descriptors the primary's active libuv handles use (`process._getActiveHandles()`),
 *     so that a worker's `listen({ fd })` can never make the primary wrap, and later close, a
 *     descriptor it relies on. Node has no documented way to ask which descriptors are in use;
 *  6. read a queued connection's peer address (`getpeername` on the raw handle) and its first
 *     bytes (a `net.Socket` wrapped around the raw handle only to read, then detached from it) for
 *     the sticky balancer, which must know the client before it picks a worker. Node reads from
 *     a handle only through `net.Socket`.
 *
 * Every use is wrapped here, typed narrowly, and covered by tests on each supported Node line.
 */
import { ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import Module from 'node:module';
import net from 'node:net';
import os from 'node:os';

/** The `cmd` of every frame Node's cluster worker half sends or accepts. */
export const CLUSTER_FRAME_CMD = 'NODE_CLUSTER';

/** libuv's `UV_TCP_IPV6ONLY` flag (uv.h); Node passes it in `flags` of a queryServer frame. */
export const UV_TCP_IPV6ONLY = 1;

/**
 * libuv's `UV_TCP_REUSEPORT` flag (uv.h, libuv 1.49): `_createServerHandle` passes `flags` to
 * the bind, which sets SO_REUSEPORT with it on Node 22.12+ and 23.1+ (where `net` has
 * `reusePort`). Older lines ignore it for IPv4, and their second socket's listen() fails.
 */
export const UV_TCP_REUSEPORT = 2;

/** A raw libuv handle (TCPWrap, PipeWrap or UDPWrap). Only the members corral uses. */
export interface RawHandle {
  close(callback?: () => void): void;
  getsockname?(out: Record<string, unknown>): number;
  getpeername?(out: Record<string, unknown>): number;
  readStop?(): number;
}

/** A raw listening handle whose accepted connections arrive through `onconnection`. */
interface RawListenHandle extends RawHandle {
  onconnection: ((status: number, client?: RawHandle) => void) | null;
}

export type ClusterFrame = Readonly<Record<string, unknown>>;

/**
 * Calls `listener` for each message on a worker's internal channel whose `cmd` is `cmd`: corral's
 * own worker runtime talks to the primary there too (`NODE_CORRAL`, src/worker/runtime-protocol.cts), so
 * that its frames never reach user `'message'` listeners.
 */
export function onInternalFrame(
  child: ChildProcess,
  cmd: string,
  listener: (frame: ClusterFrame) => void,
): void {
  child.on('internalMessage', (message: unknown) => {
    if (typeof message === 'object' && message !== null && (message as ClusterFrame)['cmd'] === cmd) {
      listener(message as ClusterFrame);
    }
  });
}

/** Calls `listener` for each `NODE_CLUSTER` frame a worker sends; other internal traffic is ignored. */
export function onClusterFrame(
  child: ChildProcess,
  listener: (frame: ClusterFrame, handle: RawHandle | undefined) => void,
): void {
  child.on('internalMessage', (message: unknown, handle?: RawHandle) => {
    if (typeof message === 'object' && message !== null &&
        (message as ClusterFrame)['cmd'] === CLUSTER_FRAME_CMD) {
      listener(message as ClusterFrame, handle);
    }
  });
}

/**
 * Sends a `NODE_CLUSTER` frame, with an optional raw handle. The callback receives a send error
 * instead of letting it surface as the child's `'error'` event (a user's worker may have no
 * `'error'` listener, and a dying worker is not the primary's error).
 */
export function sendClusterFrame(
  child: ChildProcess,
  frame: Record<string, unknown>,
  seq: number,
  handle: RawHandle | null,
  callback: (error: Error | null) => void,
): boolean {
  const message = { cmd: CLUSTER_FRAME_CMD, ...frame, seq };
  // child.send() accepts raw TCP/Pipe/UDP wraps (sent as 'net.Native'/'dgram.Native'); its
  // public typing only lists net and dgram objects.
  return child.send(message, (handle ?? undefined) as net.Socket | undefined, {}, callback);
}

/** Binds (without listening) a TCP or pipe socket, or returns a negative errno. */
export function bindServerHandle(
  address: string | null,
  port: number | null,
  addressType: number | null,
  fd: number | undefined,
  flags: number | undefined,
): RawHandle | number {
  const internalNet = net as unknown as {
    _createServerHandle(
      address: string | null, port: number | null, addressType: number | null,
      fd: number | undefined, flags: number | undefined,
    ): RawHandle | number;
  };
  return remembered(internalNet._createServerHandle(address, port, addressType, fd, flags));
}

const UV_EINVAL_ERRNO = -os.constants.errno.EINVAL;

// libuv's UDP bind flags (uv.h), as Node's worker half puts them in a queryServer frame
// (udp_wrap's constants on Node 24: UV_UDP_IPV6ONLY 1, UV_UDP_REUSEADDR 4, UV_UDP_REUSEPORT 64).
const UV_UDP_IPV6ONLY = 1;
const UV_UDP_REUSEADDR = 4;
/** SO_REUSEPORT for a UDP bind: Node 22.12+ and 23.1+ pass it through (dgram's `reusePort`). */
export const UV_UDP_REUSEPORT = 64;

/**
 * Binds a UDP socket without receiving on it, and calls back with its raw handle or a negative
 * errno. Synchronously on Node 25 and older, through `dgram._createSocketHandle` as Node's own
 * SharedHandle does. Node 26 removed that function (DEP0112); there the socket is bound through
 * the public API, its receiving stopped before any datagram can be read (in the same tick), and
 * its raw handle taken from the socket's private state, which has no public accessor either.
 */
export function bindUdpHandle(
  address: string | null,
  port: number | null,
  addressType: 'udp4' | 'udp6',
  fd: number | undefined,
  flags: number | undefined,
  callback: (result: RawHandle | number) => void,
): void {
  const internalDgram = dgram as unknown as {
    _createSocketHandle?(
      address: string | null, port: number | null, addressType: string,
      fd: number | undefined, flags: number | undefined,
    ): RawHandle | number;
  };
  if (typeof internalDgram._createSocketHandle === 'function') {
    // The public alias warns (DEP0112) on first use; the warning would name corral's internals,
    // not anything the user did. Node's own SharedHandle calls the same function without it.
    const noDeprecation = process.noDeprecation;
    process.noDeprecation = true;
    try {
      callback(remembered(internalDgram._createSocketHandle(address, port, addressType, fd, flags)));
    } finally {
      process.noDeprecation = noDeprecation;
    }
    return;
  }
  const bits = flags ?? 0;
  const socket = dgram.createSocket({
    type: addressType,
    reuseAddr: (bits & UV_UDP_REUSEADDR) !== 0,
    ipv6Only: (bits & UV_UDP_IPV6ONLY) !== 0,
    ...((bits & UV_UDP_REUSEPORT) !== 0 ? { reusePort: true } : {}),
  });
  socket.once('error', (error: NodeJS.ErrnoException) => {
    socket.close();
    callback(typeof error.errno === 'number' ? error.errno : -1);
  });
  // With a descriptor, dgram takes the socket as it is: no port or address goes with it.
  const bindOptions = fd !== undefined && fd >= 0 ? { fd } : { port: port ?? 0, ...(address === null ? {} : { address }) };
  socket.bind(bindOptions, () => {
    const state = udpSocketState(socket);
    const handle = state?.handle;
    if (state === undefined || handle === null || handle === undefined) {
      // A Node whose dgram keeps its handle elsewhere: refuse this bind rather than throw
      // inside an event callback of the primary.
      socket.close();
      callback(UV_EINVAL_ERRNO);
      return;
    }
    handle.recvStop();
    handle.onmessage = null;
    // Detach: the socket object is dropped, and only the raw handle lives on (closed by corral).
    state.handle = null;
    socket.removeAllListeners();
    callback(remembered(handle));
  });
}

interface UdpSocketState {
  handle: (RawHandle & { recvStop(): number; onmessage: unknown }) | null | undefined;
}

/** dgram keeps its handle under a private symbol (`kStateSymbol`, described 'state symbol'). */
function udpSocketState(socket: dgram.Socket): UdpSocketState | undefined {
  const symbol = Object.getOwnPropertySymbols(socket).find((candidate) => candidate.description === 'state symbol');
  return symbol === undefined ? undefined : (socket as unknown as Record<symbol, UdpSocketState>)[symbol];
}

/**
 * Takes the raw listening handle out of a listening `net.Server` and routes accepted client
 * handles to `onConnection`. The server object is detached from the handle, so no `net.Socket` is
 * ever created in the primary (Node's RoundRobinHandle does the same).
 */
export function adoptListeningHandle(
  server: net.Server,
  onConnection: (client: RawHandle) => void,
): RawHandle {
  const internalServer = server as unknown as { _handle: RawListenHandle | null };
  const handle = internalServer._handle;
  if (handle === null) {
    throw new Error('adoptListeningHandle() needs a listening server');
  }
  handle.onconnection = (status, client) => {
    // A failed accept() (status < 0) has no client handle; there is nothing to hand off.
    // Remembered until closed: a queued connection's descriptor is not a worker's to borrow.
    if (status === 0 && client !== undefined) onConnection(remembered(client));
  };
  internalServer._handle = null;
  return remembered(handle);
}

/**
 * Starts accepting on a bound raw TCP handle in the primary (the reuseport balancer, emptying
 * the queue of a socket whose worker is gone), each connection to `onConnection`. Returns 0 or
 * a negative errno. There is no way back short of closing the handle: libuv cannot stop
 * watching a listening socket.
 */
export function acceptOnRawHandle(handle: RawHandle, backlog: number, onConnection: (client: RawHandle) => void): number {
  const listening = handle as RawListenHandle & { listen(backlog: number): number };
  listening.onconnection = (status, client) => {
    if (status === 0 && client !== undefined) onConnection(remembered(client));
  };
  return listening.listen(backlog);
}

/** The bound address of a raw TCP handle (`undefined` for pipes, which have no sockname). */
export function rawSockname(handle: RawHandle): Record<string, unknown> | undefined {
  if (typeof handle.getsockname !== 'function') return undefined;
  const out: Record<string, unknown> = {};
  handle.getsockname(out);
  return out;
}

/** A connection's peer IP address (`undefined` for pipes, or a socket already reset). */
export function rawPeerAddress(handle: RawHandle): string | undefined {
  if (typeof handle.getpeername !== 'function') return undefined;
  const out: Record<string, unknown> = {};
  if (handle.getpeername(out) !== 0) return undefined;
  return typeof out['address'] === 'string' ? out['address'] : undefined;
}

/**
 * Reads a queued connection's first bytes in the primary and stops, leaving whatever follows in
 * the kernel for the worker that gets the connection (the bytes read travel with it and are
 * replayed there: src/worker/replay-head.cts). Stops when `isComplete(bytes)` says so, at
 * `limit` bytes, at the client's end of stream, or after `timeout` ms, then calls `done(head)`;
 * `done(null)` when the connection failed (it is closed then). Reading needs a `net.Socket`;
 * it is detached from the handle before `done`, so the handle stays the dispatcher's to pass on
 * or close.
 */
export function readHead(
  client: RawHandle,
  limit: number,
  timeout: number,
  isComplete: (head: Buffer) => boolean,
  done: (head: Buffer | null) => void,
): void {
  // allowHalfOpen: a client that half-closes after its request must not be answered with our FIN.
  const socket = new net.Socket({ handle: client, allowHalfOpen: true } as net.SocketConstructorOpts);
  const chunks: Buffer[] = [];
  let length = 0;
  let settled = false;
  const finish = (head: Buffer | null): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    socket.removeAllListeners();
    if (head === null) {
      socket.destroy(); // Closes the handle.
    } else {
      client.readStop?.();
      // Detach: the socket must never close, shut down or read from the handle it was lent.
      (socket as unknown as { _handle: RawHandle | null })._handle = null;
      socket.on('error', () => {}); // A detached socket has nothing left to fail; never throw.
    }
    done(head);
  };
  const timer = setTimeout(() => finish(Buffer.concat(chunks, length)), timeout);
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    length += chunk.length;
    const head = Buffer.concat(chunks, length);
    if (length >= limit || isComplete(head)) finish(head);
  });
  socket.on('end', () => finish(Buffer.concat(chunks, length)));
  socket.on('error', () => finish(null));
  socket.on('close', () => finish(null));
}

/**
 * Makes `require(id)` return `replacement` for each id in `ids` (anywhere in the process, from
 * now on), unless `exempt(parentFilename)` says the requiring file must see the original. Returns
 * a function that turns the redirection off again (the wrapper then passes everything through,
 * so other tools that wrapped `Module._load` after corral keep working).
 */
export function redirectRequire(
  ids: ReadonlySet<string>,
  replacement: unknown,
  exempt: (parentFilename: string | undefined) => boolean,
): () => void {
  const loader = Module as unknown as {
    _load: (this: unknown, request: string, parent: { filename?: string } | null | undefined, isMain: boolean) => unknown;
  };
  const original = loader._load;
  let active = true;
  loader._load = function load(this: unknown, request, parent, isMain) {
    if (active && ids.has(request) && !exempt(parent?.filename)) return replacement;
    return original.call(this, request, parent, isMain);
  };
  return () => {
    active = false;
  };
}

/** The sockets corral's balancers hold: listen sockets and queued connections (closed ones report fd -1 and are dropped). */
const listenHandles = new Set<RawHandle>();

/** Records a socket of corral's (not an errno), so that no worker can borrow its descriptor. */
function remembered<T extends RawHandle | number>(handle: T): T {
  if (typeof handle === 'number') return handle;
  // Every accepted connection passes through here: drop the closed ones as the set grows, so
  // it stays small however many connections come and go.
  if (listenHandles.size >= pruneAt) pruneClosed();
  listenHandles.add(handle);
  return handle;
}

/** The set's size that triggers the next pruning: doubled past what stays open (amortized O(1)). */
let pruneAt = 1024;

function pruneClosed(): void {
  for (const handle of listenHandles) {
    if (fdOf(handle) === undefined) listenHandles.delete(handle);
  }
  pruneAt = Math.max(1024, 2 * listenHandles.size);
}

/**
 * Descriptors the primary uses: its servers' and connections' sockets (net and dgram), its IPC
 * channels to workers and to its own parent, and corral's listen sockets. A raw handle that no
 * such object owns (a socket the primary's code bound for its workers, as Node's
 * test-cluster-dgram-bind-fd does) is not counted: lending those is what `listen({ fd })` is for.
 */
export function descriptorsInUse(): Set<number> {
  const fds = new Set<number>();
  const add = (fd: number | undefined): void => {
    if (fd !== undefined) fds.add(fd);
  };
  const getActiveHandles = (process as unknown as { _getActiveHandles?: () => unknown[] })._getActiveHandles;
  for (const owner of getActiveHandles?.call(process) ?? []) add(descriptorOf(owner));
  add(fdOf(process.channel));
  pruneClosed();
  for (const handle of listenHandles) add(fdOf(handle));
  return fds;
}

function descriptorOf(owner: unknown): number | undefined {
  // dgram's `_handle` accessor is deprecated (DEP0112), and gone in Node 26.
  if (owner instanceof dgram.Socket) return fdOf(udpSocketState(owner)?.handle);
  if (owner instanceof ChildProcess) return fdOf(owner.channel);
  if (owner instanceof net.Socket || owner instanceof net.Server) return fdOf((owner as unknown as { _handle?: unknown })._handle);
  return undefined;
}

function fdOf(handle: unknown): number | undefined {
  const fd = (handle as { fd?: unknown } | null | undefined)?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

