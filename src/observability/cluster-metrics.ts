/**
 * corral's own series for `/metrics`: the cluster (workers configured and ready, slot states,
 * restarts by reason, crash loops, reloads, health actions, the balancer's hand-offs and queue)
 * and each worker (labelled `slot` and `pid`, from its runtime report: memory, CPU, event loop
 * delay, connections, requests; and its uptime and generation). Names and units follow
 * Prometheus's conventions: base units (seconds, bytes), `_total` on counters.
 */
import type { DrainReason } from '../managed/managed-worker.js';
import type { ClusterStatus, ExitReason, SlotState, WorkerLifecycleState, WorkerStatus } from '../managed/types.js';
import type { ClusterCounters, Histogram } from './cluster-counters.js';
import type { MetricFamily, Sample } from './exposition.js';

export interface ClusterMetricsInput {
  status: ClusterStatus;
  counters: ClusterCounters;
  /** Each live worker's CPU seconds, summed from its reports (by worker id). */
  cpuSeconds: ReadonlyMap<number, number>;
  handoffs: { handoffs: number; queued: number };
  version: string;
  /** ms since the epoch. */
  now: number;
  appMetrics: { workers: number; late: number } | undefined;
}

const EXIT_REASONS: readonly ExitReason[] = [
  'crash', 'killed', 'exit', 'start-failed', 'hang', 'memory', 'requests', 'age', 'signal', 'reload', 'scale', 'shutdown',
];
const DRAIN_REASONS: readonly DrainReason[] = ['shutdown', 'reload', 'scale', 'recycle', 'signal'];
const SLOT_STATES: readonly SlotState[] = ['starting', 'ready', 'backoff', 'crashloop'];
const WORKER_STATES: readonly WorkerLifecycleState[] = ['starting', 'ready', 'draining'];
const HEALTH_ACTIONS = [['hang', 'kill'], ['memory', 'recycle'], ['memory', 'kill'], ['requests', 'recycle'], ['age', 'recycle']] as const;

const family = (name: string, type: MetricFamily['type'], help: string, samples: Sample[]): MetricFamily => ({ name, type, help, samples });

function histogramSamples(name: string, labels: Record<string, string>, histogram: Histogram): Sample[] {
  return [
    ...histogram.bounds.map((bound, index) => ({ name: `${name}_bucket`, labels: { ...labels, le: String(bound) }, value: histogram.counts[index]! })),
    { name: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: histogram.count },
    { name: `${name}_sum`, labels, value: histogram.sum },
    { name: `${name}_count`, labels, value: histogram.count },
  ];
}

function workerFamilies(workers: readonly WorkerStatus[], input: ClusterMetricsInput): MetricFamily[] {
  const labelled = workers.filter((worker): worker is WorkerStatus & { pid: number } => worker.pid !== undefined);
  const each = (read: (worker: WorkerStatus & { pid: number }) => number | undefined): Sample[] => labelled.flatMap((worker) => {
    const value = read(worker);
    return value === undefined ? [] : [{ labels: { slot: String(worker.slot), pid: String(worker.pid) }, value }];
  });
  const seconds = (ms: number): number => Math.round(ms) / 1000;
  return [
    family('corral_worker_state', 'gauge', "Each worker's state: 1 for the state it is in (starting, ready, draining).", labelled.flatMap((worker) =>
      WORKER_STATES.map((state) => ({ labels: { slot: String(worker.slot), pid: String(worker.pid), state }, value: worker.state === state ? 1 : 0 })))),
    family('corral_worker_generation', 'gauge', 'The generation of the code each worker runs (1, then +1 per reload).', each((worker) => worker.generation)),
    family('corral_worker_start_time_seconds', 'gauge', 'When each worker was forked, in seconds since the Unix epoch.', each((worker) => seconds(worker.startedAt))),
    family('corral_worker_uptime_seconds', 'gauge', 'Seconds since each worker was forked.', each((worker) => seconds(input.now - worker.startedAt))),
    family('corral_worker_report_age_seconds', 'gauge',
      "Seconds since each worker's latest runtime report (its heartbeat; reports come every reportInterval).",
      each((worker) => (worker.report === undefined ? undefined : seconds(Math.max(0, input.now - worker.report.at))))),
    family('corral_worker_resident_memory_bytes', 'gauge', "Each worker's resident memory size, in bytes (its runtime report).",
      each((worker) => worker.report?.memory.rss)),
    family('corral_worker_heap_used_bytes', 'gauge', "Each worker's V8 heap in use, in bytes.", each((worker) => worker.report?.memory.heapUsed)),
    family('corral_worker_heap_total_bytes', 'gauge', "Each worker's V8 heap size, in bytes.", each((worker) => worker.report?.memory.heapTotal)),
    family('corral_worker_external_memory_bytes', 'gauge', 'Memory of C++ objects bound to JavaScript objects (Buffers…) in each worker, in bytes.',
      each((worker) => worker.report?.memory.external)),
    family('corral_worker_cpu_seconds_total', 'counter', 'CPU time each worker used, user and system, in seconds (from its runtime reports).',
      each((worker) => (worker.report === undefined ? undefined : Math.round((input.cpuSeconds.get(worker.id) ?? 0) * 1000) / 1000))),
    family('corral_worker_event_loop_delay_seconds', 'gauge',
      "How late each worker's report timer fired, in seconds: a lower bound on its event loop's longest block in the last interval.",
      each((worker) => (worker.report === undefined ? undefined : worker.report.loop.delay / 1000))),
    family('corral_worker_open_connections', 'gauge', 'Connections open on each worker\'s servers.', each((worker) => worker.report?.connections)),
    family('corral_worker_requests_total', 'counter', 'HTTP responses each worker finished (node:http servers).', each((worker) => worker.report?.requests)),
  ];
}

export function clusterFamilies(input: ClusterMetricsInput): MetricFamily[] {
  const { status, counters } = input;
  const balancer = { balancer: status.balancer };
  const workers = [...status.slots.flatMap((slot) => (slot.worker === undefined ? [] : [slot.worker])), ...status.others];
  const families: MetricFamily[] = [
    family('corral_info', 'gauge', 'Always 1: the app, its balancer, and the corral and Node.js versions running it.', [{
      labels: { name: status.name, balancer: status.balancer, version: input.version, node_version: process.version }, value: 1,
    }]),
    family('corral_workers_configured', 'gauge', 'The configured worker count (slots).', [{ value: status.workers }]),
    family('corral_workers_ready', 'gauge', 'Slots whose worker is ready.', [{ value: status.slots.filter((slot) => slot.state === 'ready').length }]),
    family('corral_workers', 'gauge', 'Worker processes running, by state (draining ones and starting replacements included).',
      WORKER_STATES.map((state) => ({ labels: { state }, value: workers.filter((worker) => worker.state === state).length }))),
    family('corral_slot_state', 'gauge', "Each slot's state: 1 for the state it is in (starting, ready, backoff, crashloop).",
      status.slots.flatMap((slot) => SLOT_STATES.map((state) => ({ labels: { slot: String(slot.slot), state }, value: slot.state === state ? 1 : 0 })))),
    family('corral_generation', 'gauge', 'The generation the cluster serves (1, then that of each reload that finished).', [{ value: status.generation }]),
    family('corral_reload_in_progress', 'gauge', '1 while a rolling reload runs.', [{ value: status.reloading === undefined ? 0 : 1 }]),
    family('corral_restarts_total', 'counter', 'Workers restarted (exited and replaced in their slot), by how they ended.',
      EXIT_REASONS.map((reason) => ({ labels: { reason }, value: counters.restarts.get(reason) ?? 0 }))),
    family('corral_worker_exits_total', 'counter', 'Worker processes that exited, by how they ended (reload, scale and shutdown included).',
      EXIT_REASONS.map((reason) => ({ labels: { reason }, value: status.exits[reason] }))),
    family('corral_worker_drain_kills_total', 'counter',
      "Draining workers corral SIGKILLed (still running at their deadline, shutdownTimeout; a forced stop; hung), by the drain's reason " +
      '(shutdown, reload, scale, recycle, signal): the connections they still had open were cut.',
      DRAIN_REASONS.map((reason) => ({ labels: { reason }, value: counters.drainKills.get(reason) ?? 0 }))),
    family('corral_crash_loops_total', 'counter', 'Times a slot entered the crash-loop state.', [{ value: counters.crashloops }]),
    family('corral_slots_crashlooping', 'gauge', 'Slots in the crash-loop state now.', [{ value: status.slots.filter((slot) => slot.state === 'crashloop').length }]),
    family('corral_reloads_total', 'counter', 'Rolling reloads that finished, by outcome (success, failure).',
      (['success', 'failure'] as const).map((outcome) => ({ labels: { outcome }, value: counters.reloads[outcome] }))),
    family('corral_reload_duration_seconds', 'histogram', 'How long rolling reloads took, in seconds, by outcome.',
      (['success', 'failure'] as const).flatMap((outcome) => histogramSamples('corral_reload_duration_seconds', { outcome }, counters.reloadDurations[outcome]))),
    family('corral_health_actions_total', 'counter', 'Workers corral acted on for their health, by reason (hang, memory, requests, age) and action (kill, recycle).',
      HEALTH_ACTIONS.map(([reason, action]) => ({ labels: { reason, action }, value: counters.health.get(`${reason} ${action}`) ?? 0 }))),
    family('corral_handoffs_total', 'counter', 'Connections the primary accepted and handed to a worker, by balancer (0 for kernel balancers).',
      [{ labels: balancer, value: input.handoffs.handoffs }]),
    family('corral_handoff_queue_length', 'gauge', 'Connections the primary accepted that wait for a worker now, by balancer.',
      [{ labels: balancer, value: input.handoffs.queued }]),
    ...workerFamilies(workers, input),
  ];
  if (input.appMetrics !== undefined) {
    families.push(
      family('corral_app_metrics_workers', 'gauge', "Workers whose app has prom-client metrics (summed into the app's series).", [{ value: input.appMetrics.workers }]),
      family('corral_app_metrics_late_workers', 'gauge', 'Of those, workers that did not answer this scrape in time: their previous answer was used.',
        [{ value: input.appMetrics.late }]),
    );
  }
  return families;
}
