/**
 * What happened to the cluster since it started, counted from its events for `/metrics`:
 * restarts by how the worker ended, crash loops, reloads by outcome and how long they took,
 * health actions, and draining workers SIGKILLed at their deadline. Counting is a few increments per event: it is always on.
 */
import type { EventEmitter } from 'node:events';
import type { Clock } from '../util/clock.js';
import type { DrainReason } from '../managed/managed-worker.js';
import type { ExitReason, HealthAction, ManagedClusterEvents } from '../managed/types.js';

/** Reload durations' histogram buckets, in seconds: a small app reloads in about one, a large one in tens. */
export const RELOAD_BUCKETS: readonly number[] = [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300];

export class Histogram {
  readonly bounds: readonly number[];
  /** Observations ≤ each bound (cumulative), then the total count. */
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = bounds.map(() => 0);
  }

  observe(value: number): void {
    this.sum += value;
    this.count += 1;
    this.bounds.forEach((bound, index) => {
      if (value <= bound) this.counts[index]! += 1;
    });
  }
}

export type ReloadOutcome = 'success' | 'failure';

export class ClusterCounters {
  /** Restarts (a worker exited and its slot was refilled), by how it ended. */
  readonly restarts = new Map<ExitReason, number>();
  /** Times a slot entered the crash-loop state. */
  crashloops = 0;
  readonly reloads: Record<ReloadOutcome, number> = { success: 0, failure: 0 };
  readonly reloadDurations: Record<ReloadOutcome, Histogram> = {
    success: new Histogram(RELOAD_BUCKETS),
    failure: new Histogram(RELOAD_BUCKETS),
  };
  /** Health actions, by `reason action` (`memory recycle`). */
  readonly health = new Map<`${HealthAction['reason']} ${HealthAction['action']}`, number>();
  /** Worker count changes. */
  scalings = 0;
  /** Draining workers SIGKILLed (at the deadline, by a forced stop, or hung), by the drain's reason. */
  readonly drainKills = new Map<DrainReason, number>();
  #reloadStartedAt: number | undefined;

  constructor(events: EventEmitter<ManagedClusterEvents>, clock: Clock) {
    events.on('restart', ({ reason }) => this.restarts.set(reason, (this.restarts.get(reason) ?? 0) + 1));
    events.on('crashloop', () => { this.crashloops += 1; });
    events.on('reloading', () => { this.#reloadStartedAt = clock.now(); });
    const reloaded = (outcome: ReloadOutcome): void => {
      this.reloads[outcome] += 1;
      if (this.#reloadStartedAt !== undefined) this.reloadDurations[outcome].observe((clock.now() - this.#reloadStartedAt) / 1000);
      this.#reloadStartedAt = undefined;
    };
    events.on('reload', () => reloaded('success'));
    events.on('reloadFailed', () => reloaded('failure'));
    events.on('health', ({ reason, action }) => {
      const key = `${reason} ${action}` as const;
      this.health.set(key, (this.health.get(key) ?? 0) + 1);
    });
    events.on('scale', () => { this.scalings += 1; });
    events.on('killed', ({ reason }) => this.drainKills.set(reason, (this.drainKills.get(reason) ?? 0) + 1));
  }
}
