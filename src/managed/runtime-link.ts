/**
 * The primary's side of one worker's runtime (src/worker/runtime.cts): how the runtime is loaded
 * into the worker, and the frames exchanged with it (src/worker/runtime-protocol.cts).
 */
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { onInternalFrame } from '../internal/node-internals.js';
import protocol from '../worker/runtime-protocol.cjs';

/** The file workers load with `--require` before the app (it hides the flag from the app). */
const PRELOAD = createRequire(import.meta.url).resolve('../worker/preload.cjs');

/** How much of a starting worker's stderr the primary keeps for error messages. */
const STDERR_TAIL_LINES = 20;

/** `--require <preload>`, to put before the app's own Node options. */
export function runtimeExecArgv(): string[] {
  return ['--require', PRELOAD];
}

/**
 * The environment a worker in `slot` gets on top of the app's: CORRAL_SLOT, and the slot again
 * in `instanceVar` (PM2's NODE_APP_INSTANCE by default; null: not set, for apps where that
 * name means something else, as node-config reads it).
 */
export function runtimeEnv(slot: number, settings: Omit<protocol.RuntimeSettings, 'v'>, instanceVar: string | null = protocol.PM2_SLOT_ENV): Record<string, string> {
  return {
    [protocol.SLOT_ENV]: String(slot),
    ...(instanceVar === null ? {} : { [instanceVar]: String(slot) }),
    [protocol.SETTINGS_ENV]: JSON.stringify({ v: protocol.VERSION, ...settings }),
  };
}

/** What a worker's runtime reports every reportInterval ms (src/worker/runtime-protocol.cts). */
export type RuntimeReport = protocol.RuntimeReport;
/** A worker's answer about its app's prom-client metrics (src/worker/app-metrics.cts). */
export type AppMetricsReply = protocol.AppMetricsReply;
/** Why a worker drains (defined once, in the protocol the runtime shares). */
export type DrainReason = protocol.DrainReason;

interface RuntimeLinkEvents {
  ready: [];
  draining: [signal: string];
  report: [report: RuntimeReport];
  /** The worker ended processes the app left running (at the end of its drain). */
  leftovers: [pids: number[]];
  /** The app tried to send a message of `bytes` over `limit` (maxMessageSize); it was not sent. */
  messageRefused: [bytes: number, limit: number];
  /** The app's metrics: the answer to requestMetrics(id), or (`final`) sent at the end of its drain. */
  metrics: [id: number, reply: AppMetricsReply, final: boolean];
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0;

function isHandoffs(value: unknown): boolean {
  const handoffs = value as Partial<Record<string, unknown>> | null;
  return typeof handoffs === 'object' && handoffs !== null && isCount(handoffs['received']) && isCount(handoffs['closed']) &&
    handoffs['closed'] <= handoffs['received'];
}

/** A report of the version this primary reads, with every field a finite number ≥ 0 where it should be. */
export function isRuntimeReport(value: unknown): value is RuntimeReport {
  if (typeof value !== 'object' || value === null) return false;
  const report = value as Partial<Record<keyof RuntimeReport, unknown>>;
  const loop = report.loop as Partial<Record<string, unknown>> | null | undefined;
  const memory = report.memory as Partial<Record<string, unknown>> | null | undefined;
  return report.v === protocol.REPORT_VERSION && isCount(report.seq) && isCount(report.at) && isCount(report.interval) &&
    typeof loop === 'object' && loop !== null && isCount(loop['delay']) && isCount(report.cpu) &&
    typeof memory === 'object' && memory !== null &&
    ['rss', 'heapUsed', 'heapTotal', 'external'].every((key) => isCount(memory[key])) &&
    isCount(report.connections) && isCount(report.requests) && (report.handoffs === undefined || isHandoffs(report.handoffs));
}

export class RuntimeLink extends EventEmitter<RuntimeLinkEvents> {
  readonly #child: ChildProcess;
  /** Whether the runtime said hello (its preload ran, so it can drain on request). */
  #loaded = false;
  /** An openInspector() asked for before the runtime said hello: sent with the hello. */
  #inspect: { host: string; port: number } | undefined;
  /** The parts of an answer about the app's metrics gathered so far. */
  #metricsParts: { key: string; metrics: unknown[]; values: number } | undefined;
  #stderr = '';

  constructor(child: ChildProcess) {
    super();
    this.#child = child;
    onInternalFrame(child, protocol.FRAME_CMD, (frame) => {
      if (frame['v'] !== protocol.VERSION) return;
      this.#onFrame(frame as unknown as protocol.FromWorker);
    });
  }

  get loaded(): boolean {
    return this.#loaded;
  }

  /**
   * One part of an answer about the app's metrics (worker/metrics-parts.cts): the parts of one
   * answer are gathered, and the whole is one 'metrics' event. One over METRICS_MAX_VALUES values
   * is refused: a label of unbounded values (a user id, a URL with ids) is a leak, not a metric.
   */
  #metricsPart(frame: { id: number; metrics: unknown[] | null; error?: unknown; final?: boolean; more?: boolean }): void {
    const key = `${frame.final === true ? 'final' : 'answer'} ${frame.id}`;
    const gathered = this.#metricsParts?.key === key ? this.#metricsParts : { key, metrics: [] as unknown[], values: 0 };
    this.#metricsParts = gathered;
    for (const metric of frame.metrics ?? []) {
      const values = (metric as { values?: unknown } | null)?.values;
      gathered.values += Array.isArray(values) ? values.length : 0;
      if (gathered.values <= protocol.METRICS_MAX_VALUES) gathered.metrics.push(metric);
    }
    if (frame.more === true) return;
    this.#metricsParts = undefined;
    const error = gathered.values > protocol.METRICS_MAX_VALUES
      ? `its app's metrics have ${gathered.values} series, over ${protocol.METRICS_MAX_VALUES}: a label with unbounded values (an id, a URL)? They were left out.`
      : typeof frame.error === 'string' ? frame.error.slice(0, 500) : undefined;
    const refused = gathered.values > protocol.METRICS_MAX_VALUES;
    this.emit('metrics', frame.id, {
      metrics: frame.metrics === null || refused ? null : gathered.metrics,
      ...(error === undefined ? {} : { error }),
    }, frame.final === true);
  }

  /** The last lines the worker wrote to stderr while starting (and the error it died of). */
  get stderrTail(): string {
    const lines = this.#stderr.split('\n');
    if (lines.at(-1) === '') lines.pop();
    return lines.slice(-STDERR_TAIL_LINES).join('\n');
  }

  /** Asks the runtime to drain; false if it cannot be asked (not loaded, or the channel closed). */
  drain(reason: DrainReason, timeout: number): boolean {
    return this.#loaded && this.#send({ act: 'drain', reason, timeout });
  }

  /** The worker counts as started: it may stop forwarding its stderr. */
  started(): void {
    if (this.#loaded) this.#send({ act: 'started' });
  }

  /** The primary's terminal hung up: the worker lets go of it too. */
  terminalGone(): void {
    if (this.#loaded) this.#send({ act: 'terminal-gone' });
  }

  /** Asks the worker to open its inspector on `host`:`port` (now, or once its runtime has loaded). */
  openInspector(host: string, port: number): void {
    if (this.#loaded) this.#send({ act: 'inspect', host, port });
    else this.#inspect = { host, port };
  }

  /** Asks for the app's prom-client metrics; false if the runtime cannot be asked. The answer is a 'metrics' event. */
  requestMetrics(id: number): boolean {
    return this.#loaded && this.#send({ act: 'metrics', id });
  }

  #send(frame: protocol.ToWorker): boolean {
    if (!this.#child.connected) return false;
    // A failed write means the worker is going away; its exit tells the rest.
    return this.#child.send({ cmd: protocol.FRAME_CMD, v: protocol.VERSION, ...frame }, undefined, {}, () => {});
  }

  #onFrame(frame: protocol.FromWorker): void {
    switch (frame.act) {
      case 'hello':
        this.#loaded = true;
        if (this.#inspect !== undefined) this.openInspector(this.#inspect.host, this.#inspect.port);
        this.#inspect = undefined;
        break;
      case 'ready':
        this.emit('ready');
        break;
      case 'draining':
        this.emit('draining', typeof frame.signal === 'string' ? frame.signal : 'SIGTERM');
        break;
      case 'stderr':
        if (typeof frame.text === 'string') this.#stderr = (this.#stderr + frame.text).slice(-protocol.STARTUP_STDERR_LIMIT);
        break;
      case 'report':
        // A report of another version (another copy of corral's runtime) is not read.
        if (isRuntimeReport(frame.report)) this.emit('report', frame.report);
        break;
      case 'leftovers':
        if (Array.isArray(frame.pids) && frame.pids.every(isCount)) this.emit('leftovers', frame.pids);
        break;
      case 'message-refused':
        if (isCount(frame.bytes) && isCount(frame.limit)) this.emit('messageRefused', frame.bytes, frame.limit);
        break;
      case 'metrics':
        if (Number.isSafeInteger(frame.id) && (frame.metrics === null || Array.isArray(frame.metrics))) this.#metricsPart(frame);
        break;
      default:
        // A frame of a newer runtime: nothing to do with it.
    }
  }
}
