/**
 * The `reuseport` balancer for UDP: one SO_REUSEPORT datagram socket per slot, bound by the
 * primary and lent to the slot's worker, so the kernel spreads datagrams over the workers by a
 * hash of their addresses and ports (each client's datagrams reach one worker). The primary
 * keeps its copy: datagrams that arrive while a slot's worker is being replaced wait in its
 * socket's receive buffer for the replacement, which is lent the same socket. A socket whose slot
 * is retired, or has no worker for HOLD_FOR ms, is closed: datagrams cannot be handed to another
 * worker, and the kernel then hashes over the sockets that remain.
 */
import os from 'node:os';
import { bindUdpHandle, rawSockname, UV_UDP_REUSEPORT, type RawHandle } from '../../internal/node-internals.js';
import { kSlot } from '../../internal/symbols.js';
import type { HandoffTarget, ListenHandle, ListenQuery, ListenReply } from '../listen-handle.js';
import { HOLD_FOR } from './reuseport-handle.js';

const UV_EADDRINUSE = -os.constants.errno.EADDRINUSE;

interface SlotSocket {
  readonly slot: number;
  /** Settles once bound: the handle, or a negative errno. */
  readonly bound: Promise<RawHandle | number>;
  readonly holders: Set<number>;
  holdTimer: NodeJS.Timeout | undefined;
}

export class UdpReuseportHandle implements ListenHandle {
  readonly key: string;
  data: unknown = null;
  readonly #address: string | null;
  readonly #query: ListenQuery;
  /** Binds one at a time: the first of `bind(0)` chooses the port the others take. */
  #lastBind: Promise<unknown> = Promise.resolve();
  #port: number | null;
  readonly #sockets = new Map<number, SlotSocket>();
  readonly #workers = new Map<number, number>();
  readonly #retired = new Set<number>();
  #closed = false;

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
    const slot = worker[kSlot] ?? this.#freeSlot();
    this.#retired.delete(slot);
    this.#workers.set(worker.id, slot);
    let socket = this.#sockets.get(slot);
    if (socket === undefined) {
      socket = { slot, bound: this.#bind(), holders: new Set(), holdTimer: undefined };
      this.#sockets.set(slot, socket);
    }
    const chosen = socket;
    clearTimeout(chosen.holdTimer);
    chosen.holders.add(worker.id);
    void chosen.bound.then((result) => {
      if (typeof result === 'number') {
        if (this.#sockets.get(slot) === chosen) this.#sockets.delete(slot);
        this.#workers.delete(worker.id);
        reply(result, null, null);
        return;
      }
      if (this.#closed) {
        reply(UV_EADDRINUSE, null, null);
        return;
      }
      reply(0, null, result);
    });
  }

  remove(worker: HandoffTarget): boolean {
    if (!this.#workers.delete(worker.id)) return false;
    if (this.#workers.size > 0) return false;
    this.#closeAll();
    return true;
  }

  release(worker: HandoffTarget): void {
    for (const socket of this.#sockets.values()) {
      if (!socket.holders.delete(worker.id) || socket.holders.size > 0) continue;
      if (this.#retired.has(socket.slot)) this.#close(socket);
      else socket.holdTimer = setTimeout(() => this.#close(socket), HOLD_FOR).unref();
    }
  }

  retireSlot(slot: number): void {
    const socket = this.#sockets.get(slot);
    if (socket === undefined) return;
    if (socket.holders.size === 0) this.#close(socket);
    else this.#retired.add(slot);
  }

  #freeSlot(): number {
    const taken = new Set(this.#workers.values());
    let slot = 0;
    while (taken.has(slot)) slot += 1;
    return slot;
  }

  #bind(): Promise<RawHandle | number> {
    const bound = this.#lastBind.then(() => new Promise<RawHandle | number>((resolve) => {
      const { addressType, fd, flags } = this.#query;
      bindUdpHandle(this.#address, this.#port, addressType as 'udp4' | 'udp6', fd, (flags ?? 0) | UV_UDP_REUSEPORT, (result) => {
        if (typeof result !== 'number') {
          const port = rawSockname(result)?.['port'];
          if (typeof port === 'number') this.#port = port;
        }
        resolve(result);
      });
    }));
    this.#lastBind = bound;
    return bound;
  }

  #close(socket: SlotSocket): void {
    clearTimeout(socket.holdTimer);
    if (this.#sockets.get(socket.slot) === socket) this.#sockets.delete(socket.slot);
    this.#retired.delete(socket.slot);
    void socket.bound.then((result) => {
      if (typeof result !== 'number') result.close();
    });
  }

  #closeAll(): void {
    this.#closed = true;
    for (const socket of [...this.#sockets.values()]) this.#close(socket);
    this.#retired.clear();
  }
}
