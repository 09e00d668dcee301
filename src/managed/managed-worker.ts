/**
 * One worker of a managed cluster, with what the lifecycle algorithms need to know of it: its slot
 * and generation, whether and when it became ready (watched against its startTimeout), how it
 * exited, and its drain (stop routing, ask its runtime to finish, SIGKILL at the deadline).
 */
import type { StartFailure } from '../errors.js';
import type { Worker } from '../primary/worker.js';
import type { ExitSignal } from '../types.js';
import type { Clock } from '../util/clock.js';
import { kRuntimeReport } from '../internal/symbols.js';
import tree from '../worker/process-tree.cjs';
import type { ReadyWhen } from './options.js';
import type { DrainReason, RuntimeLink } from './runtime-link.js';
import type { ExitInfo, ExitReason, KillCause, StartOutcome, WorkerInspector } from './types.js';

export type { DrainReason };

export type { ExitInfo, KillCause, StartOutcome };

export interface ManagedWorkerOptions {
  readonly slot: number;
  readonly generation: number;
  readonly readyWhen: ReadyWhen;
  readonly startTimeout: number;
  /** ms between the runtime's reports (0: none), by which a starting worker is seen to be alive. */
  readonly reportInterval: number;
  readonly clock: Clock;
  readonly inspector?: WorkerInspector | undefined;
}

/**
 * A starting worker whose runtime reported within this many report intervals (and at least
 * ALIVE_MIN_WINDOW ms) before its startTimeout passed was alive then: its event loop turning.
 * Generous, so that reports a busy machine delays do not hide it.
 */
const ALIVE_INTERVALS = 3;
const ALIVE_MIN_WINDOW = 5_000;

/** What the app sends with process.send() to say it is ready, under PM2's wait_ready. */
const PM2_READY_MESSAGE = 'ready';

/**
 * A managed worker's life, one table of allowed moves with one writer (`#move`): any other move
 * is a defect, and throws.
 *
 *   starting ──▶ ready ──▶ draining ──▶ exited
 *      │           └──────────────────▶ exited   (crashed, killed)
 *      ├──────────────────▶ draining            (stopped while starting)
 *      └────────────────────────────────▶ exited (failed to start)
 */
export type ManagedWorkerState = 'starting' | 'ready' | 'draining' | 'exited';
export const WORKER_MOVES: Readonly<Record<ManagedWorkerState, readonly ManagedWorkerState[]>> = {
  starting: ['ready', 'draining', 'exited'],
  ready: ['draining', 'exited'],
  draining: ['exited'],
  exited: [],
};

export class ManagedWorker {
  readonly worker: Worker;
  readonly link: RuntimeLink;
  readonly slot: number;
  readonly generation: number;
  readonly forkedAt: number;
  readyAt: number | undefined;
  /** Why it is draining, once it is. */
  draining: DrainReason | undefined;
  /** How long its drain was given, in ms, once it is draining. */
  drainTimeout: number | undefined;
  /** Why corral ended it, when corral did: a health action, or the reason of its drain. */
  endReason: ExitReason | undefined;
  /** Settles once: ready, or why not (it exited first, or its startTimeout passed). */
  readonly started: Promise<StartOutcome>;
  /** Settles when the process has exited. */
  readonly exited: Promise<ExitInfo>;
  /** Processes it had started and left running, which corral SIGKILLed (at the end of its drain, or with it). */
  readonly leftovers: number[] = [];
  /** Its debugger's address (inspector-slots.ts), when the Node options start an inspector. */
  inspector: WorkerInspector | undefined;
  readonly #clock: Clock;
  #state: ManagedWorkerState = 'starting';
  #killed: { cause: KillCause; openConnections: number | undefined } | undefined;
  #terminated = false;
  #exit: ExitInfo | undefined;
  #drain: Promise<ExitInfo> | undefined;

  constructor(worker: Worker, link: RuntimeLink, options: ManagedWorkerOptions) {
    this.worker = worker;
    this.link = link;
    this.slot = options.slot;
    this.generation = options.generation;
    this.#clock = options.clock;
    this.inspector = options.inspector;
    this.forkedAt = options.clock.now();
    this.exited = new Promise((resolve) => {
      const onExit = (code: number | null, signal: ExitSignal): void => {
        if (this.#state === 'exited') return; // A failed spawn's 'error', then an 'exit' after all.
        const killed = this.#killed;
        this.#move('exited');
        this.#exit = {
          code, signal, killed: killed !== undefined, stoppedWhileStarting: this.#terminated,
          ...(killed === undefined ? {} : { killCause: killed.cause, openConnections: killed.openConnections }),
        };
        resolve(this.#exit);
      };
      worker.once('exit', onExit);
      // A failed spawn (no pid) has no 'exit' to follow.
      worker.once('error', () => {
        if (worker.process.pid === undefined) onExit(null, null);
      });
    });
    this.started = this.#watchStart(options);
    link.on('leftovers', (pids) => this.leftovers.push(...pids));
  }

  get pid(): number | undefined {
    return this.worker.process.pid;
  }

  /** Where it is in its life (WORKER_MOVES). */
  get state(): ManagedWorkerState {
    return this.#state;
  }

  get isReady(): boolean {
    return this.readyAt !== undefined;
  }

  get hasExited(): boolean {
    return this.#state === 'exited';
  }

  /** SIGKILL, now, and to every process it started (process-tree.cts): its drain, if any, was their time. */
  kill(cause: KillCause): void {
    const { pid } = this.worker.process;
    if (this.#exit !== undefined || pid === undefined) return;
    // What held it, for the report of the kill: the first kill's (a forced stop after the deadline changes nothing).
    this.#killed ??= { cause, openConnections: this.worker[kRuntimeReport]?.connections };
    const descendants = tree.descendantsOf(pid);
    this.worker.process.kill('SIGKILL');
    this.leftovers.push(...tree.killAll(descendants));
  }

  /**
   * Drains the worker: `stopRouting` takes it out of the balancer at once, its runtime finishes
   * in-flight requests and runs onShutdown hooks, and at `timeout` ms it is SIGKILLed. Resolves
   * when it has exited. Calling it again returns the same promise.
   */
  drain(reason: DrainReason, timeout: number, stopRouting: () => void): Promise<ExitInfo> {
    if (this.#drain !== undefined) return this.#drain;
    if (this.#state !== 'exited') this.#move('draining');
    this.draining = reason;
    this.drainTimeout = timeout;
    // A recycle's worker already carries its health reason (memory, requests, age).
    if (reason !== 'recycle') this.endReason ??= reason;
    stopRouting();
    if (this.#exit === undefined && !this.link.drain(reason, timeout)) {
      // Its runtime cannot be asked yet (the worker was forked a moment ago). SIGTERM reaches the
      // runtime if it loads meanwhile, which drains on it; before that it ends the process.
      this.#terminated = true;
      this.worker.process.kill('SIGTERM');
    }
    const killer = this.#clock.setTimeout(() => this.kill('deadline'), timeout);
    this.#drain = this.exited.finally(() => this.#clock.clearTimeout(killer));
    return this.#drain;
  }

  /** The one writer of the worker's state. */
  #move(to: ManagedWorkerState): void {
    if (!WORKER_MOVES[this.#state].includes(to)) {
      throw new Error(`corral: internal error: worker ${this.worker.id} (slot ${this.slot}) cannot go from ${this.#state} to ${to}`);
    }
    this.#state = to;
  }

  #watchStart({ readyWhen, startTimeout, reportInterval, slot }: ManagedWorkerOptions): Promise<StartOutcome> {
    const worker = this.worker;
    return new Promise((resolve) => {
      let settled = false;
      let lastReport: number | undefined;
      let alive = false;
      const settle = (outcome: StartOutcome): void => {
        if (settled) return;
        settled = true;
        this.#clock.clearTimeout(timer);
        worker.off('listening', onReady);
        worker.off('online', onReady);
        worker.off('message', onMessage);
        this.link.off('ready', onReady);
        this.link.off('report', onReport);
        resolve(outcome);
      };
      const failure = (reason: 'exited' | 'timeout', exit?: ExitInfo): StartFailure => ({
        slot,
        workerId: worker.id,
        pid: worker.process.pid,
        reason,
        exitCode: exit?.code ?? null,
        signal: exit?.signal ?? null,
        readyWhen,
        startTimeout,
        stderr: this.link.stderrTail,
        ...(reason === 'timeout' ? { alive } : {}),
      });
      const onReady = (): void => {
        if (settled || this.#state !== 'starting') return;
        this.#move('ready');
        this.readyAt = this.#clock.now();
        this.link.started();
        settle({ ok: true });
      };
      // PM2's readiness signal, process.send('ready'), counts as ready() does. The message still
      // reaches the primary's 'message' listeners, as under node:cluster and PM2: this only looks.
      const onMessage = (message: unknown): void => {
        if (message === PM2_READY_MESSAGE) onReady();
      };
      const onReport = (): void => {
        lastReport = this.#clock.now();
      };
      if (readyWhen === 'listening') worker.on('listening', onReady);
      else if (readyWhen === 'online') worker.on('online', onReady);
      else {
        this.link.on('ready', onReady);
        worker.on('message', onMessage);
      }
      this.link.on('report', onReport);
      let timedOut = false;
      const timer = this.#clock.setTimeout(() => {
        // A worker drained while it starts (a stop overtook its reload) has its drain's deadline instead.
        if (settled || this.draining !== undefined) return;
        // Settled once it is gone (below), so that its last stderr lines are in the report.
        timedOut = true;
        const window = Math.max(ALIVE_INTERVALS * reportInterval, ALIVE_MIN_WINDOW);
        alive = lastReport !== undefined && this.#clock.now() - lastReport <= window;
        this.kill('start-timeout');
      }, startTimeout);
      void this.exited.then((exit) => settle({ ok: false, failure: timedOut ? failure('timeout') : failure('exited', exit) }));
    });
  }
}
