/** The public types of the managed cluster (createCluster()): its events, states and snapshots. */
import type { ReloadFailedError, StartFailure } from '../errors.js';
import type { ClusterEvents, ClusterPrimary } from '../primary/cluster-primary.js';
import type { Worker } from '../primary/worker.js';
import type { ExitSignal } from '../types.js';
import type { Clock } from '../util/clock.js';
import type { DrainReason, RuntimeReport } from './runtime-link.js';
import type { ShutdownResult } from './shutdown.js';

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

/** Why corral acted on a worker's health. */
export type HealthReason = 'hang';

/** What corral did about an unhealthy worker (the `health` event). */
export interface HealthAction {
  reason: HealthReason;
  /** `kill`: SIGKILLed, its replacement starts at once. */
  action: 'kill';
  slot: number;
  worker: Worker;
  /** For `hang`: ms since its last runtime report. */
  silentFor: number;
  /** Its last runtime report (event-loop delay, memory, connections, requests), if one came. */
  lastReport: RuntimeReport | undefined;
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
  /** The generation the cluster serves: that of the latest reload that finished (1 before any). */
  generation: number;
  /** The generation a reload under way is rolling out, if one is. */
  reloading: number | undefined;
  /** The configured worker count. */
  workers: number;
  slots: SlotStatus[];
  /** Workers on their way out (reload, scale-down, shutdown) and replacements still starting. */
  others: WorkerStatus[];
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
  /** corral acted on an unhealthy worker: a hung one (hangTimeout) is SIGKILLed and replaced at once. */
  health: [action: HealthAction];
  /** A worker exited and had left processes it started running; corral SIGKILLed them (`pids`). */
  leftovers: [info: { slot: number; worker: Worker; pids: number[] }];
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

