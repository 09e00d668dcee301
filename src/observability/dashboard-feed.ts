/**
 * What the dashboard shows, kept by the primary while the admin server runs: a snapshot of the
 * cluster every second (each slot and worker with its state, pid, generation, uptime, memory,
 * CPU, connections and requests), the last minutes of those snapshots, and the cluster's
 * lifecycle events as they happen (restarts, reloads, crash loops, health actions, scaling).
 * A page that opens gets the history at once, then each new snapshot and event (server-sent
 * events, admin-server.ts).
 */
import { EventEmitter } from 'node:events';
import { describeStartFailure } from '../errors.js';
import type { ClusterStatus, ManagedClusterEvents, WorkerStatus } from '../managed/types.js';

/** Snapshots kept: five minutes at one a second. */
export const HISTORY_LENGTH = 300;
/** Lifecycle events kept for a page that opens. */
export const EVENTS_KEPT = 100;
export const SNAPSHOT_INTERVAL = 1_000;

export interface WorkerView {
  slot: number;
  id: number;
  pid: number | null;
  generation: number;
  state: WorkerStatus['state'];
  /** ms since its fork. */
  uptime: number;
  /** From its latest runtime report (null until one came). */
  rss: number | null;
  heapUsed: number | null;
  /** Cores (1 = one core busy). */
  cpu: number | null;
  /** ms. */
  loopDelay: number | null;
  connections: number | null;
  requests: number | null;
}

export interface ClusterView {
  /** ms since the epoch. */
  at: number;
  name: string;
  pid: number;
  state: ClusterStatus['state'];
  balancer: string;
  generation: number;
  reloading: number | null;
  workers: number;
  ready: number;
  primary: { rss: number; cpu: number };
  handoffs: number;
  queued: number;
  slots: {
    slot: number;
    state: ClusterStatus['slots'][number]['state'];
    restarts: number;
    lastExit: { reason: string; at: number } | null;
    worker: WorkerView | null;
  }[];
  others: WorkerView[];
}

export interface LifecycleEvent {
  at: number;
  kind: 'restart' | 'crashloop' | 'health' | 'reloading' | 'reload' | 'reload-failed' | 'scale' | 'start-failed';
  text: string;
  slot?: number;
}

interface FeedEvents {
  snapshot: [view: ClusterView];
  lifecycle: [event: LifecycleEvent];
}

export interface FeedSource {
  readonly name: string;
  status(): ClusterStatus;
  handoffs(): { handoffs: number; queued: number };
}

function workerView(worker: WorkerStatus, now: number): WorkerView {
  const { report } = worker;
  return {
    slot: worker.slot, id: worker.id, pid: worker.pid ?? null, generation: worker.generation, state: worker.state,
    uptime: now - worker.startedAt,
    rss: report?.memory.rss ?? null,
    heapUsed: report?.memory.heapUsed ?? null,
    cpu: report?.cpu ?? null,
    loopDelay: report?.loop.delay ?? null,
    connections: report?.connections ?? null,
    requests: report?.requests ?? null,
  };
}

export class DashboardFeed extends EventEmitter<FeedEvents> {
  readonly #source: FeedSource;
  readonly #history: ClusterView[] = [];
  readonly #events: LifecycleEvent[] = [];
  readonly #timer: NodeJS.Timeout;
  #lastCpu = process.cpuUsage();
  #lastAt = performance.now();

  constructor(source: FeedSource, events: EventEmitter<ManagedClusterEvents>) {
    super();
    this.#source = source;
    this.#follow(events);
    this.#timer = setInterval(() => this.#snapshot(), SNAPSHOT_INTERVAL).unref();
  }

  /** The snapshots of the last minutes, oldest first, and the latest lifecycle events. */
  get backlog(): { history: readonly ClusterView[]; events: readonly LifecycleEvent[] } {
    return { history: this.#history, events: this.#events };
  }

  /** The cluster now (taken on request, and kept in the history once a second). */
  view(): ClusterView {
    const status = this.#source.status();
    const now = Date.now();
    const elapsed = performance.now() - this.#lastAt;
    const cpu = process.cpuUsage(this.#lastCpu);
    const handoffs = this.#source.handoffs();
    return {
      at: now,
      name: this.#source.name,
      pid: process.pid,
      state: status.state,
      balancer: status.balancer,
      generation: status.generation,
      reloading: status.reloading ?? null,
      workers: status.workers,
      ready: status.slots.filter((slot) => slot.state === 'ready').length,
      primary: {
        rss: process.memoryUsage.rss(),
        cpu: elapsed > 0 ? Math.round(((cpu.user + cpu.system) / 1000 / elapsed) * 1000) / 1000 : 0,
      },
      handoffs: handoffs.handoffs,
      queued: handoffs.queued,
      slots: status.slots.map((slot) => ({
        slot: slot.slot, state: slot.state, restarts: slot.restarts,
        lastExit: slot.lastExit === undefined ? null : { reason: slot.lastExit.reason, at: slot.lastExit.at },
        worker: slot.worker === undefined ? null : workerView(slot.worker, now),
      })),
      others: status.others.map((worker) => workerView(worker, now)),
    };
  }

  close(): void {
    clearInterval(this.#timer);
    this.removeAllListeners();
  }

  #snapshot(): void {
    const view = this.view();
    this.#lastCpu = process.cpuUsage();
    this.#lastAt = performance.now();
    this.#history.push(view);
    if (this.#history.length > HISTORY_LENGTH) this.#history.shift();
    this.emit('snapshot', view);
  }

  #record(event: Omit<LifecycleEvent, 'at'>): void {
    const full = { at: Date.now(), ...event };
    this.#events.push(full);
    if (this.#events.length > EVENTS_KEPT) this.#events.shift();
    this.emit('lifecycle', full);
  }

  #follow(events: EventEmitter<ManagedClusterEvents>): void {
    events.on('restart', ({ slot, previous, reason, delay }) => this.#record({
      kind: 'restart', slot,
      text: `slot ${slot}: worker ${previous.id} (pid ${previous.process.pid ?? '?'}) ended (${reason}); restarting${delay > 0 ? ` in ${delay} ms` : ''}`,
    }));
    events.on('crashloop', ({ slot, crashes, retryIn }) => this.#record({
      kind: 'crashloop', slot, text: `slot ${slot} is crash-looping (${crashes} crashes); retrying every ${retryIn} ms`,
    }));
    events.on('health', ({ slot, worker, reason, action }) => this.#record({
      kind: 'health', slot, text: `slot ${slot}: worker ${worker.id} (pid ${worker.process.pid ?? '?'}) ${action === 'kill' ? 'killed' : 'recycled'} (${reason})`,
    }));
    events.on('reloading', (generation) => this.#record({ kind: 'reloading', text: `rolling reload to generation ${generation}` }));
    events.on('reload', ({ generation, duration }) => this.#record({ kind: 'reload', text: `reloaded: generation ${generation} in ${duration} ms` }));
    // Said without the worker's stderr or the script's path (the error's message has both): the
    // admin port is not the control socket, and its clients need not be the app's owner.
    events.on('reloadFailed', (error) => this.#record({
      kind: 'reload-failed', slot: error.failure.slot,
      text: `reload failed: ${describeStartFailure(error.failure)} The old workers serve on ('corral logs' has its stderr).`,
    }));
    events.on('scale', ({ workers }) => this.#record({ kind: 'scale', text: `scaled to ${workers} worker${workers === 1 ? '' : 's'}` }));
    events.on('startFailed', (failure) => this.#record({ kind: 'start-failed', slot: failure.slot, text: describeStartFailure(failure) }));
  }
}
