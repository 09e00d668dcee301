/**
 * Request/reply over one worker's `NODE_CLUSTER` frames. Frames corral sends carry a `seq`; the
 * worker echoes it as `ack`. Unlike node:cluster's process-wide callback table, pending replies
 * belong to the worker, so when its channel closes every pending reply is settled as lost instead
 * of leaking.
 */
import type { ChildProcess } from 'node:child_process';
import {
  onClusterFrame, sendClusterFrame, type ClusterFrame, type RawHandle,
} from '../internal/node-internals.js';

/** `reply` is undefined when the channel closed before the worker answered. */
export type ReplyHandler = (reply: ClusterFrame | undefined, handle: RawHandle | undefined) => void;

/** Errors of a write to a worker whose end of the channel is gone. */
const WORKER_GONE: ReadonlySet<string> = new Set(['EPIPE', 'ECONNRESET', 'ERR_IPC_CHANNEL_CLOSED']);

export class ClusterChannel {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, ReplyHandler>();
  #nextSeq = 0;
  #closed = false;

  constructor(child: ChildProcess, onRequest: (frame: ClusterFrame, handle: RawHandle | undefined) => void) {
    this.#child = child;
    onClusterFrame(child, (frame, handle) => {
      const ack = frame['ack'];
      const handler = typeof ack === 'number' ? this.#pending.get(ack) : undefined;
      if (handler === undefined) {
        onRequest(frame, handle);
        return;
      }
      this.#pending.delete(ack as number);
      handler(frame, handle);
    });
  }

  /**
   * Sends a frame; returns false (and never calls `onReply`) when the channel is closed.
   * `onSendError` runs if the write fails while the channel stays open (a handle that cannot be
   * passed, such as a socket that was never bound); not when the write failed because the worker
   * is gone (EPIPE, ECONNRESET: it died while its request was answered), which its exit tells.
   */
  send(
    frame: Record<string, unknown>,
    handle: RawHandle | null = null,
    onReply?: ReplyHandler,
    onSendError?: (error: Error) => void,
  ): boolean {
    if (this.#closed || !this.#child.connected) return false;
    const seq = this.#nextSeq++;
    if (onReply !== undefined) this.#pending.set(seq, onReply);
    sendClusterFrame(this.#child, frame, seq, handle, (error) => {
      if (error === null) return;
      // A failed write usually means the worker is going away; its reply will never come.
      this.#settleLost(seq);
      const gone = WORKER_GONE.has((error as NodeJS.ErrnoException).code ?? '');
      if (onSendError !== undefined && !gone && !this.#closed && this.#child.connected) onSendError(error);
    });
    return true;
  }

  /** The channel closed: every reply still pending is settled as lost. */
  close(): void {
    this.#closed = true;
    for (const seq of [...this.#pending.keys()]) this.#settleLost(seq);
  }

  #settleLost(seq: number): void {
    const handler = this.#pending.get(seq);
    if (handler === undefined) return;
    this.#pending.delete(seq);
    handler(undefined, undefined);
  }
}
