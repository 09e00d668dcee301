/**
 * The reuseport balancer's sockets of one server, one per slot, each lent to that slot's worker
 * (two during a rolling reload), and what happens when no worker holds one any more: it waits
 * HOLD_FOR ms for the slot's next worker, which is lent the same socket, and is then given up
 * (`onOrphan`: TCP empties it through the primary, UDP closes it); a retired slot's socket is
 * given up as soon as its last worker lets go. Shared by the TCP and UDP handles.
 */

/** How long a socket whose worker let go waits for the slot's next worker. */
export const HOLD_FOR = 1_000;

export interface LentSocket {
  readonly slot: number;
  /** Workers it is lent to whose processes still hold it. */
  readonly holders: Set<number>;
  holdTimer: NodeJS.Timeout | undefined;
}

export class LentSockets<S extends LentSocket> {
  readonly #sockets = new Map<number, S>();
  /** Slots the cluster retired (scale-down). */
  readonly #retired = new Set<number>();
  readonly #onOrphan: (socket: S) => void;

  constructor(onOrphan: (socket: S) => void) {
    this.#onOrphan = onOrphan;
  }

  /** The slot's socket (made by `create` when it has none, or undefined when that fails), lent to `workerId`. */
  lend(slot: number, workerId: number, create: () => S | undefined): S | undefined {
    this.#retired.delete(slot);
    let socket = this.#sockets.get(slot);
    if (socket === undefined) {
      socket = create();
      if (socket === undefined) return undefined;
      this.#sockets.set(slot, socket);
    }
    clearTimeout(socket.holdTimer);
    socket.holdTimer = undefined;
    socket.holders.add(workerId);
    return socket;
  }

  /** The worker's process closed its copies (it closed its server, or exited). */
  release(workerId: number): void {
    for (const socket of this.#sockets.values()) {
      if (!socket.holders.delete(workerId) || socket.holders.size > 0) continue;
      if (this.#retired.has(socket.slot)) this.#giveUp(socket);
      else socket.holdTimer = setTimeout(() => this.#giveUp(socket), HOLD_FOR).unref();
    }
  }

  /** The cluster will not refill `slot`. */
  retire(slot: number): void {
    const socket = this.#sockets.get(slot);
    if (socket === undefined) return;
    if (socket.holders.size === 0) this.#giveUp(socket);
    else this.#retired.add(slot);
  }

  /** Forgets one socket at once, without `onOrphan` (its bind failed). */
  drop(socket: S): void {
    clearTimeout(socket.holdTimer);
    if (this.#sockets.get(socket.slot) === socket) this.#sockets.delete(socket.slot);
  }

  /** Forgets every socket (the server closes) and returns them. */
  clear(): S[] {
    const sockets = [...this.#sockets.values()];
    for (const socket of sockets) clearTimeout(socket.holdTimer);
    this.#sockets.clear();
    this.#retired.clear();
    return sockets;
  }

  #giveUp(socket: S): void {
    clearTimeout(socket.holdTimer);
    if (this.#sockets.get(socket.slot) === socket) this.#sockets.delete(socket.slot);
    this.#retired.delete(socket.slot);
    this.#onOrphan(socket);
  }
}
