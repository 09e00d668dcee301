/**
 * Who gets a connection to the admin server, so that no client can keep a probe from being
 * answered. Kubernetes restarts a pod whose liveness probe fails and takes it out of its Service
 * while its readiness probe fails: a scraper gone wrong, 64 open dashboards or one peer holding
 * half-sent requests must not be able to do that.
 *
 * A connection that has a request in progress (busy) is never given up for another. One that has
 * none (a request head not yet complete, an idle keep-alive) is the first to go: when a peer
 * holds PER_PEER connections, its oldest idle one is closed to admit its next; when the server
 * holds MAX_CONNECTIONS, the oldest idle one of anybody's is. A probe sends its request the
 * moment it connects and is answered at once, so it finds room unless every connection counted
 * against it has a request in progress; a peer that only opens connections loses its own. The
 * descriptors the admin server can take stay bounded all the while.
 *
 * Peers are counted by address, IPv6 ones by their /64 (one host can hold all of one).
 */
import type net from 'node:net';

/** Connections open at once, all peers together. */
export const MAX_CONNECTIONS = 256;
/** Connections open at once from one peer. */
export const PER_PEER = 16;

interface Entry {
  readonly peer: string;
  /** Requests in progress on it: more than one when a client pipelines. */
  requests: number;
}

export class AdminAdmission {
  /** In the order they came: the first idle one found is the oldest. */
  readonly #connections = new Map<net.Socket, Entry>();
  readonly #perPeer = new Map<string, number>();
  readonly #limits: { readonly total: number; readonly perPeer: number };
  /** Connections closed to make room, and refused (for the tests and the README's figures). */
  evicted = 0;
  refused = 0;

  constructor(limits: { total?: number; perPeer?: number } = {}) {
    this.#limits = { total: limits.total ?? MAX_CONNECTIONS, perPeer: limits.perPeer ?? PER_PEER };
  }

  get size(): number {
    return this.#connections.size;
  }

  /** A new connection: admitted (making room if need be), or destroyed. */
  admit(socket: net.Socket): boolean {
    const peer = peerOf(socket.remoteAddress);
    if ((this.#perPeer.get(peer) ?? 0) >= this.#limits.perPeer && !this.#evictIdle(peer)) return this.#refuse(socket);
    if (this.#connections.size >= this.#limits.total && !this.#evictIdle(undefined)) return this.#refuse(socket);
    this.#connections.set(socket, { peer, requests: 0 });
    this.#perPeer.set(peer, (this.#perPeer.get(peer) ?? 0) + 1);
    socket.once('close', () => this.#forget(socket));
    return true;
  }

  /** A request began on `socket`; call `ended` once its response has ended. */
  requestBegan(socket: net.Socket): void {
    const entry = this.#connections.get(socket);
    if (entry !== undefined) entry.requests += 1;
  }

  requestEnded(socket: net.Socket): void {
    const entry = this.#connections.get(socket);
    if (entry !== undefined) entry.requests = Math.max(0, entry.requests - 1);
  }

  /** Closes the oldest idle connection (of `peer`, or of anybody's); false when there is none. */
  #evictIdle(peer: string | undefined): boolean {
    for (const [socket, entry] of this.#connections) {
      if (entry.requests > 0 || (peer !== undefined && entry.peer !== peer)) continue;
      // Counted out now: 'close' comes later, and the new connection needs the room at once.
      this.#forget(socket);
      socket.destroy();
      this.evicted += 1;
      return true;
    }
    return false;
  }

  #refuse(socket: net.Socket): false {
    socket.destroy();
    this.refused += 1;
    return false;
  }

  #forget(socket: net.Socket): void {
    const entry = this.#connections.get(socket);
    if (entry === undefined) return;
    this.#connections.delete(socket);
    const left = (this.#perPeer.get(entry.peer) ?? 1) - 1;
    if (left <= 0) this.#perPeer.delete(entry.peer);
    else this.#perPeer.set(entry.peer, left);
  }
}

/** The peer a connection counts against: its IPv4 address, or its IPv6 address's /64. */
export function peerOf(address: string | undefined): string {
  if (address === undefined) return '';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return mapped[1]!;
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const front = head === '' ? [] : head.split(':');
  const back = address.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = address.includes('::') ? [...front, ...Array<string>(Math.max(0, 8 - front.length - back.length)).fill('0'), ...back] : front;
  return `${groups.slice(0, 4).map((group) => Number.parseInt(group, 16).toString(16)).join(':')}::/64`;
}
