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
 */
import net from 'node:net';
import {
  connectionHandoff, connectionQueued, connectionReclaimed, connectionRefused,
} from '../../diagnostics.js';
import {
  adoptListeningHandle, rawSockname, UV_TCP_IPV6ONLY, type RawHandle,
} from '../../internal/node-internals.js';
import { Fifo } from '../../util/fifo.js';
import type {
  HandoffOutcome, HandoffTarget, ListenHandle, ListenQuery, ListenReply,
} from '../listen-handle.js';
import { kHandoffsAccepted, kRuntimeReport } from '../../internal/symbols.js';
import type { BalancingStrategy, StrategyFactory, WorkerLoad } from './strategy.js';

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

/** A worker on this server, with the load the strategy sees (one object per worker, reused). */
interface Entry {
  readonly worker: HandoffTarget;
  readonly load: Load;
}

type BindState =
  | { readonly kind: 'binding'; readonly waiters: (() => void)[] }
  | { readonly kind: 'listening'; readonly handle: RawHandle }
  | { readonly kind: 'failed'; readonly errno: number }
  | { readonly kind: 'closed' };

export class Dispatcher implements ListenHandle {
  readonly key: string;
  data: unknown = null;
  readonly #workers = new Map<number, Entry>();
  /** Idle workers (no hand-off in flight) in the order they became idle: the first is the longest idle. */
  readonly #idle = new Map<number, Entry>();
  readonly #strategy: BalancingStrategy;
  readonly #queue = new Fifo<RawHandle>();
  #bind: BindState = { kind: 'binding', waiters: [] };

  /** Stays open (accepting into its queue) when the last worker leaves: an inherited socket. */
  readonly #keepOpen: boolean;

  constructor(key: string, address: string | null, query: ListenQuery, strategy: StrategyFactory, keepOpen = false) {
    this.key = key;
    this.#keepOpen = keepOpen;
    this.#strategy = strategy();
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
    const entry: Entry = { worker, load: new Load(worker) };
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
      this.#handoff(entry); // Connections may already be waiting.
    });
  }

  remove(worker: HandoffTarget): boolean {
    if (!this.#workers.delete(worker.id)) return false;
    this.#idle.delete(worker.id);
    if (this.#workers.size > 0 || this.#keepOpen) return false;
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
    for (const client of this.#queue.drain()) client.close();
    if (bind.kind === 'listening') bind.handle.close();
    if (bind.kind === 'binding') {
      this.#bind = { kind: 'closed' };
      for (const waiter of bind.waiters) waiter();
      return;
    }
    this.#bind = { kind: 'closed' };
  }

  #accept(client: RawHandle): void {
    if (this.#bind.kind !== 'listening') {
      client.close();
      return;
    }
    this.#queue.push(client);
    if (connectionQueued.hasSubscribers) connectionQueued.publish({ key: this.key });
    this.#handoffToIdleWorker();
  }

  /** Puts a connection that already waited (refused or reclaimed) at the front of the queue. */
  #requeue(client: RawHandle): void {
    if (this.#bind.kind !== 'listening') {
      client.close(); // No worker is left to take it; the client sees a reset, not a hang.
      return;
    }
    this.#queue.unshift(client);
    this.#handoffToIdleWorker();
  }

  #handoffToIdleWorker(): void {
    if (this.#idle.size === 0) return;
    const first = this.#idle.values().next().value!;
    // A strategy that answers with something other than a candidate gets the longest-idle worker.
    const chosen = this.#idle.size === 1 ? first : this.#idle.get(this.#strategy.pick([...this.#idle.values()]).worker.id) ?? first;
    this.#idle.delete(chosen.worker.id);
    this.#handoff(chosen);
  }

  #handoff(entry: Entry): void {
    const { worker } = entry;
    if (this.#workers.get(worker.id) !== entry) return; // The worker closed its server or is leaving.
    const client = this.#queue.shift();
    if (client === undefined) {
      this.#idle.set(worker.id, entry);
      return;
    }
    const sent = worker.handoff(this.key, client, (outcome) => this.#settleHandoff(entry, client, outcome));
    if (!sent) {
      // The worker's channel is already closed; its removal is on its way. Keep the connection.
      this.#queue.unshift(client);
      return;
    }
    if (connectionHandoff.hasSubscribers) connectionHandoff.publish({ key: this.key, workerId: worker.id });
  }

  #settleHandoff(entry: Entry, client: RawHandle, outcome: HandoffOutcome): void {
    if (outcome === 'accepted') {
      entry.load.accepted += 1;
      client.close(); // The worker holds its own copy of the socket now.
    } else {
      const channel = outcome === 'refused' ? connectionRefused : connectionReclaimed;
      if (channel.hasSubscribers) channel.publish({ key: this.key, workerId: entry.worker.id });
      this.#requeue(client);
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
