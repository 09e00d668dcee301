/**
 * The primary's table of shared servers, keyed as node:cluster keys them: by
 * `address:port:addressType:fd`, plus the worker's listen index when the port is 0 so that every
 * worker's N-th `listen(0)` shares one port. A worker that closes and listens again on a fixed
 * port rejoins the same socket (nodejs/node#60141).
 */
import path from 'node:path';
import type { BalancerDefinition, BalancerSettings } from './balancers/balancers.js';
import { SharedHandle } from './balancers/shared-handle.js';
import type { RawHandle } from '../internal/node-internals.js';
import type { HandoffTarget, ListenHandle, ListenQuery } from './listen-handle.js';

/** What the worker is told: Node's worker half reads `errno`, `key`, `data` and `sockname`. */
export type QueryAnswer = (
  reply: Readonly<Record<string, unknown>>,
  handle: RawHandle | null,
) => void;

export class ServerRegistry {
  readonly #handles = new Map<string, ListenHandle>();
  readonly #balancer: () => BalancerDefinition;
  readonly #settings: () => BalancerSettings;
  #duplicates = 0;

  /** Descriptors whose servers stay open when their last worker leaves (socket activation). */
  readonly #keepOpen: ReadonlySet<number>;

  constructor(balancer: () => BalancerDefinition, settings: () => BalancerSettings, keepOpen: ReadonlySet<number> = new Set()) {
    this.#balancer = balancer;
    this.#settings = settings;
    this.#keepOpen = keepOpen;
  }

  /** Open listen handles (0 once every worker has left every server). */
  get size(): number {
    return this.#handles.size;
  }

  /** Connections the primary accepted that wait for a worker, over every server. */
  get queued(): number {
    let queued = 0;
    for (const handle of this.#handles.values()) queued += handle.queued ?? 0;
    return queued;
  }

  /** How many servers `worker` holds. */
  countFor(worker: HandoffTarget): number {
    let count = 0;
    for (const handle of this.#handles.values()) if (handle.has(worker)) count += 1;
    return count;
  }

  /** Whether a server for this query exists already (a worker joining it binds nothing new). */
  has(query: ListenQuery): boolean {
    return this.#handles.has(baseKeyOf(query));
  }

  query(worker: HandoffTarget, query: ListenQuery, answer: QueryAnswer): void {
    const baseKey = baseKeyOf(query);
    const cached = this.#handles.get(baseKey);
    let key = baseKey;
    let handle = cached;
    if (handle === undefined || handle.has(worker)) {
      // A worker listening twice on one address gets a second socket, which normally fails with
      // EADDRINUSE. Should the bind succeed, it needs a key of its own: the worker half keeps one
      // server per key.
      if (handle !== undefined) key = `${baseKey}:dup${++this.#duplicates}`;
      handle = this.#create(key, query);
      this.#handles.set(key, handle);
    }
    const chosen = handle;
    chosen.data ??= query.data;
    chosen.add(worker, (errno, reply, sharedHandle) => {
      // A failed bind is forgotten so that another worker's later listen can try again.
      if (errno !== 0 && chosen !== cached && this.#handles.get(key) === chosen) this.#handles.delete(key);
      answer({ errno, key, data: chosen.data, ...reply }, sharedHandle);
    });
  }

  /** The worker closed the server it had under `key` (and so its copy of a lent socket). */
  close(worker: HandoffTarget, key: unknown): void {
    if (typeof key !== 'string') return;
    const handle = this.#handles.get(key);
    handle?.release?.(worker);
    if (handle?.remove(worker) === true) this.#handles.delete(key);
  }

  /** The worker exited: it holds no lent socket any more. */
  releaseWorker(worker: HandoffTarget): void {
    for (const handle of this.#handles.values()) handle.release?.(worker);
  }

  /**
   * The worker is leaving: take it out of every server, closing the sockets it was the last on;
   * with `hold`, those stay open for the replacement a managed cluster is starting.
   */
  removeWorker(worker: HandoffTarget, hold = false): void {
    for (const [key, handle] of this.#handles) {
      if (handle.remove(worker, hold)) this.#handles.delete(key);
    }
  }

  /** Closes the servers held open that no worker joined. */
  closeVacant(): void {
    for (const [key, handle] of this.#handles) {
      if (handle.closeIfVacant()) this.#handles.delete(key);
    }
  }

  /** The cluster will not refill `slot` (scale-down). */
  retireSlot(slot: number): void {
    for (const handle of this.#handles.values()) handle.retireSlot?.(slot);
  }

  #create(key: string, query: ListenQuery): ListenHandle {
    let address = query.address;
    if (query.port !== null && query.port < 0 && typeof address === 'string' && process.platform !== 'win32') {
      // Unix socket paths are limited to ~100 bytes: bind the shorter of the absolute path and the
      // path relative to the primary's working directory.
      const relative = path.relative(process.cwd(), address);
      if (relative.length < address.length) address = relative;
    }
    const isUdp = query.addressType === 'udp4' || query.addressType === 'udp6';
    const keepOpen = query.fd !== undefined && this.#keepOpen.has(query.fd);
    const balancer = this.#balancer();
    if (!isUdp) return balancer.createHandle(key, address, query, keepOpen, this.#settings());
    return balancer.createUdpHandle?.(key, address, query, keepOpen) ?? new SharedHandle(key, address, query, keepOpen);
  }
}

function baseKeyOf(query: ListenQuery): string {
  return `${query.address}:${query.port}:${query.addressType}:${query.fd}` + (query.port === 0 ? `:${query.index}` : '');
}
