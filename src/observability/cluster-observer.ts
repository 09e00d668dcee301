/**
 * What a managed cluster knows about itself, kept for `/metrics`, the dashboard and `monit`:
 * event counters, each worker's CPU seconds (summed from its runtime reports) and, when the
 * admin server runs, the app's prom-client metrics gathered from the workers.
 */
import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { ManagedWorker } from '../managed/managed-worker.js';
import type { ClusterStatus, ManagedClusterEvents } from '../managed/types.js';
import type { Clock } from '../util/clock.js';
import { appFamilies } from './app-aggregation.js';
import { AppMetricsCollector } from './app-metrics.js';
import { ClusterCounters } from './cluster-counters.js';
import { clusterFamilies } from './cluster-metrics.js';
import { runSliced } from '../util/sliced.js';
import { renderSteps, type ExpositionFormat, type MetricFamily } from './exposition.js';
import { PROCESS_METRIC_NAMES, processFamilies } from './process-metrics.js';

/** corral's version, for `corral_info`. */
function corralVersion(): string {
  try {
    return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export interface MetricsSnapshot {
  status: ClusterStatus;
  handoffs: { handoffs: number; queued: number };
}

export class ClusterObserver {
  readonly counters: ClusterCounters;
  /** Each live worker's CPU seconds so far, by worker id. */
  readonly cpuSeconds = new Map<number, number>();
  readonly #appMetrics: AppMetricsCollector;
  readonly #version = corralVersion();
  /** App metric names that corral's own shadow, said once each. */
  readonly #shadowed = new Set<string>();
  readonly #onShadowed: (names: string[]) => void;
  readonly #onAppError: (message: string) => void;

  constructor(events: EventEmitter<ManagedClusterEvents>, clock: Clock, options: {
    onShadowed?: (names: string[]) => void;
    onAppError?: (message: string) => void;
  } = {}) {
    this.counters = new ClusterCounters(events, clock);
    this.#appMetrics = new AppMetricsCollector();
    this.#onShadowed = options.onShadowed ?? (() => {});
    this.#onAppError = options.onAppError ?? (() => {});
    events.on('report', (worker, report) => {
      this.cpuSeconds.set(worker.id, (this.cpuSeconds.get(worker.id) ?? 0) + (report.cpu * report.interval) / 1000);
    });
    events.on('exit', (worker) => this.cpuSeconds.delete(worker.id));
  }

  /** A worker was forked: its app's metrics are followed until it exits. */
  watch(worker: ManagedWorker): void {
    this.#appMetrics.watch({ link: worker.link, exited: worker.exited });
  }

  /** Every series, corral's and the app's, in the exposition format asked for. */
  async metrics(snapshot: MetricsSnapshot, format: ExpositionFormat): Promise<string> {
    const [processes, app] = await Promise.all([processFamilies(), this.#appMetrics.collect()]);
    for (const error of app.errors) this.#onAppError(error);
    const own: MetricFamily[] = [
      ...processes,
      ...clusterFamilies({
        status: snapshot.status, counters: this.counters, cpuSeconds: this.cpuSeconds, handoffs: snapshot.handoffs,
        version: this.#version, now: Date.now(), appMetrics: { workers: app.workers, late: app.late },
      }),
    ];
    const { families, shadowed } = appFamilies(app.metrics, PROCESS_METRIC_NAMES);
    const fresh = shadowed.filter((name) => !this.#shadowed.has(name));
    if (fresh.length > 0) {
      for (const name of fresh) this.#shadowed.add(name);
      this.#onShadowed(fresh);
    }
    return runSliced(renderSteps([...own, ...families], format));
  }
}
