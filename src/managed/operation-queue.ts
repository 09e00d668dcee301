/**
 * The cluster's operations (reload, scale, recycle) run one at a time, in the order asked for, so
 * that at most one slot is being replaced by an operation and a reload never races a scaling.
 *
 * Each operation is a small state machine, one table of allowed moves and one writer (`#move`),
 * as the cluster's own state is:
 *
 *   waiting ──▶ running ──▶ done
 *      ├───────────┴──────▶ failed      (waiting: refused at its turn, the cluster never started)
 *      └───────────┴──────▶ cancelled   (a stop overtook it: OperationCancelledError)
 *
 * A reload asked for while another reload waits joins it: any number of SIGHUPs, `corral reload`s
 * and calls during a reload make one more reload, which every caller shares. One asked for once
 * a stop has begun fails at once (ClusterClosedError); one the stop overtook, waiting or
 * running, is cancelled and named in the stop's result.
 */
import { ClusterBusyError, ClusterClosedError, OperationCancelledError } from '../errors.js';
import type { ClusterState } from './types.js';

export type OperationKind = 'reload' | 'scale' | 'recycle';
export type OperationState = 'waiting' | 'running' | 'done' | 'failed' | 'cancelled';

/** The moves an operation may make; any other is a defect, and throws. */
export const OPERATION_MOVES: Readonly<Record<OperationState, readonly OperationState[]>> = {
  waiting: ['running', 'failed', 'cancelled'],
  running: ['done', 'failed', 'cancelled'],
  done: [],
  failed: [],
  cancelled: [],
};

/** One operation, as the queue sees it. */
export interface Operation {
  readonly kind: OperationKind;
  /** How a stop's result names it: 'reload', 'scale to 4 workers', 'recycle'. */
  readonly what: string;
  readonly state: OperationState;
}

/** What the queue needs of its cluster. */
export interface OperationQueueHost {
  /** The cluster's state: operations run only while it starts or runs. */
  state(): ClusterState;
}

class QueuedOperation implements Operation {
  state: OperationState = 'waiting';

  constructor(readonly kind: OperationKind, readonly what: string) {}
}

export class OperationQueue {
  readonly #host: OperationQueueHost;
  /** Settles once every operation asked for so far has settled. */
  #tail: Promise<unknown> = Promise.resolve();
  /** Operations not settled yet, in order. */
  readonly #live = new Set<QueuedOperation>();
  /** The reload waiting for its turn, which later reloads join. */
  #waitingReload: { operation: QueuedOperation; result: Promise<unknown> } | undefined;
  /** What stops overtook, as they say it. */
  readonly #cancelled: string[] = [];

  constructor(host: OperationQueueHost) {
    this.#host = host;
  }

  /** Runs `run` after every operation asked for before it (see the module's comment). */
  enqueue<T>(kind: OperationKind, run: () => Promise<T>, what: string = kind): Promise<T> {
    return this.#enqueue(kind, run, what).result;
  }

  /** A reload: it joins the one waiting for its turn, if any. */
  reload<T>(run: () => Promise<T>): Promise<T> {
    const waiting = this.#waitingReload;
    if (waiting !== undefined && waiting.operation.state === 'waiting' && !this.#closing()) return waiting.result as Promise<T>;
    const { operation, result } = this.#enqueue('reload', run, 'reload');
    if (operation !== undefined) this.#waitingReload = { operation, result };
    return result;
  }

  #enqueue<T>(kind: OperationKind, run: () => Promise<T>, what: string): { operation?: QueuedOperation; result: Promise<T> } {
    if (this.#closing()) return { result: Promise.reject(new ClusterClosedError(kind)) };
    const operation = new QueuedOperation(kind, what);
    this.#live.add(operation);
    const turn = (): Promise<T> => {
      if (this.#waitingReload?.operation === operation) this.#waitingReload = undefined;
      if (this.#closing()) return Promise.reject(new OperationCancelledError(kind));
      const state = this.#host.state();
      if (state === 'idle') return Promise.reject(new ClusterBusyError(kind, state));
      this.#move(operation, 'running');
      return run();
    };
    const result = this.#tail.then(turn, turn);
    this.#tail = result.catch(() => {});
    result.then(() => this.#settle(operation, 'done'), (error: unknown) => {
      this.#settle(operation, error instanceof OperationCancelledError ? 'cancelled' : 'failed');
    });
    return { operation, result };
  }

  /** The operation running now, if any. */
  get running(): Operation | undefined {
    for (const operation of this.#live) if (operation.state === 'running') return operation;
    return undefined;
  }

  /** The operations not settled yet, the running one first. */
  pending(): readonly Operation[] {
    return [...this.#live];
  }

  /** What stops overtook so far, each named once. */
  cancelled(): readonly string[] {
    return [...new Set(this.#cancelled)];
  }

  /** Settles once every operation asked for so far has (they never reject it). */
  settled(): Promise<unknown> {
    return this.#tail;
  }

  #settle(operation: QueuedOperation, to: 'done' | 'failed' | 'cancelled'): void {
    // A turn refused before it ran (a stop, an idle cluster) ends a waiting operation.
    this.#move(operation, to);
    this.#live.delete(operation);
    if (to === 'cancelled') this.#cancelled.push(operation.what);
  }

  /** The one writer of an operation's state. */
  #move(operation: QueuedOperation, to: OperationState): void {
    if (!OPERATION_MOVES[operation.state].includes(to)) {
      throw new Error(`corral: internal error: a ${operation.kind} operation cannot go from ${operation.state} to ${to}`);
    }
    operation.state = to;
  }

  #closing(): boolean {
    const state = this.#host.state();
    return state === 'closing' || state === 'closed';
  }
}
