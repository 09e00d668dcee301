/**
 * The slot table of a managed cluster: which worker serves each slot, and the one place where
 * workers are forked (a slot filled, or replaced), where their exits are judged (supervision.ts)
 * and where refills are scheduled, under the cluster-wide fork rate bound.
 *
 * `replaceSlot()` is the one "start a new worker for this slot, then retire the old one" step:
 * the rolling reload runs it for every slot, and recycling and hang recovery build on it.
 */
import { cpuBudget } from '../options/cpu-budget.js';
import type { EventEmitter } from 'node:events';
import { OperationCancelledError, StartFailedError } from '../errors.js';
import { kForkWith, kRuntimeReport, kSlot } from '../internal/symbols.js';
import { countsConnections } from '../primary/balancers/balancers.js';
import type { ClusterPrimary } from '../primary/cluster-primary.js';
import type { Worker } from '../primary/worker.js';
import type { Clock, ClockTimer } from '../util/clock.js';
import { GroupedWarnings } from '../util/grouped-warnings.js';
import { diagnoseHang } from './hang-diagnosis.js';
import { HangWatch } from './hang-watch.js';
import type { OrphanGuard } from './orphan-guard.js';
import { emitWarning } from '../warnings.js';
import { restartDelay } from './backoff.js';
import { ManagedWorker, type DrainReason, type ExitInfo, type StartOutcome } from './managed-worker.js';
import type { ResolvedClusterOptions } from './options.js';
import type { ReplaceOutcome } from './rolling-reload.js';
import { killedWorker } from './worker-exit.js';
import { RuntimeLink, runtimeEnv } from './runtime-link.js';
import { ForkRateLimiter, SlotSupervisor } from './supervision.js';
import type { ExitReason, HealthAction, HealthReason, LastExit, ManagedClusterEvents } from './types.js';
import { hasLimits, limitsFor, LimitWatch } from './limit-watch.js';
import { inspectorPlan, workerNodeOptions } from './inspector-ports.js';
import { InspectorSlots } from './inspector-slots.js';
import { formatSize } from '../options/units.js';

/** A worker that exits on its own request sooner than this after its fork counts as crashed. */
const PLANNED_EXIT_MIN_UPTIME = 1000;
/** Signals a process gets from its own faults: a crash of the code, unlike a kill from outside. */
const FAULT_SIGNALS: ReadonlySet<string> = new Set(['SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGABRT', 'SIGTRAP', 'SIGSYS']);
/**
 * The cluster forks at most max(4, 2 × workers) times in any one second: room for a full start
 * and a round of restarts right after it (a crash just after start is not delayed), while a crash
 * storm stays a bounded trickle of forks.
 */
const MIN_FORKS_PER_SECOND = 4;
const FORKS_PER_WORKER_PER_SECOND = 2;

const MIN_START_BATCH = 4;
const START_BATCH_PER_CPU = 2;

/** How many workers may be starting at once: 2 per CPU, at least 4. */
export function startBatchSize(): number {
  return Math.max(MIN_START_BATCH, START_BATCH_PER_CPU * cpuBudget().cpus);
}

export interface Slot {
  readonly index: number;
  readonly supervisor: SlotSupervisor;
  /** The worker serving (or starting in) the slot. */
  worker: ManagedWorker | undefined;
  /** Its replacement while replaceSlot() starts it. */
  replacement: ManagedWorker | undefined;
  restartTimer: ClockTimer | undefined;
  restarts: number;
  /** How its latest worker to exit ended. */
  lastExit: LastExit | undefined;
}

/** What the slot table needs of its cluster. */
export interface SlotHost {
  readonly options: ResolvedClusterOptions;
  readonly clock: Clock;
  readonly primary: ClusterPrimary;
  /** Ends every worker, and what each started, if the primary dies. */
  readonly orphanGuard: OrphanGuard;
  /** The environment every worker gets (before its slot's own variables). */
  workerEnv(): Readonly<Record<string, string | undefined>>;
  /** Workers write to their stdout and stderr pipes blocking (ManagedClusterContext.blockingOutput). */
  readonly blockingOutput?: boolean;
  /** The cluster's events: the table emits restart, crashloop, startFailed, report and error. */
  readonly events: EventEmitter<ManagedClusterEvents>;
  /** The generation a refilled slot's worker gets. */
  generation(): number;
  /** The cluster is closing or closed: nothing is refilled. */
  isClosing(): boolean;
  /** The cluster has not yet been ready as a whole (its first start). */
  isStarting(): boolean;
  /** A worker became ready in its slot: the cluster may be ready now. */
  checkReady(): void;
  /** A slot lost its worker, or was added: the cluster is not fully ready. */
  readinessLost(): void;
  /** The first start failed for good. */
  giveUp(error: StartFailedError): void;
  /** Drains a worker (and says so with a 'draining' event). */
  drain(worker: ManagedWorker, reason: DrainReason, timeout: number): Promise<ExitInfo>;
  /**
   * Recycles the slot's worker (a replacement first, then its drain), one slot at a time across
   * the cluster; resolves false if its replacement failed to start (it keeps serving).
   */
  recycle(worker: ManagedWorker): Promise<boolean>;
  /** A worker was forked (the observer follows its app's metrics). */
  forked?(worker: ManagedWorker): void;
}

export class SlotTable {
  readonly #host: SlotHost;
  readonly #slots = new Map<number, Slot>();
  /** Every worker process still running, whatever its role. */
  readonly #live = new Set<ManagedWorker>();
  /** Which worker holds each slot's inspector port. */
  readonly #inspectors = new InspectorSlots();
  readonly #forks: ForkRateLimiter;
  readonly #warnings = new GroupedWarnings();
  /** Health actions since the cluster started, per reason. */
  readonly healthCounts: Record<HealthReason, number> = { hang: 0, memory: 0, requests: 0, age: 0 };
  /** Workers that exited since the cluster started, per reason. */
  readonly exitCounts: Record<ExitReason, number> = {
    hang: 0, memory: 0, requests: 0, age: 0, shutdown: 0, reload: 0, scale: 0, signal: 0, exit: 0, crash: 0, killed: 0, 'start-failed': 0,
  };
  /** How many workers may be starting (forked, not yet ready or failed) at once. */
  readonly startBatch = startBatchSize();
  /** Workers forked and not yet ready or failed. */
  #starting = 0;
  /** fillInTurn() calls past the batch check that have not forked yet. */
  #reserved = 0;
  /** fillInTurn() calls waiting for a starting worker to settle. */
  readonly #waitingToStart: (() => void)[] = [];

  constructor(host: SlotHost) {
    this.#host = host;
    this.#forks = new ForkRateLimiter(() => Math.max(MIN_FORKS_PER_SECOND, FORKS_PER_WORKER_PER_SECOND * this.#slots.size), host.clock);
  }

  get size(): number {
    return this.#slots.size;
  }

  /**
   * Whether the slot of `worker`, a worker it is losing, gets a new one: restarts are on, the slot
   * is still in the table and not crash-looping (retried only every crashLoop.retryDelay).
   */
  refills(worker: Worker): boolean {
    const index = worker[kSlot];
    const slot = index === undefined ? undefined : this.#slots.get(index);
    return slot !== undefined && this.#host.options.restart !== false && !slot.supervisor.crashloop && !this.#host.isClosing();
  }

  get(index: number): Slot | undefined {
    return this.#slots.get(index);
  }

  /** Every slot, in slot order. */
  list(): Slot[] {
    return [...this.#slots.values()].sort((a, b) => a.index - b.index);
  }

  indexes(): number[] {
    return [...this.#slots.keys()];
  }

  /** Every worker process still running (serving, starting, replacing or draining). */
  live(): ManagedWorker[] {
    return [...this.#live];
  }

  /** Whether every slot has a ready worker. */
  get isReady(): boolean {
    return this.list().every((slot) => slot.worker?.isReady === true);
  }

  /** The slot `worker` serves, starts in or drains from. */
  slotOf(worker: Worker): number | undefined {
    for (const managed of this.#live) if (managed.worker === worker) return managed.slot;
    return undefined;
  }

  add(index: number): Slot {
    const slot: Slot = {
      index,
      supervisor: new SlotSupervisor(this.#host.options, this.#host.clock),
      worker: undefined,
      replacement: undefined,
      restartTimer: undefined,
      restarts: 0,
      lastExit: undefined,
    };
    this.#slots.set(index, slot);
    this.#host.readinessLost();
    return slot;
  }

  /** Takes the slot out of the table (its workers are the caller's to drain). */
  remove(index: number): Slot | undefined {
    const slot = this.#slots.get(index);
    if (slot === undefined) return undefined;
    this.#slots.delete(index);
    this.#host.clock.clearTimeout(slot.restartTimer);
    this.#host.primary.retireSlot(index);
    return slot;
  }

  /** Cancels every scheduled refill (the cluster is closing). */
  stopRefills(): void {
    for (const slot of this.#slots.values()) this.#host.clock.clearTimeout(slot.restartTimer);
  }

  /**
   * Forks the slot's worker once fewer than startBatch workers are starting (and the fork rate
   * bound lets it through); resolves with it, or with undefined if the cluster closed or the slot
   * was removed meanwhile. Starts and scale-ups of many workers go this way, in batches, so that
   * each worker's startTimeout measures the app rather than a machine overloaded by its own start.
   */
  async fillInTurn(slot: Slot): Promise<ManagedWorker | undefined> {
    while (this.#starting + this.#reserved >= this.startBatch) {
      await new Promise<void>((resolve) => this.#waitingToStart.push(resolve));
    }
    // Its place in the batch is taken now, so that the calls behind it keep waiting meanwhile.
    this.#reserved += 1;
    let forked: ManagedWorker | undefined;
    try {
      await this.forkAllowed();
      if (this.#host.isClosing() || this.#slots.get(slot.index) !== slot || slot.worker !== undefined) return undefined;
      forked = this.fill(slot);
      return forked;
    } finally {
      this.#reserved -= 1;
      // Nothing forked (closed, removed, or the script became unreadable): the next in line goes.
      if (forked === undefined) this.#waitingToStart.shift()?.();
    }
  }

  /** Forks the slot's worker now. */
  fill(slot: Slot): ManagedWorker {
    slot.restartTimer = undefined;
    const worker = this.#spawn(slot, this.#host.generation());
    slot.worker = worker;
    slot.supervisor.forked();
    return worker;
  }

  /**
   * Starts a new worker of `generation` for the slot; once it is ready it serves the slot and the
   * old worker drains for `reason`. If it fails to start, it is removed and the old worker keeps
   * serving. Waits for the fork rate bound first.
   */
  async replaceSlot(index: number, generation: number, reason: DrainReason): Promise<ReplaceOutcome> {
    const slot = this.#slots.get(index);
    await this.forkAllowed();
    if (slot === undefined || this.#host.isClosing()) throw new OperationCancelledError(reason);
    const fresh = this.#spawn(slot, generation);
    slot.replacement = fresh;
    const outcome = await fresh.started;
    slot.replacement = undefined;
    if (this.#host.isClosing()) throw new OperationCancelledError(reason);
    if (!outcome.ok) {
      fresh.kill('start-timeout');
      await fresh.exited;
      this.#host.events.emit('startFailed', outcome.failure);
      // The old worker may have died meanwhile; its slot is refilled as after any crash.
      if (slot.worker === undefined && slot.restartTimer === undefined) this.#scheduleFork(slot, 0);
      return { ok: false, failure: outcome.failure };
    }
    const old = slot.worker;
    this.#host.clock.clearTimeout(slot.restartTimer);
    slot.restartTimer = undefined;
    slot.worker = fresh;
    slot.supervisor.forked();
    slot.supervisor.ready();
    this.#host.checkReady();
    const retired = old === undefined ? Promise.resolve(undefined)
      : this.#host.drain(old, reason, this.#host.options.shutdownTimeout).then((exit) => killedWorker(old, exit));
    return { ok: true, retired };
  }

  /** Waits until the fork rate bound lets another fork through. */
  async forkAllowed(): Promise<void> {
    const { clock } = this.#host;
    for (let wait = this.#forks.wait(); wait > 0; wait = this.#forks.wait()) {
      await new Promise<void>((resolve) => clock.setTimeout(resolve, wait));
    }
  }

  #spawn(slot: Slot, generation: number): ManagedWorker {
    const { options, clock, events } = this.#host;
    this.#forks.record();
    const workerEnv = this.#host.workerEnv();
    const env = {
      ...workerEnv,
      ...runtimeEnv(slot.index, {
        shutdownTimeout: options.shutdownTimeout, reportInterval: options.reportInterval, maxMessageSize: options.maxMessageSize,
        killSignal: options.killSignal,
        ...(countsConnections(options.balancer) ? { handoffs: true } : {}),
        appMetrics: true,
        ...(options.stickyHeader === undefined ? {} : { replayHeads: true }),
        ...(this.#host.blockingOutput === true ? { blockingOutput: true } : {}),
      }, options.instanceVar === 'none' ? null : options.instanceVar),
    };
    // The app's inspector flags, checked when the options and env were set: the slot's port.
    const debug = this.#inspectors.prepare(inspectorPlan(options.execArgv, workerNodeOptions(workerEnv)), slot.index);
    // (A primary of another installed copy of corral that predates it numbers inspector ports as node:cluster does.)
    const { primary } = this.#host;
    const forkWith = (primary as Partial<Pick<ClusterPrimary, typeof kForkWith>>)[kForkWith];
    const worker = forkWith === undefined ? primary.fork(env) : forkWith.call(primary, env, debug.args);
    worker[kSlot] = slot.index;
    const managed = new ManagedWorker(worker, new RuntimeLink(worker.process), {
      slot: slot.index,
      generation,
      readyWhen: options.readyWhen,
      startTimeout: options.startTimeout,
      reportInterval: options.reportInterval,
      clock,
      inspector: debug.inspector,
    });
    this.#live.add(managed);
    this.#inspectors.track(managed);
    this.#host.forked?.(managed);
    const { pid } = worker.process;
    if (pid !== undefined) this.#host.orphanGuard.started(pid);
    worker.process.once('exit', () => {
      if (pid !== undefined) this.#host.orphanGuard.exited(pid);
      if (managed.leftovers.length > 0) events.emit('leftovers', { slot: slot.index, worker, pids: [...managed.leftovers] });
    });
    worker.on('error', (error) => {
      if (events.listenerCount('error') > 0) events.emit('error', error, worker);
      else this.#warnings.warn(worker.id, 'CORRAL_WORKER_ERROR', `corral: worker ${worker.id}: ${error.message}`);
    });
    // A worker that received SIGTERM/SIGINT itself drains on its own; stop routing to it too.
    managed.link.on('draining', () => void this.#host.drain(managed, 'signal', options.shutdownTimeout));
    managed.link.on('report', (report) => {
      worker[kRuntimeReport] = report; // The one copy: status() and the balancers' strategies read it.
      events.emit('report', worker, report);
    });
    managed.link.on('messageRefused', (bytes, limit) => {
      this.#warnings.warn(worker.id, 'CORRAL_MESSAGE_TOO_LARGE',
        `Worker ${worker.id} (slot ${slot.index}) tried to send the primary a message of ${bytes} bytes, over maxMessageSize ` +
        `(${limit} bytes); it was refused in the worker (its send() got CORRAL_ERR_MESSAGE_TOO_LARGE) and never reached the ` +
        'primary. Send less (an id, a file path, a key in a shared store), or raise maxMessageSize.');
    });
    this.#watchForHangs(managed, slot);
    this.#watchLimits(managed, slot);
    this.#starting += 1;
    void managed.started.then((outcome) => {
      this.#starting -= 1;
      this.#waitingToStart.shift()?.();
      this.#onStarted(managed, outcome);
    });
    void Promise.all([managed.exited, managed.started]).then(([exit, started]) => this.#onExit(managed, exit, started));
    return managed;
  }

  /** hangTimeout (hang-watch.ts): a ready worker whose reports stop is SIGKILLed and replaced. */
  #watchForHangs(managed: ManagedWorker, slot: Slot): void {
    const { options, clock } = this.#host;
    if (options.hangTimeout === 0) return;
    const watch = new HangWatch(clock, options.hangTimeout, (silentFor) => {
      const { worker } = managed;
      if (managed.hasExited) return;
      this.#act(managed, {
        reason: 'hang', action: 'kill', slot: slot.index, worker, silentFor, value: silentFor, limit: options.hangTimeout,
        lastReport: worker[kRuntimeReport], diagnosis: diagnoseHang(managed.pid),
      });
    });
    void managed.started.then((outcome) => {
      if (outcome.ok) watch.arm();
    });
    // A draining worker is judged until its first sign of life in the drain: one hung before its
    // drain began is killed at hangTimeout, not at the drain's deadline; one that is alive has the
    // drain's deadline from then on (with many workers on few CPUs, reports come late while they
    // drain, and judging them would only add false verdicts, diagnoses and kills).
    const beat = (): void => {
      if (managed.draining === undefined) watch.beat();
      else watch.stop();
    };
    managed.link.on('report', beat);
    managed.worker.on('message', beat);
    void managed.exited.then(() => watch.stop());
  }

  /** maxMemory, maxMemoryHard, maxRequests, maxAge (limit-watch.ts): recycled, or killed at once. */
  #watchLimits(managed: ManagedWorker, slot: Slot): void {
    const { options, clock } = this.#host;
    if (!hasLimits(options)) return;
    const watch: LimitWatch = new LimitWatch(limitsFor(options), clock, {
      breach: (breach) => {
        const { worker } = managed;
        this.#act(managed, { ...breach, slot: slot.index, worker, lastReport: worker[kRuntimeReport] }, watch);
      },
      startsOverLimit: (used, limits, leftOut) => {
        const uses = `corral: worker ${managed.worker.id} (slot ${slot.index}) already uses ${formatSize(used)} (${limits.measure}) once ready, `;
        if (!leftOut.memoryHard) {
          this.#warnings.warn(0, 'CORRAL_MAX_MEMORY_TOO_LOW',
            `${uses}over maxMemory (${formatSize(limits.memory)}): recycling it would only start another like it, so maxMemory is not ` +
            `applied to it${limits.memoryHard > 0 ? ' (maxMemoryHard still is)' : ''}. Raise maxMemory above what a fresh worker uses.`);
          return;
        }
        // maxMemoryHard is above maxMemory: a worker over the hard limit is over both.
        const both = leftOut.memory;
        this.#warnings.warn(0, 'CORRAL_MAX_MEMORY_HARD_TOO_LOW',
          `${uses}over maxMemoryHard (--max-memory-hard, ${formatSize(limits.memoryHard)})` +
          `${both ? ` and maxMemory (--max-memory, ${formatSize(limits.memory)})` : ''}: SIGKILLing it would only start another like it, ` +
          `again and again, each kill failing the requests in flight, so ${both ? 'neither limit is' : 'maxMemoryHard is not'} applied to it. ` +
          `Raise maxMemoryHard${both ? ' and maxMemory' : ''} above what a fresh worker uses (${formatSize(used)} here), with room for its growth under load.`);
      },
    });
    void managed.started.then((outcome) => {
      if (outcome.ok && managed.draining === undefined) watch.ready();
    });
    // Draining workers too: maxMemoryHard bounds a leak that goes on during its drain.
    managed.link.on('report', (report) => watch.report(report));
    void managed.exited.then(() => watch.stop());
  }

  /** Carries out a health action: says so ('health'), then kills at once or asks for a recycle. */
  #act(managed: ManagedWorker, action: HealthAction, limits?: LimitWatch): void {
    if (managed.hasExited || (action.action === 'recycle' && managed.draining !== undefined)) return;
    const { events, primary, options } = this.#host;
    this.healthCounts[action.reason] += 1;
    managed.endReason = action.reason;
    events.emit('health', action);
    if (action.action === 'kill') {
      // No new connections; the one handed to it and never accepted goes to another worker when
      // it dies. Counted as a crash after readiness (supervision.ts): replaced at once.
      primary.stopRouting(managed.worker, true);
      managed.kill('health');
      return;
    }
    void this.#host.recycle(managed).then((recycled) => {
      if (recycled) return;
      // Its replacement failed to start ('startFailed' said why): it keeps serving, and is tried
      // again as a crash-looping slot would be.
      if (!managed.hasExited && managed.draining === undefined) managed.endReason = undefined;
      limits?.recycleFailed(options.crashLoop.retryDelay);
    });
  }

  #onStarted(worker: ManagedWorker, outcome: StartOutcome): void {
    const slot = this.#slots.get(worker.slot);
    if (!outcome.ok) {
      // A replacement's failure is reported by replaceSlot(); a draining worker's does not count.
      if (slot?.replacement !== worker && worker.draining === undefined && !this.#host.isClosing()) {
        this.#host.events.emit('startFailed', outcome.failure);
      }
      return;
    }
    if (slot?.worker !== worker) return;
    slot.supervisor.ready();
    this.#host.checkReady();
  }

  #onExit(worker: ManagedWorker, exit: ExitInfo, started: StartOutcome): void {
    this.#live.delete(worker);
    const slot = this.#slots.get(worker.slot);
    const reason = exitReason(worker, exit, started);
    this.exitCounts[reason] += 1;
    if (slot !== undefined) {
      slot.lastExit = { reason, workerId: worker.worker.id, pid: worker.pid, code: exit.code, signal: exit.signal, at: Date.now() };
    }
    // Retired, scaled away, or a replacement (replaceSlot() deals with it): nothing to refill.
    if (slot === undefined || slot.worker !== worker) return;
    slot.worker = undefined;
    if (this.#host.isClosing()) return;
    this.#host.readinessLost();
    const uptime = this.#host.clock.now() - worker.forkedAt;
    // A planned exit (it drained on request, or disconnected itself, with exit code 0, after
    // running a while) is refilled at once. Anything else is a crash and backs off, whatever path
    // led to it: cluster.worker.disconnect() is Node's documented way to leave after a fatal error.
    const planned = worker.worker.exitedAfterDisconnect === true && exit.code === 0 && uptime >= PLANNED_EXIT_MIN_UPTIME;
    const verdict = slot.supervisor.exited({
      planned,
      failedStart: !started.ok,
      uptime,
      readyFor: worker.readyAt === undefined ? undefined : this.#host.clock.now() - worker.readyAt,
      killedFromOutside: exit.signal !== null && !exit.killed && !FAULT_SIGNALS.has(exit.signal),
      killedForMemory: exit.killed && worker.endReason === 'memory',
      clusterStarting: this.#host.isStarting(),
    });
    if (verdict.action === 'give-up') {
      if (!started.ok) this.#host.giveUp(new StartFailedError(started.failure, verdict.attempts));
      return;
    }
    if (verdict.action === 'none' || slot.replacement !== undefined) return;
    slot.restarts += 1;
    const { events } = this.#host;
    events.emit('restart', { slot: slot.index, previous: worker.worker, reason, crashes: verdict.crashes, delay: verdict.delay });
    if (verdict.enteredCrashloop) {
      // Its port is not held for a worker retried every crashLoop.retryDelay: clients are refused, not kept waiting.
      this.#host.primary.closeVacantServers();
      events.emit('crashloop', {
        slot: slot.index, crashes: verdict.crashes, retryIn: verdict.delay, exitCode: exit.code, signal: exit.signal,
        serving: this.list().filter((other) => other.worker?.isReady === true).length,
      });
    }
    this.#scheduleFork(slot, verdict.delay);
  }

  #scheduleFork(slot: Slot, delay: number): void {
    slot.restartTimer = this.#host.clock.setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.#host.isClosing() || this.#slots.get(slot.index) !== slot || slot.worker !== undefined) return;
      // However each slot's policy is set, the cluster forks at most max(4, 2 × workers) times a
      // second: a crash storm must not become a fork storm.
      const wait = this.#forks.wait();
      if (wait > 0) {
        this.#scheduleFork(slot, wait);
        return;
      }
      try {
        this.fill(slot);
      } catch (error) {
        // The script became unreadable: say why, and keep trying on the backoff schedule.
        emitWarning('CORRAL_EXEC_UNREADABLE', `Slot ${slot.index} could not be refilled: ${(error as Error).message}`);
        const { restart } = this.#host.options;
        if (restart !== false) this.#scheduleFork(slot, restartDelay(slot.supervisor.crashes, restart));
      }
    }, delay);
  }
}

/** How a worker ended, for its slot's lastExit. */
function exitReason(worker: ManagedWorker, exit: ExitInfo, started: StartOutcome): ExitReason {
  if (worker.endReason !== undefined) return worker.endReason;
  if (!started.ok) return 'start-failed';
  if (exit.signal !== null && !exit.killed && !FAULT_SIGNALS.has(exit.signal)) return 'killed';
  return exit.code === 0 && exit.signal === null ? 'exit' : 'crash';
}
