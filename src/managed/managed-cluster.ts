/**
 * `createCluster()`: a supervised cluster for new code and for `corral start`. A thin composition:
 * each lifecycle algorithm lives in its own module, and this file wires them to the primary.
 *
 *   slot supervision, crash loops, fork rate  supervision.ts
 *   one worker: readiness, start timeout, drain  managed-worker.ts
 *   zero-downtime rolling reload              rolling-reload.ts
 *   the shutdown sequence                     shutdown.ts
 *   scaling                                   scaling.ts
 *   signals (SIGTERM, SIGINT, SIGHUP, …)      signals.ts
 *   the runtime corral loads into workers     runtime-link.ts, src/worker/
 *
 * It runs its own node:cluster-compatible primary, so several can live in one process.
 */
import type { SendHandle, Serializable } from 'node:child_process';
import { EventEmitter } from 'node:events';
import {
  ClusterBusyError, ClusterClosedError, ReloadFailedError, StartFailedError, type StartFailure,
} from '../errors.js';
import { ClusterPrimary } from '../primary/cluster-primary.js';
import { resolveExec } from '../primary/settings.js';
import { socketsFromSystemd, type ActivatedSocket } from '../primary/socket-activation.js';
import type { Worker } from '../primary/worker.js';
import type { ExitSignal, WorkerAddress } from '../types.js';
import { systemClock, type Clock, type ClockTimer } from '../util/clock.js';
import { GroupedWarnings } from '../util/grouped-warnings.js';
import { restartDelay } from './backoff.js';
import {
  ManagedWorker, type DrainReason, type ExitInfo, type StartOutcome,
} from './managed-worker.js';
import {
  normalizeOptions, timeout, type ClusterOptions, type ResolvedClusterOptions,
} from './options.js';
import { rollingReload, type ReplaceOutcome } from './rolling-reload.js';
import { RuntimeLink, runtimeEnv, runtimeExecArgv, type RuntimeReport } from './runtime-link.js';
import { planScale, scaleTarget } from './scaling.js';
import { forceShutdown, shutdownSequence, type ShutdownHost, type ShutdownResult } from './shutdown.js';
import { ForkRateLimiter, SlotSupervisor } from './supervision.js';

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

export interface CrashLoopInfo {
  slot: number;
  /** Crashes within the crashLoop window. */
  crashes: number;
  /** ms until the next attempt. */
  retryIn: number;
  /** How the last worker of the slot ended. */
  exitCode: number | null;
  signal: ExitSignal;
}

export interface ReloadResult {
  /** The generation the workers now carry. */
  generation: number;
  /** The slots replaced (all of them). */
  replaced: readonly number[];
  /** ms from the start of the reload until every old worker had exited. */
  duration: number;
}

export interface ScaleResult {
  /** The worker count now configured. */
  workers: number;
  added: readonly number[];
  removed: readonly number[];
}

export type SlotState = 'starting' | 'ready' | 'backoff' | 'crashloop';
export type WorkerLifecycleState = 'starting' | 'ready' | 'draining';

export interface WorkerStatus {
  slot: number;
  id: number;
  pid: number | undefined;
  generation: number;
  state: WorkerLifecycleState;
  /** When it was forked (ms since the epoch). */
  startedAt: number;
  /** When it became ready, if it did. */
  readyAt: number | undefined;
  /** Its latest runtime report (event loop, memory, connections, requests), once one came. */
  report: RuntimeReport | undefined;
}

export interface SlotStatus {
  slot: number;
  state: SlotState;
  /** Restarts of this slot since the cluster started. */
  restarts: number;
  /** Consecutive crashes (0 after a long run). */
  crashes: number;
  /** The worker serving (or starting in) this slot. */
  worker: WorkerStatus | undefined;
}

export interface ClusterStatus {
  name: string;
  state: ClusterState;
  generation: number;
  /** The configured worker count. */
  workers: number;
  slots: SlotStatus[];
  /** Workers on their way out (reload, scale-down, shutdown) and replacements still starting. */
  others: WorkerStatus[];
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
  /** A worker failed to start (it exited before it was ready, or its startTimeout passed). */
  startFailed: [failure: StartFailure];
  /** A slot keeps crashing: it is retried slowly while the other slots keep serving. */
  crashloop: [info: CrashLoopInfo];
  /** A worker began draining (shutdown, reload, scale-down, or a signal it received). */
  draining: [worker: Worker, reason: DrainReason];
  /** A rolling reload began. */
  reloading: [generation: number];
  /** A rolling reload finished: every slot runs the new generation. */
  reload: [result: ReloadResult];
  /** A rolling reload stopped on a failed replacement; the old workers keep serving. */
  reloadFailed: [error: ReloadFailedError];
  /** The worker count changed. */
  scale: [result: ScaleResult];
  /** The shutdown sequence finished: no worker runs any more. */
  closed: [result: ShutdownResult];
  /** A worker's periodic runtime report arrived (every `reportInterval` ms, by default each second). */
  report: [worker: Worker, report: RuntimeReport];
  /** A worker process error (a failed spawn, kill or send) that no promise reports. */
  error: [error: Error, worker: Worker];
}

export type ClusterState = 'idle' | 'starting' | 'running' | 'closing' | 'closed';

/**
 * What a managed cluster runs on, when not its own. `corral start` passes the process's cluster
 * primary (what node:cluster is in that process), so that a `--primary` module's libraries see
 * the managed workers; tests pass a fake clock.
 */
export interface ManagedClusterContext {
  /** A primary that has not forked yet. @default a new ClusterPrimary of its own */
  primary?: ClusterPrimary;
  /** @default the system clock */
  clock?: Clock;
}

/** A worker that exits on its own request sooner than this after its fork counts as crashed. */
const PLANNED_EXIT_MIN_UPTIME = 1000;
/**
 * The cluster forks at most max(4, 2 × workers) times in any one second: room for a full start
 * and a round of restarts right after it (a crash just after start is not delayed), while a crash
 * storm stays a bounded trickle of forks.
 */
const MIN_FORKS_PER_SECOND = 4;
const FORKS_PER_WORKER_PER_SECOND = 2;

interface Slot {
  readonly index: number;
  readonly supervisor: SlotSupervisor;
  /** The worker serving (or starting in) the slot. */
  worker: ManagedWorker | undefined;
  /** Its replacement while a reload starts it. */
  replacement: ManagedWorker | undefined;
  restartTimer: ClockTimer | undefined;
  restarts: number;
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
  readonly #clock: Clock;
  readonly #slots = new Map<number, Slot>();
  /** Every worker process still running, whatever its role. */
  readonly #live = new Set<ManagedWorker>();
  readonly #readyWaiters = new Set<Waiter>();
  readonly #forks: ForkRateLimiter;
  readonly #warnings = new GroupedWarnings();
  #state: ClusterState = 'idle';
  #generation = 1;
  #wasReady = false;
  #closing: Promise<ShutdownResult> | undefined;
  #startError: StartFailedError | undefined;
  /** Reloads and scalings run one at a time, in order. */
  #operations: Promise<unknown> = Promise.resolve();

  constructor(options: ClusterOptions, context: ManagedClusterContext = {}) {
    super();
    this.options = normalizeOptions(options);
    resolveExec({ exec: this.options.exec, cwd: this.options.cwd });
    this.inheritedSockets = socketsFromSystemd();
    this.#clock = context.clock ?? systemClock;
    if (context.primary !== undefined) {
      // A ClusterPrimary takes the systemd sockets by default too.
      this.#primary = context.primary;
      this.#primary.setBalancer(this.options.balancer);
    } else {
      this.#primary = new ClusterPrimary({
        balancer: this.options.balancer,
        inheritedSockets: this.inheritedSockets.map((socket) => socket.fd),
      });
    }
    // Workers see LISTEN_FDS and LISTEN_FDNAMES (they listen with `listen({ fd: 3 })`), but not
    // LISTEN_PID: it names the primary, and code that checks it would take the sockets for its own.
    this.#workerEnv = this.inheritedSockets.length > 0 ? { ...this.options.env, LISTEN_PID: undefined } : this.options.env;
    this.#primary.setupPrimary({
      exec: this.options.exec,
      args: [...this.options.args],
      execArgv: [...runtimeExecArgv(), ...this.options.execArgv],
      cwd: this.options.cwd,
      serialization: this.options.serialization,
      silent: this.options.silent,
      maxServersPerWorker: this.options.maxServersPerWorker,
    });
    this.#forks = new ForkRateLimiter(() => Math.max(MIN_FORKS_PER_SECOND, FORKS_PER_WORKER_PER_SECOND * this.#slots.size), this.#clock);
    for (let index = 0; index < this.options.workers; index += 1) this.#addSlot(index);
    this.#forwardPrimaryEvents();
  }

  get state(): ClusterState {
    return this.#state;
  }

  /** The generation new workers get; a reload increments it. */
  get generation(): number {
    return this.#generation;
  }

  /** The workers serving the slots (one per slot that currently has one), in slot order. */
  get workers(): readonly Worker[] {
    return this.#slotList().flatMap((slot) => (slot.worker === undefined ? [] : [slot.worker.worker]));
  }

  /** Whether every slot has a ready worker. */
  get isReady(): boolean {
    return this.#slotList().every((slot) => slot.worker?.isReady === true);
  }

  /**
   * Forks every worker; resolves once all are ready. If the first workers cannot start (a slot
   * fails `startAttempts` times in a row), it stops the cluster and rejects with
   * `StartFailedError`. Calling it again returns `ready()`.
   */
  start(): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed') {
      return Promise.reject(this.#startError ?? new ClusterClosedError('start()'));
    }
    if (this.#state === 'idle') {
      this.#state = 'starting';
      try {
        for (const slot of this.#slotList()) this.#fill(slot);
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
      return Promise.reject(this.#startError ?? new ClusterClosedError('wait for ready()'));
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
   * Zero-downtime rolling reload (rolling-reload.ts): each slot gets a new worker, started from
   * the script on disk, before its old worker drains. Resolves when done; rejects with
   * `ReloadFailedError` if a replacement fails (the old workers keep serving).
   */
  reload(): Promise<ReloadResult> {
    return this.#enqueue('reload', () => this.#reload());
  }

  /**
   * Sets the worker count: `n`, or `'+n'` / `'-n'` relative to the current one (scaling.ts).
   * Resolves once the new workers are ready (or failed their first start) and the removed ones
   * have drained and exited.
   */
  scale(workers: number | string): Promise<ScaleResult> {
    try {
      scaleTarget(workers, this.#slots.size); // Bad requests fail now, not in the queue.
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return this.#enqueue('scale', () => this.#scale(workers));
  }

  /**
   * The shutdown sequence (shutdown.ts): restarts stop, every worker drains (no new connections,
   * in-flight requests finish, onShutdown hooks run), and workers still running after `timeout`
   * ms (default shutdownTimeout) are SIGKILLed. Resolves once all exited; `clean` says whether
   * each exited with code 0 on its own. `force: true` SIGKILLs at once (also when a close is
   * already under way). Calling it again returns the same promise.
   */
  close(options: { timeout?: number; force?: boolean } = {}): Promise<ShutdownResult> {
    if (this.#closing === undefined) {
      try {
        this.#closing = this.#close(timeout(options.timeout, 'close({ timeout })', this.options.shutdownTimeout));
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    }
    if (options.force === true) forceShutdown(this.#shutdownHost());
    return this.#closing;
  }

  /** The slot `worker` serves (or starts in, or drains from); undefined for a worker not of this cluster. */
  slotOf(worker: Worker): number | undefined {
    for (const managed of this.#live) if (managed.worker === worker) return managed.slot;
    return undefined;
  }

  /** A snapshot of every slot and worker. */
  status(): ClusterStatus {
    const serving = new Set<ManagedWorker>();
    const slots = this.#slotList().map((slot): SlotStatus => {
      if (slot.worker !== undefined) serving.add(slot.worker);
      return {
        slot: slot.index,
        state: this.#slotState(slot),
        restarts: slot.restarts,
        crashes: slot.supervisor.crashes,
        worker: slot.worker === undefined ? undefined : workerStatus(slot.worker),
      };
    });
    return {
      name: this.options.name,
      state: this.#state,
      generation: this.#generation,
      workers: this.#slots.size,
      slots,
      others: [...this.#live].filter((worker) => !serving.has(worker)).map(workerStatus),
    };
  }

  async #close(timeout: number): Promise<ShutdownResult> {
    const waiters = [...this.#readyWaiters];
    this.#readyWaiters.clear();
    if (this.#startError === undefined) {
      for (const waiter of waiters) waiter.reject(new ClusterClosedError('wait for ready()'));
    }
    let result: ShutdownResult | undefined;
    try {
      result = await shutdownSequence(this.#shutdownHost(), timeout);
      return result;
    } finally {
      this.#state = 'closed';
      // A failed start is reported once nothing of the cluster runs any more.
      if (this.#startError !== undefined) for (const waiter of waiters) waiter.reject(this.#startError);
      if (result !== undefined) this.emit('closed', result);
    }
  }

  #shutdownHost(): ShutdownHost {
    return {
      stopSupervision: () => {
        this.#state = 'closing';
        for (const slot of this.#slots.values()) this.#clock.clearTimeout(slot.restartTimer);
      },
      liveWorkers: () => [...this.#live],
      drain: (worker, timeout) => this.#drain(worker, 'shutdown', timeout),
    };
  }

  #enqueue<T>(action: string, operation: () => Promise<T>): Promise<T> {
    const run = (): Promise<T> => {
      if (this.#state === 'closing' || this.#state === 'closed') return Promise.reject(new ClusterClosedError(action));
      if (this.#state === 'idle') return Promise.reject(new ClusterBusyError(action, this.#state));
      return operation();
    };
    const result = this.#operations.then(run, run);
    this.#operations = result.catch(() => {});
    return result;
  }

  async #reload(): Promise<ReloadResult> {
    const generation = ++this.#generation;
    const startedAt = this.#clock.now();
    this.emit('reloading', generation);
    const result = await rollingReload(
      this.#slotList().map((slot) => slot.index),
      { replace: (slot) => this.#replace(slot, generation) },
      this.options.reloadConcurrency,
    );
    if (result.failure !== undefined) {
      const error = new ReloadFailedError(result.failure, result.replaced);
      this.emit('reloadFailed', error);
      throw error;
    }
    const summary: ReloadResult = { generation, replaced: result.replaced, duration: this.#clock.now() - startedAt };
    this.emit('reload', summary);
    return summary;
  }

  /** rolling-reload.ts's host operation: start a replacement for `index`, then retire the old worker. */
  async #replace(index: number, generation: number): Promise<ReplaceOutcome> {
    const slot = this.#slots.get(index);
    await this.#forkAllowed();
    if (slot === undefined || this.#isClosing()) throw new ClusterClosedError('finish the reload');
    const fresh = this.#spawn(slot, generation);
    slot.replacement = fresh;
    const outcome = await fresh.started;
    slot.replacement = undefined;
    if (this.#isClosing()) throw new ClusterClosedError('finish the reload');
    if (!outcome.ok) {
      fresh.kill();
      await fresh.exited;
      this.emit('startFailed', outcome.failure);
      // The old worker may have died meanwhile; its slot is refilled as after any crash.
      if (slot.worker === undefined && slot.restartTimer === undefined) this.#scheduleFork(slot, 0);
      return { ok: false, failure: outcome.failure };
    }
    const old = slot.worker;
    this.#clock.clearTimeout(slot.restartTimer);
    slot.restartTimer = undefined;
    slot.worker = fresh;
    slot.supervisor.forked();
    slot.supervisor.ready();
    this.#checkReady();
    const retired = old === undefined ? Promise.resolve() : this.#drain(old, 'reload', this.options.shutdownTimeout);
    return { ok: true, retired };
  }

  async #scale(request: number | string): Promise<ScaleResult> {
    const target = scaleTarget(request, this.#slots.size);
    const plan = planScale([...this.#slots.keys()], target);
    const done: Promise<unknown>[] = [];
    for (const index of plan.remove) {
      const slot = this.#slots.get(index)!;
      this.#slots.delete(index);
      this.#clock.clearTimeout(slot.restartTimer);
      for (const worker of [slot.worker, slot.replacement]) {
        if (worker !== undefined) done.push(this.#drain(worker, 'scale', this.options.shutdownTimeout));
      }
    }
    for (const index of plan.add) {
      const slot = this.#addSlot(index);
      await this.#forkAllowed();
      if (this.#isClosing()) throw new ClusterClosedError('finish scaling');
      done.push(this.#fill(slot).started);
    }
    this.#checkReady();
    await Promise.all(done);
    const result: ScaleResult = { workers: target, added: plan.add, removed: plan.remove };
    this.emit('scale', result);
    return result;
  }

  #drain(worker: ManagedWorker, reason: DrainReason, timeout: number): Promise<ExitInfo> {
    if (worker.draining === undefined && !worker.hasExited) this.emit('draining', worker.worker, reason);
    return worker.drain(reason, timeout, () => this.#primary.stopRouting(worker.worker));
  }

  #addSlot(index: number): Slot {
    const slot: Slot = {
      index,
      supervisor: new SlotSupervisor(this.options, this.#clock),
      worker: undefined,
      replacement: undefined,
      restartTimer: undefined,
      restarts: 0,
    };
    this.#slots.set(index, slot);
    this.#wasReady = false;
    return slot;
  }

  /** Forks the slot's worker now. */
  #fill(slot: Slot): ManagedWorker {
    slot.restartTimer = undefined;
    const worker = this.#spawn(slot, this.#generation);
    slot.worker = worker;
    slot.supervisor.forked();
    return worker;
  }

  #spawn(slot: Slot, generation: number): ManagedWorker {
    this.#forks.record();
    const env = {
      ...this.#workerEnv,
      ...runtimeEnv(slot.index, { shutdownTimeout: this.options.shutdownTimeout, reportInterval: this.options.reportInterval }),
    };
    const worker = this.#primary.fork(env);
    const managed = new ManagedWorker(worker, new RuntimeLink(worker.process), {
      slot: slot.index,
      generation,
      readyWhen: this.options.readyWhen,
      startTimeout: this.options.startTimeout,
      clock: this.#clock,
    });
    this.#live.add(managed);
    worker.on('error', (error) => {
      if (this.listenerCount('error') > 0) this.emit('error', error, worker);
      else this.#warnings.warn(worker.id, 'CORRAL_WORKER_ERROR', 'Warning', `corral: worker ${worker.id}: ${error.message}`);
    });
    // A worker that received SIGTERM/SIGINT itself drains on its own; stop routing to it too.
    managed.link.on('draining', () => void this.#drain(managed, 'signal', this.options.shutdownTimeout));
    managed.link.on('report', (report) => this.emit('report', worker, report));
    void managed.started.then((outcome) => this.#onStarted(managed, outcome));
    void Promise.all([managed.exited, managed.started]).then(([exit, started]) => this.#onExit(managed, exit, started));
    return managed;
  }

  #onStarted(worker: ManagedWorker, outcome: StartOutcome): void {
    const slot = this.#slots.get(worker.slot);
    if (!outcome.ok) {
      // A replacement's failure is reported by the reload; a draining worker's does not count.
      if (slot?.replacement !== worker && worker.draining === undefined && !this.#isClosing()) {
        this.emit('startFailed', outcome.failure);
      }
      return;
    }
    if (slot?.worker !== worker) return;
    slot.supervisor.ready();
    this.#checkReady();
  }

  #onExit(worker: ManagedWorker, exit: ExitInfo, started: StartOutcome): void {
    this.#live.delete(worker);
    const slot = this.#slots.get(worker.slot);
    // Retired, scaled away, or a replacement (the reload deals with it): nothing to refill.
    if (slot === undefined || slot.worker !== worker) return;
    slot.worker = undefined;
    if (this.#isClosing()) return;
    this.#wasReady = false;
    const uptime = this.#clock.now() - worker.forkedAt;
    // A planned exit (it drained on request, or disconnected itself, with exit code 0, after
    // running a while) is refilled at once. Anything else is a crash and backs off, whatever path
    // led to it: cluster.worker.disconnect() is Node's documented way to leave after a fatal error.
    const planned = worker.worker.exitedAfterDisconnect === true && exit.code === 0 && uptime >= PLANNED_EXIT_MIN_UPTIME;
    const verdict = slot.supervisor.exited({
      planned, failedStart: !started.ok, uptime, clusterStarting: this.#state === 'starting',
    });
    if (verdict.action === 'give-up') {
      if (!started.ok) this.#giveUp(new StartFailedError(started.failure, verdict.attempts));
      return;
    }
    if (verdict.action === 'none' || slot.replacement !== undefined) return;
    slot.restarts += 1;
    this.emit('restart', { slot: slot.index, previous: worker.worker, crashes: verdict.crashes, delay: verdict.delay });
    if (verdict.enteredCrashloop) {
      this.emit('crashloop', {
        slot: slot.index, crashes: verdict.crashes, retryIn: verdict.delay, exitCode: exit.code, signal: exit.signal,
      });
    }
    this.#scheduleFork(slot, verdict.delay);
  }

  #giveUp(error: StartFailedError): void {
    if (this.#startError !== undefined) return;
    this.#startError = error;
    void this.close();
  }

  #scheduleFork(slot: Slot, delay: number): void {
    slot.restartTimer = this.#clock.setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.#isClosing() || this.#slots.get(slot.index) !== slot || slot.worker !== undefined) return;
      // However each slot's policy is set, the cluster forks at most max(4, 2 × workers) times a
      // second: a crash storm must not become a fork storm.
      const wait = this.#forks.wait();
      if (wait > 0) {
        this.#scheduleFork(slot, wait);
        return;
      }
      try {
        this.#fill(slot);
      } catch (error) {
        // The script became unreadable: say why, and keep trying on the backoff schedule.
        const { message, code } = error as Error & { code?: string };
        process.emitWarning(message, { code: code ?? 'CORRAL_ERR_EXEC_NOT_FOUND' });
        if (this.options.restart !== false) this.#scheduleFork(slot, restartDelay(slot.supervisor.crashes, this.options.restart));
      }
    }, delay);
  }

  /** Waits until the fork rate bound lets another fork through. */
  async #forkAllowed(): Promise<void> {
    for (let wait = this.#forks.wait(); wait > 0; wait = this.#forks.wait()) {
      await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, wait));
    }
  }

  #checkReady(): void {
    if (!this.isReady || this.#isClosing() || this.#wasReady) return;
    this.#wasReady = true;
    this.#state = 'running';
    for (const waiter of this.#readyWaiters) waiter.resolve();
    this.#readyWaiters.clear();
    this.emit('ready');
  }

  #slotState(slot: Slot): SlotState {
    if (slot.supervisor.crashloop) return 'crashloop';
    if (slot.worker === undefined) return 'backoff';
    return slot.worker.isReady ? 'ready' : 'starting';
  }

  #slotList(): Slot[] {
    return [...this.#slots.values()].sort((a, b) => a.index - b.index);
  }

  #isClosing(): boolean {
    return this.#state === 'closing' || this.#state === 'closed';
  }

  #forwardPrimaryEvents(): void {
    const primary = this.#primary;
    primary.on('fork', (worker) => this.emit('fork', worker));
    primary.on('online', (worker) => this.emit('online', worker));
    primary.on('listening', (worker, address) => this.emit('listening', worker, address));
    primary.on('message', (worker, message, handle) => this.emit('message', worker, message, handle));
    primary.on('disconnect', (worker) => this.emit('disconnect', worker));
    primary.on('exit', (worker, code, signal) => this.emit('exit', worker, code, signal));
  }
}

function workerStatus(worker: ManagedWorker): WorkerStatus {
  return {
    slot: worker.slot,
    id: worker.worker.id,
    pid: worker.pid,
    generation: worker.generation,
    state: worker.draining !== undefined ? 'draining' : worker.isReady ? 'ready' : 'starting',
    startedAt: worker.forkedAt,
    readyAt: worker.readyAt,
    report: worker.link.report,
  };
}

/** Creates a managed cluster; call `start()` to fork its workers. */
export function createCluster(options: ClusterOptions, context?: ManagedClusterContext): ManagedCluster {
  return new ManagedCluster(options, context);
}
