/**
 * Which worker holds each slot's inspector port (inspector-ports.ts). A replacement (a reload, a
 * recycle) starts while the worker it replaces still runs and listens on the slot's port: it
 * starts with no inspector, and opens one on that port once the old worker has exited, so that the
 * slot's debugger address never changes. A worker started with its slot's port free (the first
 * start, a restart after a crash) listens on it from its first line, as `--inspect-brk` needs.
 */
import type { ManagedWorker } from './managed-worker.js';
import { inspectorArgs, slotPort, type InspectorPlan } from './inspector-ports.js';
import type { WorkerInspector } from './types.js';

export interface InspectorStart {
  /** Node options for the worker, after the app's own. */
  readonly args: string[];
  readonly inspector: WorkerInspector | undefined;
}

export class InspectorSlots {
  /** By slot: the worker listening on the slot's port. */
  readonly #holders = new Map<number, ManagedWorker>();
  /** By slot: the newest worker waiting for that port. */
  readonly #waiting = new Map<number, ManagedWorker>();

  /** What a worker about to fork in `slot` gets (no plan: nothing, and no port of node:cluster's either). */
  prepare(plan: InspectorPlan | undefined, slot: number): InspectorStart {
    if (plan === undefined) return { args: [], inspector: undefined };
    const port = slotPort(plan, slot);
    const holder = this.#holders.get(slot);
    const taken = port !== 0 && plan.mode !== undefined && holder !== undefined && !holder.hasExited;
    return {
      args: inspectorArgs(plan, slot, taken),
      inspector: plan.mode === undefined ? undefined : { host: plan.host, port, open: !taken },
    };
  }

  /** Follows a forked worker's hold on its slot's port, until it exits. */
  track(worker: ManagedWorker): void {
    const { inspector, slot } = worker;
    if (inspector === undefined || inspector.port === 0) return;
    if (inspector.open) this.#holders.set(slot, worker);
    else this.#waiting.set(slot, worker);
    void worker.exited.then(() => this.#exited(worker));
  }

  #exited(worker: ManagedWorker): void {
    const { slot } = worker;
    if (this.#waiting.get(slot) === worker) this.#waiting.delete(slot);
    if (this.#holders.get(slot) !== worker) return;
    this.#holders.delete(slot);
    const next = this.#waiting.get(slot);
    // A worker already leaving (drained, or scaled away) does not need it.
    if (next === undefined || next.hasExited || next.draining !== undefined || next.inspector === undefined) return;
    this.#waiting.delete(slot);
    next.inspector = { ...next.inspector, open: true };
    next.link.openInspector(next.inspector.host, next.inspector.port);
    this.#holders.set(slot, next);
  }
}
