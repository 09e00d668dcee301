/**
 * The `shared` balancer (node:cluster's SCHED_NONE, and every UDP socket): the primary binds once
 * and sends the bound socket to every worker, whose own accept() calls the kernel balances.
 */
import os from 'node:os';
import {
  bindServerHandle, bindUdpHandle, rawSockname, type RawHandle,
} from '../../internal/node-internals.js';
import type { HandoffTarget, ListenHandle, ListenQuery, ListenReply } from '../listen-handle.js';

const UV_EADDRINUSE = -os.constants.errno.EADDRINUSE;

type BindState =
  | { readonly kind: 'binding'; readonly waiters: (() => void)[] }
  | { readonly kind: 'bound'; readonly handle: RawHandle }
  | { readonly kind: 'failed'; readonly errno: number }
  | { readonly kind: 'closed' };

export class SharedHandle implements ListenHandle {
  readonly key: string;
  data: unknown = null;
  readonly #workers = new Set<number>();
  #bind: BindState = { kind: 'binding', waiters: [] };
  /** Every worker left while the socket was still binding: close it once bound. */
  #abandoned = false;

  /** Stays open when the last worker leaves: an inherited socket (socket activation). */
  readonly #keepOpen: boolean;

  constructor(key: string, address: string | null, query: ListenQuery, keepOpen = false) {
    this.key = key;
    this.#keepOpen = keepOpen;
    const { port, addressType, fd, flags } = query;
    if (addressType === 'udp4' || addressType === 'udp6') {
      // Synchronous on most Node lines; Node 26 binds UDP asynchronously (node-internals.ts).
      bindUdpHandle(address, port, addressType, fd, flags, (result) => this.#settle(result));
      return;
    }
    const result = bindServerHandle(address, port, addressType, fd, flags);
    if (typeof result !== 'number' && port !== null && port > 0 && rawSockname(result)?.['port'] !== port) {
      // libuv defers EADDRINUSE from bind() to listen(), leaving the socket unbound. The worker
      // would notice (its port differs) but never close the socket; answer the error here.
      result.close();
      this.#settle(UV_EADDRINUSE);
      return;
    }
    this.#settle(result);
  }

  has(worker: HandoffTarget): boolean {
    return this.#workers.has(worker.id);
  }

  add(worker: HandoffTarget, reply: ListenReply): void {
    this.#workers.add(worker.id);
    const answer = (): void => {
      const bind = this.#bind;
      if (bind.kind === 'bound') {
        reply(0, null, bind.handle);
        return;
      }
      this.#workers.delete(worker.id);
      reply(bind.kind === 'failed' ? bind.errno : UV_EADDRINUSE, null, null);
    };
    if (this.#bind.kind === 'binding') this.#bind.waiters.push(answer);
    else answer();
  }

  remove(worker: HandoffTarget, hold = false): boolean {
    if (!this.#workers.delete(worker.id) || hold) return false;
    return this.closeIfVacant();
  }

  closeIfVacant(): boolean {
    if (this.#workers.size > 0 || this.#keepOpen || this.#bind.kind === 'closed' || this.#abandoned) return false;
    if (this.#bind.kind === 'binding') {
      this.#abandoned = true; // #settle closes it.
    } else {
      if (this.#bind.kind === 'bound') this.#bind.handle.close();
      this.#bind = { kind: 'closed' };
    }
    return true;
  }

  #settle(result: RawHandle | number): void {
    const previous = this.#bind;
    if (typeof result === 'number') {
      this.#bind = { kind: 'failed', errno: result };
    } else if (this.#abandoned) {
      result.close();
      this.#bind = { kind: 'closed' };
    } else {
      this.#bind = { kind: 'bound', handle: result };
    }
    if (previous.kind === 'binding') for (const waiter of previous.waiters) waiter();
  }
}
