/**
 * The primary's handle on one worker process: node:cluster's `Worker`, as its primary sees it.
 */
import type { ChildProcess, MessageOptions, SendHandle, Serializable } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { WorkerNotConnectedError } from '../errors.js';
import type { RawHandle } from '../internal/node-internals.js';
import { kAttachOwner, kClusterChannel, kHandoffsAccepted, kRuntimeReport, kSlot } from '../internal/symbols.js';
import type { RuntimeReport } from '../worker/runtime-protocol.cjs';
import type { WorkerEvents, WorkerState } from '../types.js';
import type { ClusterChannel } from './cluster-channel.js';
import type { HandoffOutcome, HandoffTarget } from './listen-handle.js';

export interface WorkerOptions {
  id?: number;
  process?: ChildProcess;
  state?: WorkerState;
}

/** The cluster a worker belongs to: it carries out `worker.disconnect()`. */
export interface WorkerOwner {
  disconnectWorker(worker: Worker): void;
}

type SendCallback = (error: Error | null) => void;

class ClusterWorker extends EventEmitter<WorkerEvents> implements HandoffTarget {
  /** Unique, increasing from 1; the key in `cluster.workers`. */
  id: number;
  /** The worker's `ChildProcess` (undefined only for a `Worker` constructed by hand). */
  declare readonly process: ChildProcess;
  /** Undocumented in node:cluster, kept for compatibility. */
  state: WorkerState;
  /**
   * `true` once the exit was asked for (`disconnect()` from either side, or `kill()` inside the
   * worker); `false` for crashes and for signals sent with the primary's `kill()`; `undefined`
   * until the worker disconnects or exits.
   */
  exitedAfterDisconnect: boolean | undefined = undefined;
  /** @internal The latest runtime report (managed clusters only), for the balancers. */
  [kRuntimeReport]: RuntimeReport | undefined = undefined;
  /** @internal Connections handed to this worker that it accepted, by every server of the primary. */
  [kHandoffsAccepted] = 0;
  /** @internal Its slot in a managed cluster (the sticky balancer hashes on it). */
  [kSlot]: number | undefined = undefined;
  #owner: WorkerOwner | undefined;
  #control: ClusterChannel | undefined;

  constructor(options?: WorkerOptions) {
    super();
    const settings: WorkerOptions = typeof options === 'object' && options !== null ? options : {};
    this.state = settings.state ?? 'none';
    this.id = (settings.id ?? 0) | 0;
    if (settings.process !== undefined) {
      const child = settings.process;
      Object.defineProperty(this, 'process', { value: child, enumerable: true });
      child.on('error', (error) => this.emit('error', error));
      child.on('message', (message, handle) => this.emit('message', message, handle));
    }
  }

  /**
   * Sends a message to the worker (its `process.on('message')`). On a closed channel it returns
   * false and reports `WorkerNotConnectedError` to the callback, or else as an `'error'` event.
   */
  send(message: Serializable, callback?: SendCallback): boolean;
  send(message: Serializable, sendHandle?: SendHandle, callback?: SendCallback): boolean;
  send(message: Serializable, sendHandle?: SendHandle, options?: MessageOptions, callback?: SendCallback): boolean;
  send(message: Serializable, ...rest: unknown[]): boolean {
    if (this.process === undefined || !this.process.connected) {
      const error = new WorkerNotConnectedError(this.id, this.process?.pid, this.state);
      const callback = rest.find((arg): arg is SendCallback => typeof arg === 'function');
      if (callback !== undefined) process.nextTick(callback, error);
      else process.nextTick(() => this.emit('error', error));
      return false;
    }
    const child = this.process as unknown as { send(...args: unknown[]): boolean };
    return child.send(message, ...rest);
  }

  /** Sends `signal` to the worker process (node:cluster since v15: a plain `process.kill`). */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): void {
    this.destroy(signal);
  }

  destroy(signal: NodeJS.Signals | number = 'SIGTERM'): void {
    this.process.kill(signal);
  }

  /**
   * Asks the worker to close its servers (waiting for their open connections) and then its IPC
   * channel. The worker stops receiving connections at once and leaves `cluster.workers`.
   */
  disconnect(): this {
    if (this.#owner !== undefined) this.#owner.disconnectWorker(this);
    else if (this.process?.connected === true) this.process.disconnect();
    return this;
  }

  isConnected(): boolean {
    return this.process?.connected === true;
  }

  isDead(): boolean {
    return this.process !== undefined && (this.process.exitCode != null || this.process.signalCode != null);
  }

  /** @internal Hand-off of one accepted connection (with the bytes the primary read of it, if any). */
  handoff(key: string, client: RawHandle, onOutcome: (outcome: HandoffOutcome) => void, head?: Buffer): boolean {
    if (this.#control === undefined) return false;
    // Node's worker half ignores `head`; corral's worker runtime replays it (src/worker/replay-head.cts).
    const frame = head === undefined || head.length === 0 ? { act: 'newconn', key } : { act: 'newconn', key, head: head.toString('base64') };
    return this.#control.send(frame, client, (reply) => {
      const outcome = reply === undefined ? 'lost' : reply['accepted'] === true ? 'accepted' : 'refused';
      if (outcome === 'accepted') this[kHandoffsAccepted] += 1;
      onOutcome(outcome);
    });
  }

  /** @internal */
  [kAttachOwner](owner: WorkerOwner, control: ClusterChannel): void {
    this.#owner = owner;
    this.#control = control;
  }

  /** @internal */
  get [kClusterChannel](): ClusterChannel | undefined {
    return this.#control;
  }
}

// node:cluster's Worker is a plain function that also works without `new`
// (test-cluster-worker-constructor); a class cannot be called, so a proxy forwards calls to it.
// `instanceof Worker`, `new Worker()` and subclassing behave as with the class itself.
Object.defineProperty(ClusterWorker, 'name', { value: 'Worker' });

/** The `Worker` class: `new Worker(options)` or, as in node:cluster, `Worker(options)`. */
export interface WorkerConstructor extends Omit<typeof ClusterWorker, 'prototype'> {
  new (options?: WorkerOptions): ClusterWorker;
  (options?: WorkerOptions): ClusterWorker;
  readonly prototype: ClusterWorker;
}

export const Worker = new Proxy(ClusterWorker, {
  apply: (target, _thisArg, args: [WorkerOptions?]) => new target(...args),
}) as unknown as WorkerConstructor;
export type Worker = ClusterWorker;
