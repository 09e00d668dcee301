/** The public types of the managed cluster (createCluster()): its events, states and snapshots. */
import type { ReloadFailedError, StartFailure } from '../errors.js';
import type { ClusterEvents, ClusterPrimary } from '../primary/cluster-primary.js';
import type { Worker } from '../primary/worker.js';
import type { ExitSignal } from '../types.js';
import type { Clock } from '../util/clock.js';
import type { DrainReason, RuntimeReport } from './runtime-link.js';
import type { HangDiagnosis } from './hang-diagnosis.js';

export type { HangDiagnosis };
export type { InspectorMode, InspectorPlan } from './inspector-ports.js';

export interface RestartInfo {
  /** The slot (0 … workers-1) being refilled. */
  slot: number;
  /** The worker that exited. */
  previous: Worker;
  /** How it ended. */
  reason: ExitReason;
  /** Consecutive crashes of this slot so far (0 for a planned exit or after a long run). */
  crashes: number;
  /** How long corral waits before forking the replacement, in ms. */
  delay: number;
}

/** Why corral acted on a worker's health: its loop hung, or it reached maxMemory, maxRequests or maxAge. */
export type HealthReason = 'hang' | 'memory' | 'requests' | 'age';

/** What `maxMemory` and `maxMemoryHard` measure. */
export type MemoryMeasure = 'rss' | 'heap';

interface HealthActionBase {
  slot: number;
  worker: Worker;
  /**
   * What was measured: ms without a report (`hang`), bytes (`memory`), requests served
   * (`requests`), ms since it became ready (`age`).
   */
  value: number;
  /** The limit it passed, in the same unit (this worker's own, jitter included). */
  limit: number;
  /** Its last runtime report (event-loop delay, memory, connections, requests), if one came. */
  lastReport: RuntimeReport | undefined;
}

/**
 * What corral did about an unhealthy worker (the `health` event). `kill`: SIGKILLed with what it
 * started, its replacement starts at once. `recycle`: a replacement starts and, once it is ready,
 * the worker drains (one slot at a time; no request fails).
 */
export type HealthAction =
  | (HealthActionBase & {
    reason: 'hang';
    action: 'kill';
    /** ms since its last runtime report (the same as `value`). */
    silentFor: number;
    /** What it was doing, from /proc, read just before it was killed. */
    diagnosis: HangDiagnosis;
  })
  | (HealthActionBase & { reason: 'memory'; action: 'recycle' | 'kill'; measure: MemoryMeasure })
  | (HealthActionBase & { reason: 'requests' | 'age'; action: 'recycle' });

/** How a worker ended: a health action, a drain, or on its own. */
export type ExitReason =
  | HealthReason
  | Exclude<DrainReason, 'recycle'>
  /** It exited with code 0 on its own (a planned exit). */
  | 'exit'
  /** It exited otherwise, or a fault signal ended it. */
  | 'crash'
  /** A signal from outside corral ended it (SIGKILL by an operator, the OOM killer…). */
  | 'killed'
  /** It never became ready (it exited first, or its startTimeout passed). */
  | 'start-failed';

export interface LastExit {
  reason: ExitReason;
  workerId: number;
  pid: number | undefined;
  code: number | null;
  signal: ExitSignal;
  /** When it exited (ms since the epoch). */
  at: number;
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
  /** How many slots have a ready worker at this moment. */
  serving: number;
}

export interface ReloadResult {
  /** The generation the workers now carry. */
  generation: number;
  /** The slots replaced (all of them). */
  replaced: readonly number[];
  /** ms from the start of the reload until every old worker had exited. */
  duration: number;
  /**
   * Old workers SIGKILLed because they still ran shutdownTimeout ms into their drain, and the
   * connections each still had open (cut by the kill); empty when every one exited on its own.
   */
  killed: readonly KilledWorker[];
}

export interface ScaleResult {
  /** The worker count now configured. */
  workers: number;
  added: readonly number[];
  removed: readonly number[];
  /** Removed workers SIGKILLed because they still ran shutdownTimeout ms into their drain (as in ReloadResult). */
  killed: readonly KilledWorker[];
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
  /** Its debugger's address, when the Node options start an inspector (`--inspect`…). */
  inspector: WorkerInspector | undefined;
}

/**
 * A worker's inspector: its slot's port, base + slot + 1 from the port of `--inspect` (or
 * `--inspect-brk`, `--inspect-wait`, `--inspect-port`), the same across restarts and reloads.
 */
export interface WorkerInspector {
  readonly host: string;
  /** The slot's port (0: each worker's is one the system chose). */
  readonly port: number;
  /** false while it waits for the worker it replaces to exit and free the port (a reload, a recycle). */
  readonly open: boolean;
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
  /** How the slot's latest worker to exit ended (undefined until one has). */
  lastExit: LastExit | undefined;
}

export interface ClusterStatus {
  name: string;
  state: ClusterState;
  /** The balancer's name (`round-robin`, `sticky`, a balancer of one's own…). */
  balancer: string;
  /** The generation the cluster serves: that of the latest reload that finished (1 before any). */
  generation: number;
  /** The generation a reload under way is rolling out, if one is. */
  reloading: number | undefined;
  /** The configured worker count. */
  workers: number;
  slots: SlotStatus[];
  /** Workers on their way out (reload, scale-down, shutdown) and replacements still starting. */
  others: WorkerStatus[];
  /** Health actions since the cluster started, per reason. */
  health: Record<HealthReason, number>;
  /** Workers that exited since the cluster started, per reason (how each ended). */
  exits: Record<ExitReason, number>;
}

/** node:cluster's events (without `setup`, which the managed cluster does itself), and its own. */
export interface ManagedClusterEvents extends Omit<ClusterEvents, 'setup'> {
  /** A worker exited and a replacement is scheduled. */
  restart: [info: RestartInfo];
  /** Every slot has a ready worker (emitted each time the cluster becomes fully ready). */
  ready: [];
  /** A worker failed to start (it exited before it was ready, or its startTimeout passed). */
  startFailed: [failure: StartFailure];
  /** A slot keeps crashing: it is retried slowly while the other slots keep serving. */
  crashloop: [info: CrashLoopInfo];
  /**
   * corral acted on a worker's health: a hung one (hangTimeout) or one past maxMemoryHard is
   * SIGKILLed and replaced at once; one past maxMemory, maxRequests or maxAge is recycled.
   */
  health: [action: HealthAction];
  /** A worker exited and had left processes it started running; corral SIGKILLed them (`pids`). */
  leftovers: [info: { slot: number; worker: Worker; pids: number[] }];
  /** A worker began draining (shutdown, reload, scale-down, or a signal it received). */
  draining: [worker: Worker, reason: DrainReason];
  /**
   * A draining worker was SIGKILLed: it still ran at its drain's deadline (shutdownTimeout), the
   * stop was forced, or it hung. Said for every drain (shutdown, reload, scale, recycle, signal).
   */
  killed: [info: KilledWorker];
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

/** Whether the cluster should get new connections (`readiness()`, the admin server's `/readyz`). */
export interface Readiness {
  /** Every slot has a ready worker, and no stop is under way. */
  ready: boolean;
  /**
   * Why not: the first start is under way (`starting`); a slot has no ready worker (a crash, a
   * crash loop: `slots-not-ready`); a stop is under way, its shutdownDelay included
   * (`shutting-down`); or it has stopped (`closed`).
   */
  reason?: 'starting' | 'slots-not-ready' | 'shutting-down' | 'closed';
  slots: { ready: number; configured: number };
  state: ClusterState;
}

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
  /**
   * Runs before each reload's first new worker is forked (`corral start` re-reads its config and
   * env files here, and calls `setEnv()`); a rejection fails the reload before anything changes.
   */
  prepareReload?: () => Promise<void>;
  /**
   * The caller reads every worker's stdout and stderr (`silent: true`) and pauses a pipe while it
   * cannot take more (`corral start -d`, `--log-file`, `--log-prefix`): workers then write to them
   * as to a terminal, blocking while the pipe is full, instead of queueing what they write in their
   * own memory (Node's writes to a pipe are asynchronous on POSIX). Not for callers that may leave
   * the pipes unread: their workers would block. @default false
   */
  blockingOutput?: boolean;
}

/**
 * Why corral SIGKILLed a worker: its drain's deadline passed (`deadline`), the stop was forced
 * (`forced`), it was not ready within startTimeout (`start-timeout`), or a health action
 * (`health`: hangTimeout, maxMemoryHard).
 */
export type KillCause = 'deadline' | 'forced' | 'start-timeout' | 'health';

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: ExitSignal;
  /** corral SIGKILLed it (its drain deadline or startTimeout passed, or the stop was forced). */
  readonly killed: boolean;
  /** Why corral SIGKILLed it (when `killed`). */
  readonly killCause?: KillCause | undefined;
  /**
   * When corral SIGKILLed it: the connections open on its servers at its last runtime report
   * (what its drain was waiting for); undefined when no report had come.
   */
  readonly openConnections?: number | undefined;
  /** corral sent it SIGTERM to drain it while it was still starting (its runtime could not be asked yet). */
  readonly stoppedWhileStarting: boolean;
}

export type StartOutcome = { readonly ok: true } | { readonly ok: false; readonly failure: StartFailure };

export interface WorkerExit extends ExitInfo {
  readonly slot: number;
  readonly workerId: number;
  readonly pid: number | undefined;
  /**
   * It had not become ready when it ended (a replacement or a refill still starting): its app
   * never served, so how it ended does not make a stop unclean, unless corral had to SIGKILL it.
   */
  readonly starting: boolean;
}

/** A draining worker corral SIGKILLed: it had not exited by its deadline, or the stop was forced, or it hung. */
export interface KilledWorker {
  readonly slot: number;
  readonly workerId: number;
  readonly pid: number | undefined;
  /** Why it was draining: `shutdown`, `reload`, `scale`, `recycle` or `signal`. */
  readonly reason: DrainReason;
  /**
   * `deadline`: it still ran `timeout` ms into its drain; `forced`: a forced stop (a second
   * Ctrl-C) ended the drain early; `health`: it hung (hangTimeout) or passed maxMemoryHard.
   */
  readonly cause: KillCause;
  /** How long its drain was given (shutdownTimeout), in ms. */
  readonly timeout: number;
  /**
   * Connections open on its servers at its last runtime report before the kill: what its drain
   * was waiting for (websockets, streams, long polls), cut by the kill. 0: none was open, so an
   * onShutdown hook or the app's own work held it; null: no report had come.
   */
  readonly openConnections: number | null;
  /** It had not become ready (its app never served). */
  readonly starting: boolean;
}

export interface ShutdownResult {
  /**
   * No worker was SIGKILLed, and every one exited on its own with code 0 or of its stop signal,
   * or was still starting (its app never served). Otherwise `killed` and `failed` say why.
   */
  readonly clean: boolean;
  readonly exits: readonly WorkerExit[];
  /** The workers corral SIGKILLed (at the deadline, by a forced stop, or hung), and the connections each still had open. */
  readonly killed: readonly KilledWorker[];
  /** The workers that served and exited on their own, but not with code 0 (a failed onShutdown hook, a crash, a signal). */
  readonly failed: readonly WorkerExit[];
  /** What the stop cancelled, waiting or under way: 'reload', 'scale to 4 workers', 'recycle'. */
  readonly cancelled: readonly string[];
}
