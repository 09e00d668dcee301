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

export class SharedHandle implements ListenHandle {
  readonly key: string;
  data: unknown = null;
  readonly #workers = new Set<number>();
  #handle: RawHandle | null = null;
  readonly #errno: number = 0;

  constructor(key: string, address: string | null, query: ListenQuery) {
    this.key = key;
    const { port, addressType, fd, flags } = query;
    const result = addressType === 'udp4' || addressType === 'udp6'
      ? bindUdpHandle(address, port, addressType, fd, flags)
      : bindServerHandle(address, port, addressType, fd, flags);
    if (typeof result === 'number') {
      this.#errno = result;
    } else if (port > 0 && addressType !== 'udp4' && addressType !== 'udp6' && rawSockname(result)?.['port'] !== port) {
      // libuv defers EADDRINUSE from bind() to listen(), leaving the socket unbound. The worker
      // would notice (its port differs) but never close the socket; answer the error here.
      result.close();
      this.#errno = UV_EADDRINUSE;
    } else {
      this.#handle = result;
    }
  }

  has(worker: HandoffTarget): boolean {
    return this.#workers.has(worker.id);
  }

  add(worker: HandoffTarget, reply: ListenReply): void {
    if (this.#errno === 0) this.#workers.add(worker.id);
    reply(this.#errno, null, this.#handle);
  }

  remove(worker: HandoffTarget): boolean {
    if (!this.#workers.delete(worker.id) || this.#workers.size > 0) return false;
    this.#handle?.close();
    this.#handle = null;
    return true;
  }
}
