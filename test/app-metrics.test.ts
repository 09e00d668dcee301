// The app's prom-client metrics summed over the workers: the primary's aggregation agrees with
// prom-client's own AggregatorRegistry.aggregate() on generated input (prom-client is the oracle,
// not a mock); totals of exited workers are carried on; what a worker sends is checked; and the
// exposition writer escapes, names and negotiates as Prometheus and OpenMetrics say.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import promClient from 'prom-client';
import { appAggregation, exposition } from './helpers/internals.js';

type Metric = ReturnType<typeof appAggregation.parseAppMetrics>[number];

const AGGREGATORS = ['sum', 'first', 'min', 'max', 'average', 'omit'] as const;
const TYPES = ['counter', 'gauge', 'histogram', 'summary'] as const;

/** Up to 4 workers' metrics over a shared set of names, as getMetricsAsJSON() gives them. */
const workersArbitrary = fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/), { minLength: 1, maxLength: 5 }).chain((names) => {
  const specs = fc.tuple(...names.map((name) => fc.record({
    name: fc.constant(name),
    type: fc.constantFrom(...TYPES),
    aggregator: fc.constantFrom(...AGGREGATORS),
  })));
  return specs.chain((families) => fc.array(fc.tuple(...families.map((family) => fc.option(fc.record({
    name: fc.constant(family.name),
    help: fc.string({ maxLength: 10 }),
    type: fc.constant(family.type),
    aggregator: fc.constant(family.aggregator),
    values: fc.array(fc.record({
      value: fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
      labels: fc.dictionary(fc.constantFrom('route', 'code', 'le', 'quantile'), fc.constantFrom('a', 'b', '1', '0.5')),
      metricName: fc.option(fc.constantFrom(`${family.name}_bucket`, `${family.name}_sum`, `${family.name}_count`), { nil: undefined }),
    }), { maxLength: 4 }),
  }), { nil: undefined }))), { minLength: 1, maxLength: 4 }));
}).map((workers) => workers.map((list) => list.filter((metric) => metric !== undefined).map((metric) => {
  const values = metric.values.map((value) => (value.metricName === undefined ? { value: value.value, labels: value.labels } : value));
  return { ...metric, values };
})));

/** As prom-client's registry gives it back: the aggregated metrics' JSON. */
async function promClientAggregate(workers: unknown[][]): Promise<unknown[]> {
  const registry = promClient.AggregatorRegistry.aggregate(workers);
  return registry.getMetricsAsJSON();
}

const normalize = (metrics: readonly unknown[]): unknown => JSON.parse(JSON.stringify(metrics)) as unknown;

describe("the app's metrics, summed over the workers", () => {
  test("agree with prom-client's AggregatorRegistry.aggregate() on generated input", async () => {
    await fc.assert(fc.asyncProperty(workersArbitrary, async (workers) => {
      const ours = appAggregation.aggregate(workers.map((list) => appAggregation.parseAppMetrics(list)));
      assert.deepEqual(normalize(ours), normalize(await promClientAggregate(workers)));
    }), { numRuns: 300 });
  });

  test("an exited worker's counters, histograms and summary sums and counts are carried on; gauges and quantiles leave with it", () => {
    const worker = (requests: number, inFlight: number): Metric[] => appAggregation.parseAppMetrics([
      { name: 'requests_total', help: 'r', type: 'counter', aggregator: 'sum', values: [{ value: requests, labels: { code: '200' } }] },
      { name: 'in_flight', help: 'g', type: 'gauge', aggregator: 'sum', values: [{ value: inFlight, labels: {} }] },
      { name: 'latency_seconds', help: 'h', type: 'histogram', aggregator: 'sum', values: [
        { value: requests, labels: { le: '0.1' }, metricName: 'latency_seconds_bucket' },
        { value: requests, labels: { le: '+Inf' }, metricName: 'latency_seconds_bucket' },
        { value: requests / 100, labels: {}, metricName: 'latency_seconds_sum' },
        { value: requests, labels: {}, metricName: 'latency_seconds_count' },
      ] },
      { name: 'size_bytes', help: 's', type: 'summary', aggregator: 'sum', values: [
        { value: 7, labels: { quantile: 0.5 } },
        { value: requests * 10, labels: {}, metricName: 'size_bytes_sum' },
        { value: requests, labels: {}, metricName: 'size_bytes_count' },
      ] },
      { name: 'version_info', help: 'v', type: 'gauge', aggregator: 'first', values: [{ value: 1, labels: { version: 'x' } }] },
    ]);
    const carried = new appAggregation.CarriedTotals();
    carried.add(worker(100, 3)); // exited
    carried.add(worker(50, 1)); // exited too
    const total = appAggregation.aggregate([worker(7, 2), carried.list()]);
    const value = (name: string, sample = name, labels: Record<string, string | number> = {}): number | undefined =>
      total.find((metric) => metric.name === name)?.values.find((entry) => (entry.metricName ?? name) === sample &&
        JSON.stringify(entry.labels) === JSON.stringify(labels))?.value;
    assert.equal(value('requests_total', 'requests_total', { code: '200' }), 157);
    assert.equal(value('in_flight'), 2, "a gauge is the live workers' alone");
    assert.equal(value('latency_seconds', 'latency_seconds_bucket', { le: '+Inf' }), 157);
    assert.equal(value('latency_seconds', 'latency_seconds_count'), 157);
    assert.equal(value('size_bytes', 'size_bytes_count'), 157);
    assert.equal(value('size_bytes', 'size_bytes_sum'), 1570);
    assert.equal(value('size_bytes', 'size_bytes', { quantile: 0.5 }), 7, "a quantile is the live workers' alone");
    assert.equal(value('version_info', 'version_info', { version: 'x' }), 1);
  });

  test('what a worker sends is checked: malformed metrics are left out, the rest kept; NaN survives JSON', () => {
    const parsed = appAggregation.parseAppMetrics([
      null, 'text', { name: 'bad name', help: '', type: 'counter', values: [] },
      { name: 'no_type', help: '', values: [] },
      { name: 'odd_type', help: '', type: 'meter', values: [] },
      { name: 'odd_aggregator', help: '', type: 'gauge', aggregator: 'median', values: [] },
      { name: 'bad_label', help: '', type: 'gauge', values: [{ value: 1, labels: { 'not-a-label': 'x' } }] },
      { name: 'bad_value', help: '', type: 'gauge', values: [{ value: 'one', labels: {} }] },
      { name: 'good_total', help: 'fine', type: 'counter', values: [{ value: 3, labels: { code: 200 } }] },
      { name: 'nan_gauge', help: 'set to NaN by the app', type: 'gauge', aggregator: 'max', values: [{ value: null, labels: {} }] },
    ]);
    assert.deepEqual(parsed.map((metric) => metric.name), ['good_total', 'nan_gauge']);
    assert.equal(parsed[0]!.aggregator, 'sum', 'sum unless the metric says otherwise');
    assert.ok(Number.isNaN(parsed[1]!.values[0]!.value));
  });
});

describe('the exposition writer', () => {
  const families = [
    { name: 'jobs_total', help: 'Jobs done.\nSecond line \\ backslash.', type: 'counter' as const, samples: [{ labels: { queue: 'a "quoted"\nname\\' }, value: 3 }] },
    { name: 'plain', help: 'A counter prom-client allowed without _total.', type: 'counter' as const, samples: [{ value: 1 }] },
    { name: 'temperature', help: 'Odd values.', type: 'gauge' as const, samples: [{ value: NaN }, { labels: { at: 'hi' }, value: Infinity }, { labels: { at: 'lo' }, value: -Infinity }] },
    { name: 'legacy', help: 'No type.', type: 'untyped' as const, samples: [{ value: 2 }] },
  ];

  test('Prometheus text: help and label values escaped, special values spelled as Prometheus reads them', () => {
    const text = exposition.render(families, 'prometheus');
    assert.equal(text, [
      '# HELP jobs_total Jobs done.\\nSecond line \\\\ backslash.',
      '# TYPE jobs_total counter',
      'jobs_total{queue="a \\"quoted\\"\\nname\\\\"} 3',
      '# HELP plain A counter prom-client allowed without _total.',
      '# TYPE plain counter',
      'plain 1',
      '# HELP temperature Odd values.',
      '# TYPE temperature gauge',
      'temperature NaN',
      'temperature{at="hi"} +Inf',
      'temperature{at="lo"} -Inf',
      '# HELP legacy No type.',
      '# TYPE legacy untyped',
      'legacy 2',
      '',
    ].join('\n'));
  });

  test('OpenMetrics: counter families without _total, samples with it, unknown for untyped, # EOF', () => {
    const text = exposition.render(families, 'openmetrics');
    assert.match(text, /^# TYPE jobs counter\njobs_total\{/m);
    assert.match(text, /^# TYPE plain counter\nplain_total 1$/m);
    assert.match(text, /^# TYPE legacy unknown$/m);
    assert.ok(text.endsWith('legacy 2\n# EOF\n'));
  });

  test('negotiation: OpenMetrics only when the Accept header asks for it', () => {
    assert.equal(exposition.negotiate(undefined), 'prometheus');
    assert.equal(exposition.negotiate('*/*'), 'prometheus');
    assert.equal(exposition.negotiate('text/plain;version=0.0.4'), 'prometheus');
    assert.equal(exposition.negotiate('application/openmetrics-text;version=1.0.0,text/plain;q=0.5'), 'openmetrics');
    assert.equal(exposition.negotiate('text/plain, application/openmetrics-text; q=0'), 'prometheus');
  });
});
