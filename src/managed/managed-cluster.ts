/**
 * `createCluster()`: a supervised cluster for new code. It keeps `workers` processes running
 * `exec`, restarts those that exit (crashes with exponential backoff and jitter), and closes
 * gracefully. It runs its own node:cluster-compatible primary, so several can live in one process.
 */
import type { SendHandle, Serializable } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { BALANCERS } from '../constants.js';
import { ClusterClosedError } from '../errors.js';
import { ClusterPrimary } from '../primary/cluster-primary.js';
import { resolveExec } from '../primary/settings.js';
import { socketsFromSystemd, type ActivatedSocket } from '../primary/socket-activation.js';
import type { Worker } from '../primary/worker.js';
import type { ExitSignal, WorkerAddress } from '../types.js';
import { GroupedWarnings } from '../util/grouped-warnings.js';
import { restartDelay } from './backoff.js';
import {
  normalizeOptions, timeout, type ClusterOptions, type ResolvedClusterOptions, type RestartOptions,
} from './options.js';

export interface RestartInfo {
  /** The slot (0 … workers-1) being refilled. */
  slot: number;
  /** The worker that exited. */
  previous: Worker;
  /** Consecutive crashes of this slot so far (0 for a planned exit or after a long run). */
  crashes: number;
  /** How long corral waits before forking the replacement, in ms. */
  delay: number;
}

export interface ManagedClusterEvents {
  fork: [worker: Worker];
  online: [worker: Worker];
  listening: [worker: Worker, address: WorkerAddress];
  message: [worker: Worker, message: unknown, handle: SendHandle | undefined];
  disconnect: [worker: Worker];
  exit: [worker: Worker, code: number | null, signal: ExitSignal];
  /** A worker exited and a replacement is scheduled. */
  restart: [info: RestartInfo];
  /** Every slot has a ready worker (emitted each time the cluster becomes fully ready). */
  ready: [];
  /** A worker process error (a failed spawn, kill or send) that no promise reports. */
  error: [error: Error, worker: Worker];
}

export type ClusterState = 'idle' | 'starting' | 'running' | 'closing' | 'closed';

/** A worker that exits on its own request sooner than this after its fork counts as crashed. */
const PLANNED_EXIT_MIN_UPTIME = 1000;
/** The cluster forks at most max(this, workers) times in any one second. */
const MIN_FORKS_PER_SECOND = 2;

interface Slot {
  readonly index: number;
  worker: Worker | undefined;
  ready: boolean;
  crashes: number;
  forkedAt: number;
  timer: NodeJS.Timeout | undefined;
}

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

export class ManagedCluster extends EventEmitter<ManagedClusterEvents> {
  readonly options: ResolvedClusterOptions;
  /** The listening sockets systemd passed by socket activation, shared with the workers (else empty). */
  readonly inheritedSockets: readonly ActivatedSocket[];
  readonly #workerEnv: Readonly<Record<string, string | undefined>>;
  readonly #primary: ClusterPrimary;
  readonly #slots: Slot[];
  readonly #slotOf = new Map<Worker, Slot>();
  readonly #readyWaiters = new Set<Waiter>();
  #state: ClusterState = 'idle';
  #closing: Promise<void> | undefined;
  /** When recent forks happened (the last second's), for the cluster-wide fork rate bound. */
  readonly #forkTimes: number[] = [];
  readonly #warnings = new GroupedWarnings();

  constructor(options: ClusterOptions) {
    super();
    this.options = normalizeOptions(options);
    resolveExec({ exec: this.options.exec, cwd: this.options.cwd });
    this.inheritedSockets = socketsFromSystemd();
    this.#primary = new ClusterPrimary({
      schedulingPolicy: BALANCERS[this.options.balancer],
      inheritedSockets: this.inheritedSockets.map((socket) => socket.fd),
    });
    // Workers see LISTEN_FDS and LISTEN_FDNAMES (they listen with `listen({ fd: 3 })`), but not
    // LISTEN_PID: it names the primary, and code that checks it would take the sockets for its own.
    this.#workerEnv = this.inheritedSockets.length > 0 ? { ...this.options.env, LISTEN_PID: undefined } : this.options.env;
    this.#primary.setupPrimary({
      exec: this.options.exec,
      args: [...this.options.args],
      execArgv: [...this.options.execArgv],
      cwd: this.options.cwd,
      serialization: this.options.serialization,
      silent: this.options.silent,
      maxServersPerWorker: this.options.maxServersPerWorker,
    });
    this.#slots = Array.from({ length: this.options.workers }, (_, index) => ({
      index, worker: undefined, ready: false, crashes: 0, forkedAt: 0, timer: undefined,
    }));
    this.#forwardPrimaryEvents();
  }

  get state(): ClusterState {
    return this.#state;
  }

  /** The live workers, one per slot that currently has one. */
  get workers(): readonly Worker[] {
    return this.#slots.flatMap((slot) => (slot.worker === undefined ? [] : [slot.worker]));
  }

  /** Whether every slot has a ready worker. */
  get isReady(): boolean {
    return this.#slots.every((slot) => slot.ready);
  }

  /** Forks every worker; resolves once all are ready. Calling it again returns `ready()`. */
  start(): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed') {
      return Promise.reject(new ClusterClosedError('start()'));
    }
    if (this.#state === 'idle') {
      this.#state = 'starting';
      try {
        for (const slot of this.#slots) this.#forkInto(slot);
      } catch (error) {
        // Nothing can run (e.g. the script vanished since createCluster()): undo and report.
        void this.close();
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    }
    return this.ready();
  }

  /** Resolves when every slot has a ready worker; rejects if the cluster closes first. */
  ready(): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed') {
      return Promise.reject(new ClusterClosedError('wait for ready()'));
    }
    if (this.#state !== 'idle' && this.isReady) return Promise.resolve();
    return new Promise((resolve, reject) => this.#readyWaiters.add({ resolve, reject }));
  }

  /** Sends `message` to every connected worker; returns how many it was sent to. */
  broadcast(message: Serializable): number {
    let sent = 0;
    for (const worker of this.workers) {
      if (worker.isConnected() && worker.send(message)) sent += 1;
    }
    return sent;
  }

  /**
   * Stops restarting, disconnects every worker (each closes its servers and waits for open
   * connections), then SIGKILLs any still running after `timeout` ms. Resolves once all exited.
   * Calling it again returns the same promise.
   */
  close(options: { timeout?: number } = {}): Promise<void> {
    if (this.#closing === undefined) {
      try {
        this.#closing = this.#close(timeout(options.timeout, 'close({ timeout })', this.options.shutdownTimeout));
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    }
    return this.#closing;
  }

  async #close(timeout: number): Promise<void> {
    this.#state = 'closing';
    for (const waiter of this.#readyWaiters) waiter.reject(new ClusterClosedError('wait for ready()'));
    this.#readyWaiters.clear();
    for (const slot of this.#slots) clearTimeout(slot.timer);
    const exits = this.workers.filter((worker) => !worker.isDead())
      .map((worker) => new Promise<void>((resolve) => worker.once('exit', () => resolve())));
    for (const worker of this.workers) {
      if (worker.isConnected()) worker.disconnect();
    }
    const killer = setTimeout(() => {
      for (const worker of this.workers) {
        if (!worker.isDead()) worker.process.kill('SIGKILL');
      }
    }, timeout);
    try {
      await Promise.all(exits);
    } finally {
      clearTimeout(killer);
      this.#state = 'closed';
    }
  }

  /** ms until another fork fits in the sliding one-second window (0: now). */
  #forkWindowWait(): number {
    const now = Date.now();
    while (this.#forkTimes.length > 0 && now - this.#forkTimes[0]! >= 1000) this.#forkTimes.shift();
    const limit = Math.max(MIN_FORKS_PER_SECOND, this.options.workers);
    return this.#forkTimes.length < limit ? 0 : this.#forkTimes[0]! + 1000 - now;
  }

  #forkInto(slot: Slot): void {
    slot.timer = undefined;
    this.#forkTimes.push(Date.now());
    const worker = this.#primary.fork(this.#workerEnv);
    slot.worker = worker;
    slot.ready = false;
    slot.forkedAt = Date.now();
    this.#slotOf.set(worker, slot);
    worker.on('error', (error) => {
      if (this.listenerCount('error') > 0) this.emit('error', error, worker);
      else this.#warnings.warn(worker.id, 'CORRAL_WORKER_ERROR', 'Warning', `corral: worker ${worker.id}: ${error.message}`);
      // A failed spawn has no 'exit' to follow: count it as a crash now, so the slot is refilled
      // on the backoff schedule instead of staying empty.
      if (worker.process.pid === undefined) this.#onExit(worker, null);
    });
  }

  #markReady(worker: Worker): void {
    const slot = this.#slotOf.get(worker);
    if (slot === undefined || slot.worker !== worker || slot.ready) return;
    slot.ready = true;
    if (!this.isReady || this.#state === 'closing' || this.#state === 'closed') return;
    this.#state = 'running';
    for (const waiter of this.#readyWaiters) waiter.resolve();
    this.#readyWaiters.clear();
    this.emit('ready');
  }

  #onExit(worker: Worker, code: number | null): void {
    const slot = this.#slotOf.get(worker);
    this.#slotOf.delete(worker);
    if (slot === undefined || slot.worker !== worker) return;
    slot.worker = undefined;
    slot.ready = false;
    const policy = this.options.restart;
    if (policy === false || this.#state === 'closing' || this.#state === 'closed') return;
    const uptime = Date.now() - slot.forkedAt;
    if (uptime >= policy.resetAfter) slot.crashes = 0;
    // A planned exit (the worker disconnected itself, exit code 0, after running a while) is
    // refilled at once. Anything else is a crash and backs off, whatever path led to it:
    // cluster.worker.disconnect() is Node's documented way to leave after a fatal error.
    const planned = worker.exitedAfterDisconnect === true && code === 0 && uptime >= PLANNED_EXIT_MIN_UPTIME;
    const delay = planned ? 0 : restartDelay(slot.crashes, policy);
    if (!planned) slot.crashes += 1;
    this.emit('restart', { slot: slot.index, previous: worker, crashes: slot.crashes, delay });
    this.#scheduleFork(slot, policy, delay);
  }

  #scheduleFork(slot: Slot, policy: Readonly<Required<RestartOptions>>, delay: number): void {
    slot.timer = setTimeout(() => {
      if (this.#state === 'closing' || this.#state === 'closed') return;
      // However each slot's policy is set, the cluster forks at most forkRateLimit() times a
      // second: a crash storm must not become a fork storm.
      const wait = this.#forkWindowWait();
      if (wait > 0) {
        this.#scheduleFork(slot, policy, wait);
        return;
      }
      try {
        this.#forkInto(slot);
      } catch (error) {
        // The script became unreadable: say why, and keep trying on the backoff schedule.
        const { message, code } = error as Error & { code?: string };
        process.emitWarning(message, { code: code ?? 'CORRAL_ERR_EXEC_NOT_FOUND' });
        const retryIn = restartDelay(slot.crashes, policy);
        slot.crashes += 1;
        this.#scheduleFork(slot, policy, retryIn);
      }
    }, delay);
  }

  #forwardPrimaryEvents(): void {
    const primary = this.#primary;
    primary.on('fork', (worker) => this.emit('fork', worker));
    primary.on('online', (worker) => {
      this.emit('online', worker);
      if (this.options.readyWhen === 'online') this.#markReady(worker);
    });
    primary.on('listening', (worker, address) => {
      this.emit('listening', worker, address);
      this.#markReady(worker);
    });
    primary.on('message', (worker, message, handle) => this.emit('message', worker, message, handle));
    primary.on('disconnect', (worker) => this.emit('disconnect', worker));
    primary.on('exit', (worker, code, signal) => {
      this.emit('exit', worker, code, signal);
      this.#onExit(worker, code);
    });
  }
}

/** Creates a managed cluster; call `start()` to fork its workers. */
export function createCluster(options: ClusterOptions): ManagedCluster {
  return new ManagedCluster(options);
}
