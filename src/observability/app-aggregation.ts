/**
 * The app's prom-client metrics summed over the workers, by prom-client's own rules
 * (AggregatorRegistry.aggregate, lib/metricAggregators.js): metrics grouped by name, each
 * group's values grouped by sample name and label set, and those reduced by the metric's
 * `aggregator`: `sum` (the default), `first`, `min`, `max`, `average`, or `omit`. The primary
 * loads nothing of prom-client for it; test/app-metrics.test.ts checks the result against
 * prom-client's own aggregate() on generated input.
 *
 * Beyond prom-client, what a worker counted does not vanish when it exits (CarriedTotals): a
 * reload replaces every worker, and a cluster-wide counter that fell back to a fraction of
 * itself at each reload would be no total at all.
 */
import { ITEMS_PER_STEP, runSync, type Steps } from '../util/sliced.js';
import { LABEL_NAME, METRIC_NAME, type MetricFamily, type MetricType } from './exposition.js';

type Labels = Record<string, string | number>;

export interface AppMetricValue {
  value: number;
  labels: Labels;
  /** The sample's own name (`…_bucket`, `…_sum`, `…_count`); the metric's when absent. */
  metricName?: string;
}

/** One metric as prom-client's `registry.getMetricsAsJSON()` gives it. */
export interface AppMetric {
  name: string;
  help: string;
  type: Exclude<MetricType, 'untyped'>;
  aggregator: string;
  values: AppMetricValue[];
}

const AGGREGATORS: Readonly<Record<string, ((values: readonly number[]) => number) | null>> = {
  sum: (values) => values.reduce((total, value) => total + value, 0),
  first: (values) => values[0] ?? 0,
  min: (values) => values.reduce((least, value) => Math.min(least, value), Infinity),
  max: (values) => values.reduce((most, value) => Math.max(most, value), -Infinity),
  average: (values) => values.reduce((total, value) => total + value, 0) / values.length,
  omit: null,
};

const TYPES: ReadonlySet<string> = new Set(['counter', 'gauge', 'histogram', 'summary']);

const isLabelValue = (value: unknown): value is string | number => typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));

/** prom-client's label-set key: the labels in key order, `name:value,` each (util.js hashObject). */
function labelKey(labels: Labels): string {
  let key = '';
  for (const name of Object.keys(labels).sort()) key += `${name}:${labels[name]},`;
  return key;
}

function parseValue(raw: unknown): AppMetricValue | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { value, labels = {}, metricName } = raw as { value?: unknown; labels?: unknown; metricName?: unknown };
  // JSON over IPC turns NaN and ±Infinity into null: a gauge the app set to NaN stays NaN.
  const number = value === null ? NaN : value;
  if (typeof number !== 'number') return undefined;
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) return undefined;
  const clean: Labels = {};
  for (const [name, label] of Object.entries(labels as Record<string, unknown>)) {
    if (label === undefined) continue;
    if (!LABEL_NAME.test(name) || !isLabelValue(label)) return undefined;
    clean[name] = label;
  }
  if (metricName !== undefined && (typeof metricName !== 'string' || !METRIC_NAME.test(metricName))) return undefined;
  return { value: number, labels: clean, ...(metricName === undefined ? {} : { metricName }) };
}

/**
 * What a worker sent, checked (it is input from another process): metrics whose name, type or
 * aggregator prom-client would not write are left out, and so are malformed values.
 */
export function parseAppMetrics(raw: readonly unknown[]): AppMetric[] {
  return runSync(parseAppMetricsSteps(raw));
}

/** parseAppMetrics, as steps (util/sliced.ts): the primary runs it in slices at each scrape. */
export function* parseAppMetricsSteps(raw: readonly unknown[]): Steps<AppMetric[]> {
  const metrics: AppMetric[] = [];
  let done = 0;
  for (const item of raw) {
    if (++done % ITEMS_PER_STEP === 0) yield;
    if (typeof item !== 'object' || item === null) continue;
    const { name, help, type, aggregator = 'sum', values } = item as Record<string, unknown>;
    if (typeof name !== 'string' || !METRIC_NAME.test(name) || typeof type !== 'string' || !TYPES.has(type)) continue;
    if (typeof aggregator !== 'string' || !Object.hasOwn(AGGREGATORS, aggregator) || !Array.isArray(values)) continue;
    const parsed: (AppMetricValue | undefined)[] = [];
    for (const value of values as unknown[]) {
      parsed.push(parseValue(value));
      if (++done % ITEMS_PER_STEP === 0) yield;
    }
    if (parsed.some((value) => value === undefined)) continue;
    metrics.push({
      name, help: typeof help === 'string' ? help : name, type: type as AppMetric['type'], aggregator, values: parsed as AppMetricValue[],
    });
  }
  return metrics;
}

/** prom-client's AggregatorRegistry.aggregate(), on checked metrics: one metric per name, in order of first appearance. */
export function aggregate(lists: readonly (readonly AppMetric[])[]): AppMetric[] {
  return runSync(aggregateSteps(lists));
}

/** aggregate, as steps (util/sliced.ts). */
export function* aggregateSteps(lists: readonly (readonly AppMetric[])[]): Steps<AppMetric[]> {
  let done = 0;
  const byName = new Map<string, AppMetric[]>();
  for (const list of lists) {
    for (const metric of list) {
      const group = byName.get(metric.name);
      if (group === undefined) byName.set(metric.name, [metric]);
      else group.push(metric);
      if (++done % ITEMS_PER_STEP === 0) yield;
    }
  }
  const result: AppMetric[] = [];
  for (const group of byName.values()) {
    const [first] = group as [AppMetric, ...AppMetric[]];
    const reduce = AGGREGATORS[first.aggregator];
    if (reduce === null || reduce === undefined) continue; // omit
    const byLabels = new Map<string, AppMetricValue[]>();
    for (const metric of group) {
      for (const value of metric.values) {
        const key = `${value.metricName}_${labelKey(value.labels)}`;
        const values = byLabels.get(key);
        if (values === undefined) byLabels.set(key, [value]);
        else values.push(value);
        if (++done % ITEMS_PER_STEP === 0) yield;
      }
    }
    const values: AppMetricValue[] = [];
    for (const same of byLabels.values()) {
      if (++done % ITEMS_PER_STEP === 0) yield;
      const [head] = same as [AppMetricValue, ...AppMetricValue[]];
      values.push({
        value: reduce(same.map((value) => value.value)),
        labels: head.labels,
        ...(head.metricName === undefined ? {} : { metricName: head.metricName }),
      });
    }
    result.push({ name: first.name, help: first.help, type: first.type, aggregator: first.aggregator, values });
  }
  return result;
}

/** Values that are running totals, summed over workers: they outlive the worker that counted them. */
function isCarried(metric: AppMetric, value: AppMetricValue): boolean {
  if (metric.aggregator !== 'sum') return false;
  if (metric.type === 'counter' || metric.type === 'histogram') return true;
  // A summary's quantiles are the worker's own; its sum and count are totals.
  return metric.type === 'summary' && value.metricName !== undefined && /_(sum|count)$/.test(value.metricName);
}

/**
 * The running totals of workers that have exited: each counter, histogram and summary sum and
 * count (summed metrics) as the worker last told them, added to the live workers' at every
 * scrape. So a counter of the whole cluster only ever grows, across restarts and reloads, as a
 * Prometheus counter should; gauges and quantiles leave with their worker.
 */
export class CarriedTotals {
  readonly #metrics = new Map<string, { metric: Omit<AppMetric, 'values'>; values: Map<string, AppMetricValue> }>();

  add(metrics: readonly AppMetric[]): void {
    for (const metric of metrics) {
      for (const value of metric.values) {
        if (!isCarried(metric, value)) continue;
        let entry = this.#metrics.get(metric.name);
        if (entry === undefined) {
          entry = { metric: { name: metric.name, help: metric.help, type: metric.type, aggregator: metric.aggregator }, values: new Map() };
          this.#metrics.set(metric.name, entry);
        }
        const key = `${value.metricName}_${labelKey(value.labels)}`;
        const carried = entry.values.get(key);
        if (carried === undefined) entry.values.set(key, { ...value, labels: { ...value.labels } });
        else carried.value += value.value;
      }
    }
  }

  /**
   * As one more worker's metrics, for aggregate(): copies, since a worker that exits while a
   * scrape sums in slices adds to these totals, and that scrape counts it among the live ones.
   */
  list(): AppMetric[] {
    return [...this.#metrics.values()].map(({ metric, values }) => ({ ...metric, values: [...values.values()].map((value) => ({ ...value })) }));
  }
}

/** The aggregated metrics as families to render; the names in `reserved` (corral's own) are left out. */
export function appFamilies(metrics: readonly AppMetric[], reserved: ReadonlySet<string>): { families: MetricFamily[]; shadowed: string[] } {
  const families: MetricFamily[] = [];
  const shadowed: string[] = [];
  for (const metric of metrics) {
    if (reserved.has(metric.name)) {
      shadowed.push(metric.name);
      continue;
    }
    families.push({
      name: metric.name,
      help: metric.help,
      type: metric.type,
      samples: metric.values.map((value) => ({
        ...(value.metricName === undefined ? {} : { name: value.metricName }),
        labels: value.labels,
        value: value.value,
      })),
    });
  }
  return { families, shadowed };
}
