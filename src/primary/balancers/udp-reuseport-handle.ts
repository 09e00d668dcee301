/**
 * The `reuseport` balancer for UDP: one SO_REUSEPORT datagram socket per slot, bound by the
 * primary and lent to the slot's worker, so the kernel spreads datagrams over the workers by a
 * hash of their addresses and ports (each client's datagrams reach one worker). The primary
 * keeps its copy: datagrams that arrive while a slot's worker is being replaced wait in its
 * socket's receive buffer for the replacement, which is lent the same socket (lent-sockets.ts).
 * A socket whose slot is retired, or has no worker for HOLD_FOR ms, is closed: datagrams cannot
 * be handed to another worker, and the kernel then hashes over the sockets that remain.
 */
import os from 'node:os';
import { bindUdpHandle, rawSockname, UV_UDP_REUSEPORT, type RawHandle } from '../../internal/node-internals.js';
import type { HandoffTarget, ListenHandle, ListenQuery, ListenReply } from '../listen-handle.js';
import { LentSockets, type LentSocket } from './lent-sockets.js';
import { slotOf } from './slot-of.js';

const UV_EADDRINUSE = -os.constants.errno.EADDRINUSE;

interface SlotSocket extends LentSocket {
  /** Settles once bound: the handle, or a negative errno. */
  readonly bound: Promise<RawHandle | number>;
}

export class UdpReuseportHandle implements ListenHandle {
  readonly key: string;
  data: unknown = null;
  readonly #address: string | null;
  readonly #query: ListenQuery;
  /** Binds one at a time: the first of `bind(0)` chooses the port the others take. */
  #lastBind: Promise<unknown> = Promise.resolve();
  #port: number | null;
  readonly #sockets = new LentSockets<SlotSocket>((socket) => closeWhenBound(socket));
  readonly #workers = new Map<number, number>();
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
    const slot = slotOf(worker, this.#workers.values());
    this.#workers.set(worker.id, slot);
    const socket = this.#sockets.lend(slot, worker.id, () => ({ slot, bound: this.#bind(), holders: new Set(), holdTimer: undefined }))!;
    void socket.bound.then((result) => {
      if (typeof result === 'number') {
        // Failed: forget it, so that the slot's next worker binds again.
        this.#sockets.drop(socket);
        this.#workers.delete(worker.id);
        reply(result, null, null);
      } else {
        reply(this.#closed ? UV_EADDRINUSE : 0, null, this.#closed ? null : result);
      }
    });
  }

  /**
   * The slot's socket outlives its worker already (held for the replacement, then emptied into
   * the workers that remain); with none left, the sockets close, as node:cluster's do: `hold` is
   * not taken, because emptying needs a worker to hand connections to.
   */
  remove(worker: HandoffTarget): boolean {
    if (!this.#workers.delete(worker.id)) return false;
    return this.closeIfVacant();
  }

  closeIfVacant(): boolean {
    if (this.#workers.size > 0) return false;
    this.#closeAll();
    return true;
  }

  /** The worker's process closed its copy: held for the slot's next worker, then closed. */
  release(worker: HandoffTarget): void {
    this.#sockets.release(worker.id);
  }

  retireSlot(slot: number): void {
    this.#sockets.retire(slot);
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

  #closeAll(): void {
    this.#closed = true;
    for (const socket of this.#sockets.clear()) closeWhenBound(socket);
  }
}

function closeWhenBound(socket: SlotSocket): void {
  void socket.bound.then((result) => {
    if (typeof result !== 'number') result.close();
  });
}
