/** What the primary's listen handles (one per shared server) have in common. */
import type { RawHandle } from '../internal/node-internals.js';
import type { kHandoffsAccepted, kRuntimeReport, kSlot } from '../internal/symbols.js';
import type { RuntimeReport } from '../worker/runtime-protocol.cjs';

/** A worker's request for a listening socket (a validated queryServer frame). */
export interface ListenQuery {
  address: string | null;
  /** -1 for a Unix socket path; null for `listen({ fd })` and `bind({ fd })`. */
  port: number | null;
  /** null for `listen({ fd })` (the descriptor says what it is). */
  addressType: 4 | 6 | -1 | 'udp4' | 'udp6' | null;
  fd: number | undefined;
  flags: number | undefined;
  backlog: number | undefined;
  /** The worker's N-th listen on the same address (node:cluster keys `listen(0)` servers by it). */
  index: number;
  /** Server data to share across workers (TLS session ticket keys). */
  data: unknown;
  readableAll: boolean | undefined;
  writableAll: boolean | undefined;
}

export type HandoffOutcome = 'accepted' | 'refused' | 'lost';

/** The primary's side of one worker, as a listen handle sees it. */
export interface HandoffTarget {
  readonly id: number;
  /** Its latest runtime report, where a managed cluster receives them (src/worker/reporter.cts). */
  readonly [kRuntimeReport]?: RuntimeReport | undefined;
  /** Connections handed to it that it accepted, by every server of this primary. */
  readonly [kHandoffsAccepted]?: number;
  /** Its slot, in a managed cluster. */
  readonly [kSlot]?: number | undefined;
  /**
   * Sends one accepted connection to the worker, with `head`, the bytes the primary already read
   * of it (the worker's runtime replays them). `onOutcome` runs once: 'accepted' or 'refused'
   * when the worker answers, 'lost' when its channel closes first. Returns false when the worker
   * cannot be reached at all (the callback then never runs).
   */
  handoff(key: string, client: RawHandle, onOutcome: (outcome: HandoffOutcome) => void, head?: Buffer): boolean;
}

/** Answers a worker's listen query: a negative errno, extra reply fields, and the handle to share. */
export type ListenReply = (
  errno: number,
  reply: Readonly<Record<string, unknown>> | null,
  handle: RawHandle | null,
) => void;

export interface ListenHandle {
  readonly key: string;
  data: unknown;
  has(worker: HandoffTarget): boolean;
  add(worker: HandoffTarget, reply: ListenReply): void;
  /**
   * Removes the worker; returns true when it was the last one and the socket is now closed.
   * With `hold`, the last worker's leaving closes nothing: a managed cluster's replacement is on
   * its way, and connections wait for it (queued by the primary, or in the kernel's backlog).
   */
  remove(worker: HandoffTarget, hold?: boolean): boolean;
  /** Closes the socket if no worker has it (one held open for a replacement that never came); true if it did. */
  closeIfVacant(): boolean;
  /**
   * The worker's process no longer holds the socket it was lent (it closed its server, or
   * exited). `remove` only stops routing to it; a lent socket is in the worker's hands until this.
   */
  release?(worker: HandoffTarget): void;
  /** The cluster will not refill this slot (scale-down): what the handle keeps for it may go. */
  retireSlot?(slot: number): void;
  /** Connections accepted by the primary and waiting for a worker (handles that hand them over). */
  readonly queued?: number;
}
