/**
 * The dispatching balancers (`round-robin`, node:cluster's SCHED_RR, the default, and those
 * built on other strategies): the primary listens, accepts each connection itself and hands it to
 * the worker a strategy picks (strategy.ts) among those free to take one.
 *
 * Invariants, as in node:cluster:
 *  - a worker has at most one unacknowledged hand-off; it becomes idle again only when it answers,
 *    so a worker whose event loop is blocked stops receiving connections;
 *  - a refused hand-off (server closing, or at maxConnections) goes to another worker.
 * Beyond node:cluster: a hand-off in flight to a worker whose channel closes is taken back and
 * given to another worker (node:cluster strands it until the client times out, nodejs/node#21746),
 * and a connection that can no longer reach any worker is closed rather than leaked.
 *
 * A strategy that picks among all workers (`candidates: 'all'`, the sticky balancer) gets a queue
 * per worker instead of the shared one: a connection waits for the worker it was given. When that
 * worker leaves, its waiting connections are placed again among those that remain. With a sticky
 * header, each connection's first bytes are read before it is placed (they travel with it).
 */
import net from 'node:net';
import {
  connectionHandoff, connectionQueued, connectionReclaimed, connectionRefused,
} from '../../diagnostics.js';
import {
  adoptListeningHandle, rawPeerAddress, rawSockname, readHead, UV_TCP_IPV6ONLY, type RawHandle,
} from '../../internal/node-internals.js';
import { describeValue } from '../../util/describe-value.js';
import { Fifo } from '../../util/fifo.js';
import { emitWarningOnce } from '../../warnings.js';
import type {
  HandoffOutcome, HandoffTarget, ListenHandle, ListenQuery, ListenReply,
} from '../listen-handle.js';
import { kHandoffsAccepted, kRuntimeReport } from '../../internal/symbols.js';
import { slotOf } from './slot-of.js';
import { headerComplete, headerValues } from './http-head.js';
import { DEFAULT_PROXY_HOPS, FORWARDING_HEADERS, stickyClient } from './forwarded-client.js';
import type {
  BalancingStrategy, Candidate, ConnectionInfo, StrategyFactory, WorkerLoad,
} from './strategy.js';

/** Connections a socket with no worker (held for a replacement) keeps waiting; more are closed. */
export const VACANT_QUEUE_LIMIT = 512;

/** What the dispatcher counts of a worker; its report is read from the worker when asked. */
class Load implements WorkerLoad {
  accepted = 0;
  readonly #worker: HandoffTarget;

  constructor(worker: HandoffTarget) {
    this.#worker = worker;
  }

  get report(): WorkerLoad['report'] {
    return this.#worker[kRuntimeReport];
  }

  get open(): number | undefined {
    const closed = this.#worker[kRuntimeReport]?.handoffs?.closed;
    return closed === undefined ? undefined : Math.max(0, (this.#worker[kHandoffsAccepted] ?? 0) - closed);
  }
}

/** A worker on this server, as the strategy sees it (one object per worker, reused). */
class Entry implements Candidate {
  readonly worker: HandoffTarget;
  readonly slot: number;
  readonly load: Load;
  busy = false;
  /** Connections given to this worker that wait for it (`'all'` strategies only). */
  readonly waiting = new Fifo<Connection>();

  constructor(worker: HandoffTarget, slot: number) {
    this.worker = worker;
    this.slot = slot;
    this.load = new Load(worker);
  }

  get workerId(): number {
    return this.worker.id;
  }
}

/** An accepted connection on its way to a worker; what the strategy may ask of it is read on first use. */
class Connection implements ConnectionInfo {
  readonly client: RawHandle;
  /** The bytes the primary read of it (sticky header), replayed in the worker. */
  head: Buffer | undefined = undefined;
  #header: string | undefined = undefined;
  #address: string | undefined | null = null;

  constructor(client: RawHandle) {
    this.client = client;
  }

  get remoteAddress(): string | undefined {
    if (this.#address === null) this.#address = rawPeerAddress(this.client);
    return this.#address;
  }

  get header(): string | undefined {
    return this.#header;
  }

  set header(value: string | undefined) {
    this.#header = value;
  }
}

type BindState =
  | { readonly kind: 'binding'; readonly waiters: (() => void)[] }
  | { readonly kind: 'listening'; readonly handle: RawHandle }
  | { readonly kind: 'failed'; readonly errno: number }
  | { readonly kind: 'closed' };

export interface DispatcherOptions {
  /** Stays open (accepting into its queue) when the last worker leaves: an inherited socket. */
  readonly keepOpen?: boolean;
  /** Read each connection's first bytes for this HTTP header (lower case) before placing it. */
  readonly stickyHeader?: string | undefined;
  /** How many proxies append to a forwarding sticky header (forwarded-client.ts). @default 1 */
  readonly stickyProxyHops?: number | undefined;
}

/** How long a connection may take to send its request head before it is placed without it. */
const HEAD_TIMEOUT = 5_000;
/** The most bytes of a request head read in the primary (nginx's default large_client_header_buffers is 8 KiB per line). */
const HEAD_LIMIT = 16 * 1024;

export class Dispatcher implements ListenHandle {
  readonly key: string;
  data: unknown = null;
  readonly #workers = new Map<number, Entry>();
  /** Idle workers (no hand-off in flight) in the order they became idle: the first is the longest idle. */
  readonly #idle = new Map<number, Entry>();
  readonly #strategy: BalancingStrategy;
  readonly #choosesAmongAll: boolean;
  /** Connections waiting for any free worker (or, for an `'all'` strategy, for any worker to join). */
  readonly #queue = new Fifo<Connection>();
  #bind: BindState = { kind: 'binding', waiters: [] };
  readonly #keepOpen: boolean;
  readonly #stickyHeader: string | undefined;
  readonly #stickyProxyHops: number;
  /** Connections accepted and waiting for a worker, in the shared queue and in each worker's own. */
  get queued(): number {
    let queued = this.#queue.size;
    for (const entry of this.#workers.values()) queued += entry.waiting.size;
    return queued;
  }

  /** Connections whose head is being read: closed with the server. */
  readonly #reading = new Set<RawHandle>();

  constructor(key: string, address: string | null, query: ListenQuery, strategy: StrategyFactory, options: DispatcherOptions | boolean = {}) {
    this.key = key;
    const settings = typeof options === 'boolean' ? { keepOpen: options } : options;
    this.#keepOpen = settings.keepOpen ?? false;
    this.#stickyHeader = settings.stickyHeader;
    this.#stickyProxyHops = settings.stickyProxyHops ?? DEFAULT_PROXY_HOPS;
    this.#strategy = strategy();
    this.#choosesAmongAll = this.#strategy.candidates === 'all';
    const server = net.createServer();
    server.once('listening', () => {
      const handle = adoptListeningHandle(server, (client) => this.#accept(client));
      this.#settleBind({ kind: 'listening', handle });
    });
    server.once('error', (error: NodeJS.ErrnoException) => {
      this.#settleBind({ kind: 'failed', errno: typeof error.errno === 'number' ? error.errno : -1 });
    });
    server.listen(listenOptions(address, query));
  }

  has(worker: HandoffTarget): boolean {
    return this.#workers.has(worker.id);
  }

  add(worker: HandoffTarget, reply: ListenReply): void {
    const entry = new Entry(worker, slotOf(worker, [...this.#workers.values()].map((other) => other.slot)));
    this.#workers.set(worker.id, entry);
    this.#whenBound(() => {
      const bind = this.#bind;
      if (bind.kind === 'failed') {
        this.#workers.delete(worker.id);
        reply(bind.errno, null, null);
        return;
      }
      const sockname = bind.kind === 'listening' ? rawSockname(bind.handle) : undefined;
      reply(0, sockname ? { sockname } : null, null);
      if (this.#choosesAmongAll) this.#placeAll(this.#queue.drain()); // Waiting for a worker to join.
      this.#handoff(entry); // Connections may already be waiting.
    });
  }

  remove(worker: HandoffTarget, hold = false): boolean {
    const entry = this.#workers.get(worker.id);
    if (entry === undefined) return false;
    this.#workers.delete(worker.id);
    this.#idle.delete(worker.id);
    // Its own waiting connections go to the workers that remain (or wait for the next to join).
    if (entry.waiting.size > 0) this.#placeAll(entry.waiting.drain());
    if (hold) return false;
    return this.closeIfVacant();
  }

  closeIfVacant(): boolean {
    if (this.#workers.size > 0 || this.#keepOpen || this.#bind.kind === 'closed') return false;
    this.#close();
    return true;
  }

  #whenBound(callback: () => void): void {
    if (this.#bind.kind === 'binding') this.#bind.waiters.push(callback);
    else callback();
  }

  #settleBind(state: BindState): void {
    const previous = this.#bind;
    if (previous.kind !== 'binding') {
      // Every worker left while the socket was binding: close what the bind produced.
      if (state.kind === 'listening') state.handle.close();
      return;
    }
    this.#bind = state;
    for (const waiter of previous.waiters) waiter();
  }

  #close(): void {
    const bind = this.#bind;
    for (const connection of this.#queue.drain()) connection.client.close();
    for (const client of this.#reading) client.close();
    this.#reading.clear();
    if (bind.kind === 'listening') bind.handle.close();
    if (bind.kind === 'binding') {
      this.#bind = { kind: 'closed' };
      for (const waiter of bind.waiters) waiter();
      return;
    }
    this.#bind = { kind: 'closed' };
  }

  #accept(client: RawHandle): void {
    // A socket held open for a lost worker's replacement keeps at most VACANT_QUEUE_LIMIT
    // connections waiting (each is a descriptor of the primary's, even after its client gave up).
    if (this.#bind.kind !== 'listening' || (this.#workers.size === 0 && this.queued + this.#reading.size >= VACANT_QUEUE_LIMIT)) {
      client.close();
      return;
    }
    if (connectionQueued.hasSubscribers) connectionQueued.publish({ key: this.key });
    const connection = new Connection(client);
    const name = this.#stickyHeader;
    if (name === undefined) {
      this.#place(connection);
      return;
    }
    this.#reading.add(client);
    readHead(client, HEAD_LIMIT, HEAD_TIMEOUT, headerComplete, (head) => {
      if (!this.#reading.delete(client)) return; // The server closed meanwhile (and closed it).
      if (head === null) return; // The client went away before sending its request.
      connection.head = head;
      // A head cut off at HEAD_LIMIT or HEAD_TIMEOUT may lack the line a proxy appends at its end
      // (a client pads its head to push it out): a forwarding header is read from a whole head only.
      connection.header = FORWARDING_HEADERS.has(name) && !headerComplete(head) ? undefined
        : stickyClient(name, headerValues(head, name), this.#stickyProxyHops);
      this.#place(connection);
    });
  }

  /** Queues a new connection: with the shared queue for a free worker, or with the worker the strategy gives it. */
  #place(connection: Connection): void {
    if (this.#choosesAmongAll) {
      this.#placeWithWorker(connection, false);
      return;
    }
    this.#queue.push(connection);
    this.#handoffToIdleWorker();
  }

  #placeAll(connections: readonly Connection[]): void {
    for (const connection of connections) {
      if (this.#choosesAmongAll) this.#placeWithWorker(connection, true);
      else this.#requeue(connection);
    }
  }

  /** `'all'` strategies: the connection waits for the worker picked among every worker of the server. */
  #placeWithWorker(connection: Connection, waitedAlready: boolean, except?: Entry): void {
    if (this.#bind.kind !== 'listening') {
      connection.client.close();
      return;
    }
    let candidates = [...this.#workers.values()];
    if (except !== undefined && candidates.length > 1) candidates = candidates.filter((entry) => entry !== except);
    if (candidates.length === 0) {
      // No worker yet (or none left while the socket stays open): wait for one to join.
      if (waitedAlready) this.#queue.unshift(connection);
      else this.#queue.push(connection);
      return;
    }
    const entry = this.#pick(candidates, connection);
    if (waitedAlready) entry.waiting.unshift(connection);
    else entry.waiting.push(connection);
    if (!entry.busy) this.#handoff(entry);
  }

  /** Puts a connection that already waited (refused or reclaimed) at the front of the queue. */
  #requeue(connection: Connection, refusedBy?: Entry): void {
    if (this.#bind.kind !== 'listening') {
      connection.client.close(); // No worker is left to take it; the client sees a reset, not a hang.
      return;
    }
    if (this.#choosesAmongAll) {
      this.#placeWithWorker(connection, true, refusedBy);
      return;
    }
    this.#queue.unshift(connection);
    this.#handoffToIdleWorker();
  }

  #handoffToIdleWorker(): void {
    if (this.#idle.size === 0) return;
    const first = this.#idle.values().next().value!;
    // A strategy that answers with something other than a candidate gets the longest-idle worker.
    const chosen = this.#idle.size === 1 ? first : this.#pick([...this.#idle.values()], this.#queue.peek()!);
    this.#idle.delete(chosen.worker.id);
    this.#handoff(chosen);
  }

  /** The strategy's pick; a failed pick (a balancer of one's own that throws or answers something else) takes the first candidate. */
  #pick(candidates: readonly Entry[], connection: Connection): Entry {
    try {
      const picked = this.#strategy.pick(candidates, connection) as Partial<Candidate> | undefined;
      const entry = typeof picked?.workerId === 'number' ? this.#workers.get(picked.workerId) : undefined;
      if (entry !== undefined && candidates.includes(entry)) return entry;
      emitWarningOnce('CORRAL_BALANCER_FAILED', `corral: the balancer's pick() returned ${describeValue(picked)}, not one of its candidates; ` +
        'the connection went to the first candidate. Return an element of the candidates array.');
    } catch (error) {
      emitWarningOnce('CORRAL_BALANCER_FAILED', `corral: the balancer's pick() threw (${error instanceof Error ? error.message : String(error)}); ` +
        'the connection went to the first candidate, and so will any other it fails on.');
    }
    return candidates[0]!;
  }

  #handoff(entry: Entry): void {
    const { worker } = entry;
    if (this.#workers.get(worker.id) !== entry) return; // The worker closed its server or is leaving.
    const connection = this.#choosesAmongAll ? entry.waiting.shift() : this.#queue.shift();
    if (connection === undefined) {
      entry.busy = false;
      this.#idle.set(worker.id, entry);
      return;
    }
    const sent = worker.handoff(this.key, connection.client, (outcome) => this.#settleHandoff(entry, connection, outcome), connection.head);
    if (!sent) {
      // The worker's channel is already closed; its removal is on its way. Keep the connection.
      entry.busy = false;
      if (this.#choosesAmongAll) entry.waiting.unshift(connection);
      else this.#queue.unshift(connection);
      return;
    }
    entry.busy = true;
    this.#idle.delete(worker.id);
    if (connectionHandoff.hasSubscribers) connectionHandoff.publish({ key: this.key, workerId: worker.id });
  }

  #settleHandoff(entry: Entry, connection: Connection, outcome: HandoffOutcome): void {
    entry.busy = false;
    if (outcome === 'accepted') {
      entry.load.accepted += 1;
      connection.client.close(); // The worker holds its own copy of the socket now.
    } else {
      const channel = outcome === 'refused' ? connectionRefused : connectionReclaimed;
      if (channel.hasSubscribers) channel.publish({ key: this.key, workerId: entry.worker.id });
      this.#requeue(connection, outcome === 'refused' ? entry : undefined);
    }
    if (outcome !== 'lost') this.#handoff(entry);
  }
}

function listenOptions(address: string | null, query: ListenQuery): net.ListenOptions {
  const { port, fd, flags, backlog } = query;
  if (fd !== undefined && fd >= 0) return { fd, backlog } as net.ListenOptions;
  if (port !== null && port >= 0) {
    return {
      port,
      host: address ?? undefined,
      ipv6Only: ((flags ?? 0) & UV_TCP_IPV6ONLY) !== 0,
      backlog,
    };
  }
  return {
    path: address ?? undefined,
    backlog,
    readableAll: query.readableAll,
    writableAll: query.writableAll,
  };
}
