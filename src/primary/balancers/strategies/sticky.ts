/**
 * sticky: the same client lands on the same worker. The client is what its sticky header names
 * (`stickyHeader`, behind a proxy: for X-Forwarded-For the address the trusted proxy appended,
 * forwarded-client.ts) or else its IP address, and the worker is chosen by
 * rendezvous hashing (highest random weight, as Envoy's and HAProxy's consistent hashing aim
 * for): each client scores every slot and takes the highest. Removing a slot moves only that
 * slot's clients (each to its own second choice, spread over the rest); adding one takes to it
 * only the clients that now score it highest, about 1/N of each other slot's. Scores are on
 * slots, not worker ids, so a restarted or reloaded worker gets its predecessor's clients back;
 * while two workers share a slot (a rolling reload), the newer one takes them.
 *
 * A client's worker is chosen among all the server's workers, busy or not: its connection waits
 * for that worker rather than go to a free one. A connection with no address and no header (a
 * Unix socket) goes to the longest idle free worker, as under round-robin.
 */
import type { Candidate, StrategyFactory } from '../strategy.js';

export const sticky: StrategyFactory = () => ({
  candidates: 'all',
  pick: (candidates, connection) => {
    const client = connection.header ?? connection.remoteAddress;
    if (client === undefined) return candidates.find((candidate) => !candidate.busy) ?? candidates[0]!;
    return highestScore(candidates, hashString(client));
  },
});

/** The candidate whose slot scores highest for this client; ties (one slot, two workers) go to the newest worker. */
export function highestScore(candidates: readonly Candidate[], clientHash: number): Candidate {
  let best = candidates[0]!;
  let bestScore = -1;
  for (const candidate of candidates) {
    const score = slotScore(clientHash, candidate.slot);
    if (score > bestScore || (score === bestScore && candidate.workerId > best.workerId)) {
      best = candidate;
      bestScore = score;
    }
  }
  return best;
}

/** FNV-1a over the string's UTF-16 code units: fast, and well spread once mixed (slotScore). */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index += 1) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** A client's weight for a slot: the client's hash and the slot's, mixed by murmur3's finalizer. */
export function slotScore(clientHash: number, slot: number): number {
  let mixed = (clientHash ^ Math.imul(slot + 1, 0x9e3779b1)) >>> 0;
  mixed ^= mixed >>> 16;
  mixed = Math.imul(mixed, 0x85ebca6b);
  mixed ^= mixed >>> 13;
  mixed = Math.imul(mixed, 0xc2b2ae35);
  mixed ^= mixed >>> 16;
  return mixed >>> 0;
}
