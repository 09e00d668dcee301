/**
 * The `reuseport` balancer: one SO_REUSEPORT socket per slot, bound by the primary and lent to
 * that slot's worker, so the kernel spreads connections over the workers' own accept() calls with
 * no hop through the primary (nginx's `reuseport`, HAProxy's per-thread listeners).
 *
 * The primary keeps its copy of every socket, and that is what plain `reusePort: true` in the
 * workers lacks: a socket lives as long as any process holds it, so when a worker dies its
 * socket, and the connections queued on it, stay. The slot's replacement is lent the same
 * socket and accepts them. A rolling reload lends it to the new worker while the old one still
 * has it. A socket whose slot has no worker for HOLD_FOR ms (a crash loop, a backoff), or whose
 * slot is retired (scaled down), is emptied by the primary itself: it starts accepting on it and
 * hands each connection to a worker that remains (node:cluster's `newconn`, which Node's worker
 * half delivers to the server it lent the socket to). The kernel keeps sending connections to a
 * socket until it closes, and resets those queued at the close, so the primary closes it only
 * after QUIET_FOR ms without one (at once where net.ipv4.tcp_migrate_req is 1: the kernel then
 * moves the queue to another socket of the group). Until then that socket's share of new
 * connections passes through the primary.
 *
 * Unix sockets and inherited descriptors cannot be spread this way; they are lent as one socket
 * (`shared`). UDP has its own socket per slot too: udp-reuseport-handle.ts.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import {
  acceptOnRawHandle, bindServerHandle, rawSockname, UV_TCP_REUSEPORT, type RawHandle,
} from '../../internal/node-internals.js';
import type { HandoffTarget, ListenHandle, ListenQuery, ListenReply } from '../listen-handle.js';
import { LentSockets, type LentSocket } from './lent-sockets.js';
import { slotOf } from './slot-of.js';

const UV_EADDRINUSE = -os.constants.errno.EADDRINUSE;
/** A socket the primary empties closes after this long without a connection. */
export const QUIET_FOR = 500;
/** As Node's own listen(): a backlog of 0 or none means 511 (a listen(0) would shrink the queue the worker uses too: it is one socket). */
const DEFAULT_BACKLOG = 511;

interface SlotSocket extends LentSocket {
  readonly handle: RawHandle;
}

export class ReuseportHandle implements ListenHandle {
  readonly key: string;
  data: unknown = null;
  readonly #address: string | null;
  readonly #query: ListenQuery;
  /** The port every socket binds: the query's, or the one the first bind of `listen(0)` got. */
  #port: number | null;
  readonly #sockets = new LentSockets<SlotSocket>((socket) => this.#empty(socket));
  readonly #workers = new Map<number, { readonly worker: HandoffTarget; readonly slot: number }>();
  /** Sockets being emptied by the primary, until their close. */
  readonly #emptying = new Set<RawHandle>();
  #nextTarget = 0;

  constructor(key: string, address: string | null, query: ListenQuery) {
    this.key = key;
    this.#address = address;
    this.#query = query;
    this.#port = query.port;
  }

  has(worker: HandoffTarget): boolean {
    return this.#workers.has(worker.id);
  }

  add(worker: HandoffTarget, reply: ListenReply): void {
    const slot = slotOf(worker, [...this.#workers.values()].map((entry) => entry.slot));
    let failed = 0;
    const socket = this.#sockets.lend(slot, worker.id, () => {
      const bound = this.#bind();
      if (typeof bound !== 'number') return { slot, handle: bound, holders: new Set(), holdTimer: undefined };
      failed = bound;
      return undefined;
    });
    if (socket === undefined) {
      reply(failed, null, null);
      return;
    }
    this.#workers.set(worker.id, { worker, slot });
    reply(0, null, socket.handle);
  }

  /**
   * The worker leaves the server (draining, disconnecting or gone). It may still accept on its
   * socket until it closes its server: its socket is held or emptied only on `release`. The
   * slot's socket outlives its worker so already (held for the replacement, then emptied into the
   * workers that remain); with none left, the sockets close, as node:cluster's do: `hold` is not
   * taken, because emptying needs a worker to hand connections to.
   */
  remove(worker: HandoffTarget): boolean {
    if (!this.#workers.delete(worker.id)) return false;
    return this.closeIfVacant();
  }

  closeIfVacant(): boolean {
    if (this.#workers.size > 0) return false;
    // As node:cluster's servers: closed when no worker has it any more.
    this.#closeAll();
    return true;
  }

  /** The worker's process closed its copy of its socket: held for the slot's next worker, then emptied. */
  release(worker: HandoffTarget): void {
    this.#sockets.release(worker.id);
  }

  /** The cluster will not refill `slot`: its socket is emptied once no worker holds it. */
  retireSlot(slot: number): void {
    this.#sockets.retire(slot);
  }

  #bind(): RawHandle | number {
    const { addressType, flags } = this.#query;
    // TCP only: UDP has a handle of its own (udp-reuseport-handle.ts).
    const result = bindServerHandle(this.#address, this.#port, addressType as 4 | 6 | null, undefined, (flags ?? 0) | UV_TCP_REUSEPORT);
    if (typeof result === 'number') return result;
    const port = rawSockname(result)?.['port'];
    if (typeof port !== 'number' || port === 0 || (this.#port !== null && this.#port > 0 && port !== this.#port)) {
      // libuv defers EADDRINUSE from bind() to listen(), leaving the socket unbound (shared-handle.ts).
      result.close();
      return UV_EADDRINUSE;
    }
    this.#port = port;
    return result;
  }

  /**
   * Accepts on a socket no worker has: what is queued and what the kernel still sends it (it does
   * until the socket closes) goes to the workers that remain. The socket closes once no
   * connection came for QUIET_FOR ms; where net.ipv4.tcp_migrate_req is 1 the kernel moves what
   * is queued at the close to another socket of the group, so it closes after the first accept
   * pass instead.
   */
  #empty(socket: SlotSocket): void {
    const { handle } = socket;
    this.#emptying.add(handle);
    const close = (): void => {
      if (!this.#emptying.delete(handle)) return; // Closed with the others meanwhile.
      handle.close();
    };
    const migrates = tcpMigrateReq();
    const quiet = migrates ? undefined : setTimeout(close, QUIET_FOR).unref();
    const status = acceptOnRawHandle(handle, this.#query.backlog || DEFAULT_BACKLOG, (client) => {
      quiet?.refresh();
      this.#dispatch(client, this.#workers.size);
    });
    if (status !== 0) {
      clearTimeout(quiet);
      close();
    } else if (migrates) {
      // Through two check phases, so that an accept pass (a poll phase) runs in between even
      // when this is called from a poll-phase callback (a worker's message).
      setImmediate(() => setImmediate(close));
    }
  }

  /** A connection the primary accepted goes to the next worker; refused or lost, to the one after. */
  #dispatch(client: RawHandle, triesLeft: number): void {
    const targets = [...this.#workers.values()];
    if (targets.length === 0 || triesLeft <= 0) {
      client.close();
      return;
    }
    const { worker } = targets[this.#nextTarget++ % targets.length]!;
    const sent = worker.handoff(this.key, client, (outcome) => {
      if (outcome === 'accepted') client.close(); // The worker holds its own copy now.
      else this.#dispatch(client, triesLeft - 1);
    });
    if (!sent) this.#dispatch(client, triesLeft - 1);
  }

  #closeAll(): void {
    for (const socket of this.#sockets.clear()) socket.handle.close();
    for (const handle of this.#emptying) handle.close();
    this.#emptying.clear();
  }
}

/** net.ipv4.tcp_migrate_req (Linux 5.14+): a closing listener's queue moves to another socket of its group. */
function tcpMigrateReq(): boolean {
  try {
    return readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim() === '1';
  } catch {
    return false;
  }
}
