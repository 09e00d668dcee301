/**
 * `createCluster()`: a supervised cluster for new code and for `corral start`. This file is the
 * cluster's state machine (one writer of its state, `#transition()`) and its public methods; each
 * lifecycle algorithm lives in its own module:
 *
 *   the slot table: fill, replace, refill       slots.ts
 *   slot supervision, crash loops, fork rate    supervision.ts
 *   one worker: readiness, start timeout, drain managed-worker.ts
 *   zero-downtime rolling reload                rolling-reload.ts
 *   the shutdown sequence                       shutdown.ts
 *   scaling                                     scaling.ts
 *   signals (SIGTERM, SIGINT, SIGHUP, …)        signals.ts
 *   status snapshots                            status.ts
 *   public types and events                     types.ts
 *   the runtime corral loads into workers       runtime-link.ts, src/worker/
 *
 * It runs its own node:cluster-compatible primary unless one is given (ManagedClusterContext),
 * so several can live in one process.
 */
import type { Serializable } from 'node:child_process';
import { EventEmitter } from 'node:events';
import {
  ClusterClosedError, ExecNotFoundError, OperationCancelledError, ReloadFailedError, type StartFailedError,
} from '../errors.js';
import { nameOf } from '../primary/balancers/balancers.js';
import { ClusterPrimary } from '../primary/cluster-primary.js';
import { resolveExec } from '../primary/settings.js';
import { socketsFromSystemd, type ActivatedSocket } from '../primary/socket-activation.js';
import type { Worker } from '../primary/worker.js';
import { systemClock, type Clock, type ClockTimer } from '../util/clock.js';
import { emitWarning, emitWarningOnce } from '../warnings.js';
import { AdminServer } from '../observability/admin-server.js';
import { kOpenAdmin } from '../internal/symbols.js';
import { ClusterObserver } from '../observability/cluster-observer.js';
import { DashboardFeed } from '../observability/dashboard-feed.js';
import type { ExpositionFormat } from '../observability/exposition.js';
import type { DrainReason, ExitInfo, ManagedWorker } from './managed-worker.js';
import {
  normalizeOptions, timeout, type ClusterOptions, type ResolvedClusterOptions,
} from './options.js';
import { OPTION_TABLE } from '../options/table.js';
import { cpuBudget } from '../options/cpu-budget.js';
import { OrphanGuard } from './orphan-guard.js';
import { inspectorPlan, workerNodeOptions, type InspectorPlan } from './inspector-ports.js';
import { rollingReload } from './rolling-reload.js';
import releaseTerminal from '../worker/release-terminal.cjs';
import { runtimeExecArgv } from './runtime-link.js';
import { planScale, scaleTarget } from './scaling.js';
import { forceShutdown, shutdownSequence, type ShutdownHost, type ShutdownResult } from './shutdown.js';
import { OperationQueue } from './operation-queue.js';
import { SlotTable, startBatchSize } from './slots.js';
import { killedWorker, type KilledWorker } from './worker-exit.js';
import { clusterStatus } from './status.js';
import type {
  ClusterState, ClusterStatus, ManagedClusterContext, ManagedClusterEvents, Readiness, ReloadResult, ScaleResult,
} from './types.js';

export type * from './types.js';

/**
 * How long a stop waits, once every worker has exited, for the operations it overtook to settle
 * (they fail at once then; the bound only keeps a stop from ever hanging on one).
 */
const OPERATIONS_SETTLE_TIMEOUT = 1_000;

/** The moves the cluster's state may make; anything else is a bug in corral. */
const TRANSITIONS: Readonly<Record<ClusterState, readonly ClusterState[]>> = {
  idle: ['starting', 'closing'],
  starting: ['running', 'closing'],
  running: ['closing'],
  closing: ['closed'],
  closed: [],
};

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

export class ManagedCluster extends EventEmitter<ManagedClusterEvents> {
  readonly options: ResolvedClusterOptions;
  /** The listening sockets systemd passed by socket activation, shared with the workers (else empty). */
  readonly inheritedSockets: readonly ActivatedSocket[];
  readonly #primary: ClusterPrimary;
  readonly #clock: Clock;
  readonly #slots: SlotTable;
  readonly #orphanGuard = new OrphanGuard();
  readonly #readyWaiters = new Set<Waiter>();
  #state: ClusterState = 'idle';
  /** The generation the cluster serves: that of the latest reload that finished. */
  #generation = 1;
  /** The highest generation handed out (a failed reload's number is not reused). */
  #lastGeneration = 1;
  /** The generation a reload under way rolls out. */
  #reloading: number | undefined;
  #wasReady = false;
  /** Closes the servers no replacement rejoined, startTimeout after the cluster became ready. */
  #vacantCheck: ClockTimer | undefined;
  #closing: Promise<ShutdownResult> | undefined;
  /** Ends the shutdown delay early (a forced stop). */
  #endShutdownDelay: (() => void) | undefined;
  #startError: StartFailedError | undefined;
  /** Reloads, scalings and recycles: one at a time, in order (operation-queue.ts). */
  readonly #operations = new OperationQueue({ state: () => this.#state });
  /** The environment new workers get (options.env until setEnv()). */
  #env: Readonly<Record<string, string | undefined>>;
  readonly #prepareReload: (() => Promise<void>) | undefined;
  readonly #observer: ClusterObserver;
  /** The admin server (`admin`), once start() opened it. */
  #admin: { server: AdminServer; feed: DashboardFeed } | undefined;
  #adminOpened: Promise<void> | undefined;

  constructor(options: ClusterOptions, context: ManagedClusterContext = {}) {
    super();
    this.options = normalizeOptions(options);
    resolveExec({ exec: this.options.exec, cwd: this.options.cwd });
    // A bad inspector port fails here, not at each fork (inspector-ports.ts).
    inspectorPlan(this.options.execArgv, workerNodeOptions(this.options.env));
    this.inheritedSockets = socketsFromSystemd();
    this.#clock = context.clock ?? systemClock;
    this.#env = this.options.env;
    this.#prepareReload = context.prepareReload;
    if (context.primary !== undefined) {
      // A ClusterPrimary takes the systemd sockets by default too.
      this.#primary = context.primary;
      this.#primary.setBalancer(this.options.balancer, { stickyHeader: this.options.stickyHeader, stickyProxyHops: this.options.stickyProxyHops });
    } else {
      this.#primary = new ClusterPrimary({
        balancer: this.options.balancer,
        ...(this.options.stickyHeader === undefined ? {} : { stickyHeader: this.options.stickyHeader, stickyProxyHops: this.options.stickyProxyHops }),
        inheritedSockets: this.inheritedSockets.map((socket) => socket.fd),
      });
    }
    this.#primary.setupPrimary({
      exec: this.options.exec,
      args: [...this.options.args],
      execArgv: [...runtimeExecArgv(), ...this.options.execArgv],
      cwd: this.options.cwd,
      serialization: this.options.serialization,
      silent: this.options.silent,
      maxServersPerWorker: this.options.maxServersPerWorker,
    });
    this.#observer = new ClusterObserver(this, this.#clock, {
      onShadowed: (names) => emitWarning('CORRAL_METRICS_SHADOWED', `corral: the app's prom-client metrics ${names.join(', ')} ` +
        "have the names of the primary's own process metrics, so /metrics leaves them out (each worker's CPU and memory are " +
        'corral_worker_* series). Give them a prefix (collectDefaultMetrics({ prefix })) to keep them.'),
      onAppError: (message) => emitWarningOnce('CORRAL_APP_METRICS_FAILED', `corral: a worker's prom-client metrics could not be ` +
        `collected for /metrics: ${message}. The worker's previous figures were used.`),
    });
    this.#slots = new SlotTable({
      options: this.options,
      clock: this.#clock,
      primary: this.#primary,
      orphanGuard: this.#orphanGuard,
      blockingOutput: context.blockingOutput === true,
      // Workers see LISTEN_FDS and LISTEN_FDNAMES (they listen with `listen({ fd: 3 })`), but not
      // LISTEN_PID: it names the primary, and code that checks it would take the sockets for its own.
      // Nor systemd's notify socket and watchdog: the primary is the service systemd watches, and a
      // worker's READY=1 or missing ping would speak for it.
      workerEnv: () => ({
        ...this.#env,
        ...(this.inheritedSockets.length > 0 ? { LISTEN_PID: undefined } : {}),
        ...(process.env['NOTIFY_SOCKET'] === undefined ? {} : { NOTIFY_SOCKET: undefined, WATCHDOG_USEC: undefined, WATCHDOG_PID: undefined }),
      }),
      events: this,
      // A slot refilled during a reload starts from the code on disk, which is the reload's.
      generation: () => this.#reloading ?? this.#generation,
      isClosing: () => this.#isClosing(),
      isStarting: () => this.#state === 'starting',
      checkReady: () => this.#checkReady(),
      readinessLost: () => {
        this.#wasReady = false;
        this.#clock.clearTimeout(this.#vacantCheck);
      },
      giveUp: (error) => this.#giveUp(error),
      drain: (worker, reason, ms) => this.#drain(worker, reason, ms),
      recycle: (worker) => this.#recycle(worker),
      forked: (worker) => this.#observer.watch(worker),
    });
    for (let index = 0; index < this.options.workers; index += 1) this.#slots.add(index);
    warnIfManyWorkers(this.options.workers);
    this.#forwardPrimaryEvents();
  }

  get state(): ClusterState {
    return this.#state;
  }

  /** The generation the cluster serves: 1 at first, then that of the latest reload that finished. */
  get generation(): number {
    return this.#generation;
  }

  /** The workers serving the slots (one per slot that currently has one), in slot order. */
  get workers(): readonly Worker[] {
    return this.#slots.list().flatMap((slot) => (slot.worker === undefined ? [] : [slot.worker.worker]));
  }

  /** Whether every slot has a ready worker. */
  get isReady(): boolean {
    return this.#slots.isReady;
  }

  /**
   * Forks every worker; resolves once all are ready. If the first workers cannot start (a slot
   * fails `startAttempts` times in a row), it stops the cluster and rejects with
   * `StartFailedError`. Calling it again returns `ready()`.
   */
  start(): Promise<void> {
    if (this.#isClosing()) return Promise.reject(this.#startError ?? new ClusterClosedError('start()'));
    if (this.#state === 'idle') {
      this.#transition('starting');
      const ready = this.ready();
      // The admin port first: one that cannot be opened fails the start before anything forks.
      // Many workers start in batches (slots.ts fillInTurn()); the first batch forks then.
      const forked = this.#openAdmin().then(() => Promise.all(this.#slots.list().map((slot) => this.#slots.fillInTurn(slot))));
      return forked.then(() => ready, (error: unknown) => {
        // Nothing can run (e.g. the script vanished since createCluster()): undo and report.
        ready.catch(() => {});
        void this.close();
        throw error instanceof Error ? error : new Error(String(error));
      });
    }
    return this.ready();
  }

  /** Resolves when every slot has a ready worker; rejects if the cluster closes first. */
  ready(): Promise<void> {
    if (this.#isClosing()) return Promise.reject(this.#startError ?? new ClusterClosedError('wait for ready()'));
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
    // A reload asked for during a reload (SIGHUP, `corral reload`, code) runs after it, so that the
    // cluster ends on the newest code; any number of such requests make that one reload.
    return this.#operations.reload(() => this.#reload());
  }

  /**
   * Sets the worker count: `n`, or `'+n'` / `'-n'` relative to the current one (scaling.ts).
   * Resolves once the new workers are ready (or failed their first start) and the removed ones
   * have drained and exited.
   */
  scale(workers: number | string): Promise<ScaleResult> {
    let target: number;
    try {
      target = scaleTarget(workers, this.#slots.size); // Bad requests fail now, not in the queue.
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return this.#operations.enqueue('scale', () => this.#scale(workers), `scale to ${target} worker${target === 1 ? '' : 's'}`);
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
    if (options.force === true) {
      this.#endShutdownDelay?.();
      forceShutdown(this.#shutdownHost());
    }
    return this.#closing;
  }

  /**
   * The environment workers forked from now on get, instead of `options.env` (checked as that
   * option is); running workers keep theirs until a reload replaces them.
   */
  setEnv(env: Readonly<Record<string, string | undefined>>): void {
    const resolved = OPTION_TABLE.env.resolve(env, {});
    inspectorPlan(this.options.execArgv, workerNodeOptions(resolved));
    this.#env = resolved;
  }

  /** The debugger the workers' Node options ask for (inspector-ports.ts): its host and base port; undefined if none. */
  get inspector(): InspectorPlan | undefined {
    return inspectorPlan(this.options.execArgv, workerNodeOptions(this.#env));
  }

  /** The slot `worker` serves (or starts in, or drains from); undefined for a worker not of this cluster. */
  slotOf(worker: Worker): number | undefined {
    return this.#slots.slotOf(worker);
  }

  /** The admin server's URL (`admin`), such as `http://127.0.0.1:9100`, once start() opened it. */
  get adminUrl(): string | undefined {
    return this.#admin?.server.url;
  }

  /**
   * Every series `/metrics` serves, in Prometheus's text format or OpenMetrics: corral's own (the
   * primary's process metrics, the cluster, each worker) and the app's prom-client metrics summed
   * over the workers. For serving them from a server of one's own; `admin` serves them itself.
   */
  metrics(format: ExpositionFormat = 'prometheus'): Promise<string> {
    return this.#observer.metrics({ status: this.status(), handoffs: this.#primary.handoffStats }, format);
  }

  /** A snapshot of every slot and worker. */
  status(): ClusterStatus {
    return clusterStatus({
      name: this.options.name,
      balancer: nameOf(this.options.balancer),
      state: this.#state,
      generation: this.#generation,
      reloading: this.#reloading,
      slots: this.#slots.list(),
      live: this.#slots.live(),
      health: this.#slots.healthCounts,
      exits: this.#slots.exitCounts,
    });
  }

  /**
   * @internal Opens the admin server (`admin`) now, before start(), which then keeps it; rejects
   * with AdminListenError. `corral start` opens it before it says that workers are starting.
   */
  [kOpenAdmin](): Promise<void> {
    return this.#openAdmin();
  }

  /**
   * @internal The terminal of this process hung up (signals.ts): the primary and every worker let
   * go of it (src/worker/release-terminal.cts), so that nothing fails writing to it or exiting.
   */
  releaseTerminal(): void {
    releaseTerminal();
    for (const worker of this.#slots.live()) worker.link.terminalGone();
  }

  /** The one writer of the cluster's state. */
  #transition(to: ClusterState): void {
    if (!TRANSITIONS[this.#state].includes(to)) throw new Error(`corral: internal error: the cluster cannot go from ${this.#state} to ${to}`);
    this.#state = to;
    // While the cluster runs, a lost worker's replacement is coming (unless restarts are off or
    // its slot crash-loops): the port stays open for it.
    this.#primary.holdServers(to === 'starting' || to === 'running' ? (worker) => this.#slots.refills(worker) : undefined);
  }

  async #close(timeout: number): Promise<ShutdownResult> {
    const waiters = [...this.#readyWaiters];
    this.#readyWaiters.clear();
    if (this.#startError === undefined) {
      for (const waiter of waiters) waiter.reject(new ClusterClosedError('wait for ready()'));
    }
    let result: ShutdownResult | undefined;
    try {
      await this.#shutdownDelay();
      const sequence = await shutdownSequence(this.#shutdownHost(), timeout);
      // What the stop overtook (each settled by now: its workers have exited), said in its
      // result: a stop that drained cleanly is clean whatever was under way.
      await this.#settled(this.#operations.settled(), OPERATIONS_SETTLE_TIMEOUT);
      result = { ...sequence, cancelled: [...this.#operations.cancelled()] };
      return result;
    } finally {
      this.#orphanGuard.close();
      this.#clock.clearTimeout(this.#vacantCheck);
      if (this.#admin !== undefined) {
        this.#admin.feed.close();
        await this.#admin.server.close();
      }
      this.#transition('closed');
      // A failed start is reported once nothing of the cluster runs any more.
      if (this.#startError !== undefined) for (const waiter of waiters) waiter.reject(this.#startError);
      if (result !== undefined) this.emit('closed', result);
    }
  }

  /** Opens the admin server once, whether [kOpenAdmin]() or start() asks first. */
  #openAdmin(): Promise<void> {
    this.#adminOpened ??= this.#listenAdmin();
    return this.#adminOpened;
  }

  async #listenAdmin(): Promise<void> {
    const address = this.options.admin;
    if (address === undefined) return;
    const feed = new DashboardFeed({
      name: this.options.name,
      status: () => this.status(),
      handoffs: () => this.#primary.handoffStats,
    }, this);
    try {
      const server = await AdminServer.open(address, { feed, metrics: (format) => this.metrics(format), readiness: () => this.readiness() });
      this.#admin = { server, feed };
    } catch (error) {
      feed.close();
      throw error;
    }
  }

  /**
   * `shutdownDelay`: the cluster stops being ready at once (`/readyz` 503: a load balancer stops
   * sending new connections) and keeps serving for that long, then drains. Nothing is refilled
   * meanwhile; a forced stop ends the wait.
   */
  async #shutdownDelay(): Promise<void> {
    const delay = this.options.shutdownDelay;
    // Only a cluster that has been ready (in a load balancer's endpoints) has connections to let settle.
    const serving = this.#state === 'running';
    if (!this.#isClosing()) this.#transition('closing');
    if (delay <= 0 || !serving) return;
    await new Promise<void>((resolve) => {
      const timer = this.#clock.setTimeout(() => resolve(), delay);
      this.#endShutdownDelay = () => {
        this.#clock.clearTimeout(timer);
        resolve();
      };
    });
    this.#endShutdownDelay = undefined;
  }

  /** Waits for `promise` to settle, `ms` at most (on the cluster's clock). */
  async #settled(promise: Promise<unknown>, ms: number): Promise<void> {
    let timer: ReturnType<Clock['setTimeout']> | undefined;
    await Promise.race([promise.catch(() => {}), new Promise<void>((resolve) => { timer = this.#clock.setTimeout(resolve, ms); })]);
    this.#clock.clearTimeout(timer);
  }

  /**
   * Whether the cluster should get new connections (`/readyz`): every slot has a ready worker and
   * no stop is under way. `reason` says why not.
   */
  readiness(): Readiness {
    const ready = this.#slots.list().filter((slot) => slot.worker?.isReady === true).length;
    const workers = this.#slots.size;
    const reason: Readiness['reason'] = this.#state === 'closed' ? 'closed'
      : this.#state === 'closing' ? 'shutting-down'
        : this.#state === 'idle' || (this.#state === 'starting' && !this.isReady) ? 'starting'
          : this.isReady ? undefined : 'slots-not-ready';
    return { ready: reason === undefined, ...(reason === undefined ? {} : { reason }), slots: { ready, configured: workers }, state: this.#state };
  }

  #shutdownHost(): ShutdownHost {
    return {
      stopSupervision: () => {
        if (!this.#isClosing()) this.#transition('closing');
        this.#slots.stopRefills();
      },
      liveWorkers: () => this.#slots.live(),
      drain: (worker, ms) => this.#drain(worker, 'shutdown', ms),
    };
  }

  async #reload(): Promise<ReloadResult> {
    await this.#prepareReload?.();
    const generation = ++this.#lastGeneration;
    const startedAt = this.#clock.now();
    this.#reloading = generation;
    this.emit('reloading', generation);
    let result: Awaited<ReturnType<typeof rollingReload>>;
    try {
      result = await rollingReload(
        this.#slots.list().map((slot) => slot.index),
        { replace: (slot) => this.#slots.replaceSlot(slot, generation, 'reload') },
        this.options.reloadConcurrency,
      );
    } finally {
      this.#reloading = undefined;
    }
    if (result.failure === undefined) this.#generation = generation;
    if (result.failure !== undefined) {
      const error = new ReloadFailedError(result.failure, result.replaced);
      this.emit('reloadFailed', error);
      throw error;
    }
    const summary: ReloadResult = { generation, replaced: result.replaced, duration: this.#clock.now() - startedAt, killed: result.killed };
    this.emit('reload', summary);
    return summary;
  }

  async #scale(request: number | string): Promise<ScaleResult> {
    const target = scaleTarget(request, this.#slots.size);
    const plan = planScale(this.#slots.indexes(), target);
    const done: Promise<unknown>[] = [];
    const killed: KilledWorker[] = [];
    for (const index of plan.remove) {
      const slot = this.#slots.remove(index)!;
      for (const worker of [slot.worker, slot.replacement]) {
        if (worker === undefined) continue;
        done.push(this.#drain(worker, 'scale', this.options.shutdownTimeout).then((exit) => {
          const kill = killedWorker(worker, exit);
          if (kill !== undefined) killed.push(kill);
        }));
      }
    }
    warnIfManyWorkers(target);
    for (const index of plan.add) {
      const slot = this.#slots.add(index);
      // In batches, as at the start (slots.ts fillInTurn()).
      done.push(this.#slots.fillInTurn(slot).then(async (worker) => {
        // A stop that began meanwhile stops the new workers with the rest: the scale did not happen.
        if (worker === undefined || (!(await worker.started).ok && this.#isClosing())) throw new OperationCancelledError('scale');
      }));
    }
    this.#checkReady();
    await Promise.all(done);
    const result: ScaleResult = { workers: target, added: plan.add, removed: plan.remove, killed: killed.sort((a, b) => a.slot - b.slot) };
    this.emit('scale', result);
    return result;
  }

  /**
   * Recycles `worker` (a health limit: maxMemory, maxRequests, maxAge) through the one-slot
   * replacement: its replacement is ready before it drains, so the slot never goes unserved.
   * Recycles queue with reloads and scalings, so at most one slot is recycled at a time and
   * never during a reload (which replaces the worker anyway). Resolves false if the replacement
   * failed to start, or could not be forked (the script became unreadable: said as
   * CORRAL_EXEC_UNREADABLE; anything else as CORRAL_RECYCLE_FAILED), so that the worker is tried
   * again; true otherwise, including when
   * the recycle became moot or the cluster closed (its shutdown ends the worker).
   */
  #recycle(worker: ManagedWorker): Promise<boolean> {
    return this.#operations.enqueue('recycle', async () => {
      const slot = this.#slots.get(worker.slot);
      // Replaced, drained or gone meanwhile (a reload, a scale-down, a crash): nothing to do.
      if (slot?.worker !== worker || worker.draining !== undefined || worker.hasExited) return true;
      const outcome = await this.#slots.replaceSlot(worker.slot, this.#generation, 'recycle');
      if (!outcome.ok) return false;
      await outcome.retired;
      return true;
    }).catch((error: unknown) => {
      if (this.#isClosing() || error instanceof OperationCancelledError || error instanceof ClusterClosedError) return true;
      const message = error instanceof Error ? error.message : String(error);
      emitWarning(error instanceof ExecNotFoundError ? 'CORRAL_EXEC_UNREADABLE' : 'CORRAL_RECYCLE_FAILED',
        `Worker ${worker.worker.id} (slot ${worker.slot}) could not be recycled: ${message}. ` +
        `It keeps serving, and is recycled again in ${this.options.crashLoop.retryDelay} ms (crashLoop.retryDelay).`);
      return false;
    });
  }

  #drain(worker: ManagedWorker, reason: DrainReason, ms: number): Promise<ExitInfo> {
    const first = worker.draining === undefined && !worker.hasExited;
    if (first) this.emit('draining', worker.worker, reason);
    const exited = worker.drain(reason, ms, () => this.#primary.stopRouting(worker.worker));
    if (first) {
      // Said once per worker, whichever drain reached it first ('killed': the log, /metrics).
      void exited.then((exit) => {
        const kill = killedWorker(worker, exit);
        if (kill !== undefined) this.emit('killed', kill);
      });
    }
    return exited;
  }

  #giveUp(error: StartFailedError): void {
    if (this.#startError !== undefined) return;
    this.#startError = error;
    void this.close();
  }

  #checkReady(): void {
    if (!this.isReady || this.#isClosing() || this.#wasReady) return;
    this.#wasReady = true;
    if (this.#state === 'starting') this.#transition('running');
    for (const waiter of this.#readyWaiters) waiter.resolve();
    this.#readyWaiters.clear();
    // A server held open for a replacement that listens elsewhere now (its app changed) is let go,
    // once the replacements have had startTimeout to listen on all of theirs (an app may serve two
    // ports, and be ready at its first listen or before any); a worker lost meanwhile restarts this.
    this.#clock.clearTimeout(this.#vacantCheck);
    this.#vacantCheck = this.#clock.setTimeout(() => {
      if (this.isReady && !this.#isClosing()) this.#primary.closeVacantServers();
    }, this.options.startTimeout);
    this.emit('ready');
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

/** Creates a managed cluster; call `start()` to fork its workers. */
export function createCluster(options: ClusterOptions, context?: ManagedClusterContext): ManagedCluster {
  return new ManagedCluster(options, context);
}

/** More workers than this per CPU only compete for the same cores. */
const MANY_WORKERS_PER_CPU = 4;

/** Says so when `workers` is far more than the CPUs can run (a typo, or `-i 1000`): allowed, but rarely meant. */
function warnIfManyWorkers(workers: number): void {
  const { cpus } = cpuBudget();
  if (workers <= MANY_WORKERS_PER_CPU * cpus) return;
  emitWarning('CORRAL_MANY_WORKERS', `corral: ${workers} workers on ${cpus} CPU${cpus === 1 ? '' : 's'} is more than ` +
    `${MANY_WORKERS_PER_CPU} per CPU: they compete for the same cores, so the app gets no faster and every start and ` +
    `reload takes longer. One worker per CPU ('auto') is usually best; corral starts them in batches of ` +
    `${startBatchSize()}.`);
}
