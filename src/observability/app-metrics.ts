/**
 * The app's own prom-client metrics, gathered from every worker at each scrape and summed
 * (app-aggregation.ts). Each worker's runtime answers from the prom-client the app loaded
 * (src/worker/app-metrics.cts); a worker that does not answer in time counts with what it said
 * last, so that a busy or hung worker neither stalls the scrape for long nor makes a total dip.
 *
 * The primary's event loop accepts every connection of the app, so the work, which grows with the
 * app's series, is done in slices (util/sliced.ts) with the loop free between them, and scrapes
 * that come while one is gathered share its answers rather than add their own.
 */
import type { RuntimeLink } from '../managed/runtime-link.js';
import { runSliced } from '../util/sliced.js';
import { aggregateSteps, CarriedTotals, parseAppMetricsSteps, type AppMetric } from './app-aggregation.js';

/** How long a scrape waits for the workers' answers. Prometheus's own scrape timeout is 10 s. */
export const APP_METRICS_TIMEOUT = 2_000;

/** A worker as the collector sees it: its runtime, and its exit. */
export interface MetricsSource {
  readonly link: RuntimeLink;
  readonly exited: Promise<unknown>;
}

export interface AppMetricsResult {
  metrics: AppMetric[];
  /** Workers whose app has prom-client metrics. */
  workers: number;
  /** Of those, the ones that did not answer this time (their previous answer was used). */
  late: number;
  /** Errors the workers' collect() calls threw, this time. */
  errors: string[];
}

export class AppMetricsCollector {
  readonly #timeout: number;
  /** Each live worker's latest answer (or its final one, sent at the end of its drain). */
  readonly #latest = new Map<MetricsSource, AppMetric[]>();
  readonly #sources = new Set<MetricsSource>();
  readonly #carried = new CarriedTotals();
  /** Final answers being parsed, which a worker's exit waits for before carrying its totals. */
  readonly #finals = new Map<MetricsSource, Promise<void>>();
  #inflight: Promise<AppMetricsResult> | undefined;
  #nextId = 1;

  constructor(timeout = APP_METRICS_TIMEOUT) {
    this.#timeout = timeout;
  }

  /** Follows a worker from its fork: its final metrics, and its exit (its totals are carried on). */
  watch(source: MetricsSource): void {
    this.#sources.add(source);
    source.link.on('metrics', (_id, reply, final) => {
      // A final answer read after the worker's exit was handled is too late: its previous answer was carried.
      if (!final || reply.metrics === null || !this.#sources.has(source)) return;
      const metrics = reply.metrics;
      this.#finals.set(source, runSliced(parseAppMetricsSteps(metrics)).then((parsed) => void this.#latest.set(source, parsed)));
    });
    void source.exited.then(async () => {
      await this.#finals.get(source);
      this.#finals.delete(source);
      this.#sources.delete(source);
      const last = this.#latest.get(source);
      this.#latest.delete(source);
      if (last !== undefined) this.#carried.add(last);
    });
  }

  /** Asks every worker, waits for the answers (at most the timeout), and sums them with what exited workers counted. */
  collect(): Promise<AppMetricsResult> {
    this.#inflight ??= this.#collect().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  async #collect(): Promise<AppMetricsResult> {
    const id = this.#nextId++;
    const errors: string[] = [];
    let late = 0;
    const answers = await Promise.all([...this.#sources].map(async (source) => ({ source, reply: await this.#ask(source, id) })));
    // One worker's answer at a time, in slices: the loop turns between them.
    for (const { source, reply } of answers) {
      if (reply === 'late') {
        if (this.#latest.has(source)) late += 1;
        continue;
      }
      if (reply.error !== undefined) errors.push(reply.error);
      if (reply.metrics === null) continue;
      const parsed = await runSliced(parseAppMetricsSteps(reply.metrics));
      // It exited meanwhile (its totals are carried), or its final answer, newer, is on its way.
      if (this.#sources.has(source) && !this.#finals.has(source)) this.#latest.set(source, parsed);
    }
    const lists = [...this.#latest.values()];
    return { metrics: await runSliced(aggregateSteps([...lists, this.#carried.list()])), workers: lists.length, late, errors };
  }

  #ask(source: MetricsSource, id: number): Promise<{ metrics: unknown[] | null; error?: string } | 'late'> {
    return new Promise((resolve) => {
      const done = (reply: { metrics: unknown[] | null; error?: string } | 'late'): void => {
        clearTimeout(timer);
        source.link.off('metrics', onMetrics);
        resolve(reply);
      };
      const onMetrics = (answered: number, reply: { metrics: unknown[] | null; error?: string }, final: boolean): void => {
        if (answered === id && !final) done(reply);
      };
      const timer = setTimeout(() => done('late'), this.#timeout);
      source.link.on('metrics', onMetrics);
      // A worker whose runtime cannot be asked (not loaded yet, or its channel closed) is not waited for.
      // (One that exits meanwhile is waited for until the timeout: a scrape's reactions must not
      // pile up on a long-lived worker's exit promise.)
      if (!source.link.requestMetrics(id)) done('late');
    });
  }
}
