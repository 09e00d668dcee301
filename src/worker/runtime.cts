/**
 * corral's runtime inside a worker: what the primary cannot do from outside. It
 *  - reports manual readiness (`ready()` from corral/worker);
 *  - drains the worker when the primary asks (shutdown, reload, scale-down) or when the worker
 *    itself gets SIGTERM/SIGINT (systemd's control-group stop, a terminal's Ctrl-C): stop
 *    accepting, finish in-flight requests with `Connection: close`, run `onShutdown` hooks, exit;
 *    an app that listens for its stop signal gets it and ends itself instead (app-signal.cts);
 *  - forwards what a starting worker writes to stderr (and the error it dies of), so that the
 *    primary can say why a start or a reload failed;
 *  - sends the periodic runtime report (reporter.cts): heartbeat, loop delay, memory,
 *    connections, requests;
 *  - refuses messages over maxMessageSize before they reach the primary (message-limit.cts);
 *  - ends the processes the app started and left running (process-tree.cts) when the worker
 *    exits after its drain, and when its primary is gone;
 *  - keeps the terminal's hangup (SIGHUP) from ending the worker: workers share the primary's
 *    process group, and the primary decides what a hangup means for the cluster (signals.ts).
 * One instance per worker process, created by preload.cts and shared through a global symbol, so
 * that every copy of corral/worker the app loads talks to it.
 */
import util = require('node:util');
import appSignal = require('./app-signal.cjs');
import ConnectionDrain = require('./connection-drain.cjs');
import limitMessages = require('./message-limit.cjs');
import internals = require('./node-internals.cjs');
import tree = require('./process-tree.cjs');
import protocol = require('./runtime-protocol.cjs');
import releaseTerminal = require('./release-terminal.cjs');
import startReporter = require('./reporter.cjs');
import replayHeads = require('./replay-head.cjs');
import collectAppMetrics = require('./app-metrics.cjs');
import metricParts = require('./metrics-parts.cjs');
import openInspector = require('./inspector-open.cjs');

/** What an onShutdown hook is told. */
interface ShutdownInfo {
  /** Why the worker stops: 'shutdown', 'reload', 'scale' or 'signal'. */
  reason: protocol.DrainReason;
  /** When the primary SIGKILLs the worker (ms since the epoch, as Date.now()). */
  deadline: number;
}

type ShutdownHook = (info: ShutdownInfo) => unknown;

/** The drain gives up waiting for output to flush this long before its deadline, so that it exits rather than being SIGKILLed. */
const FLUSH_MARGIN = 50;

/**
 * How long a worker whose app handles its stop signal may still run once its servers have
 * closed and the promises its handler returned have settled, before corral ends it: a handler
 * written with callbacks (close the server, then the database, then exit) has this long after
 * the server closed; one that never exits does not hold the stop until the deadline.
 */
const HANDLER_GRACE = 1000;

/** `promise`, or halfway to `timeout` if it takes longer. */
function untilHalfway(promise: Promise<unknown>, timeout: number): Promise<unknown> {
  return unlessLate(promise, timeout / 2);
}

/** `promise`, or `ms` from now if it takes longer; the timer does not keep the process alive. */
function unlessLate(promise: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<void>((resolve) => { timer = setTimeout(resolve, Math.max(0, ms)).unref(); })])
    .finally(() => clearTimeout(timer));
}

/**
 * The app's metrics in parts (metrics-parts.cts); `callback` once the last has been written.
 * False when they cannot be sent at all (no channel). process.send() also returns false while its
 * queue is long, but the message is queued all the same and the callback comes once written: a
 * draining worker waits for that, or it would exit with the last parts unsent.
 */
function sendMetrics(id: number, reply: protocol.AppMetricsReply, callback?: () => void, final = false): boolean {
  if (typeof process.send !== 'function' || !process.connected) return false;
  const parts = reply.metrics === null ? [null] : metricParts(reply.metrics);
  parts.forEach((metrics, index) => {
    const last = index === parts.length - 1;
    internals.sendCorralFrame({
      act: 'metrics', id, metrics, ...(reply.error === undefined ? {} : { error: reply.error }),
      ...(final ? { final: true } : {}), ...(last ? {} : { more: true }),
    }, last ? callback : undefined);
  });
  return true;
}

/** SIGKILLs every process below this worker; /proc is read only when there may be one. */
function endDescendants(): number[] {
  return tree.mayHaveDescendants() ? tree.killAll(tree.descendantsOf(process.pid)) : [];
}

const SIGNAL_EXIT_CODES: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143 };

class WorkerRuntime {
  readonly slot: number | undefined;
  readonly #settings: protocol.RuntimeSettings;
  readonly #hooks = new Set<ShutdownHook>();
  readonly #connections = new ConnectionDrain();
  #draining = false;
  /** Stop signals that came from outside while the worker drained: the app's listeners had them. */
  readonly #heard = new Set<NodeJS.Signals>();
  /** The app owns its exit (#handOver), since it was given this stop signal (or had it). */
  #handedOver: NodeJS.Signals | undefined;
  #startupStderr: { sent: number; restore: () => void } | undefined;

  constructor(settings: protocol.RuntimeSettings, slot: number | undefined) {
    this.#settings = settings;
    this.slot = slot;
    internals.onCorralFrame((frame) => this.#onFrame(frame as protocol.ToWorker));
    for (const signal of ['SIGTERM', 'SIGINT'] as const) appSignal.listen(signal, () => this.#onSignal(signal));
    appSignal.listen('SIGHUP', () => {});
    // Node's worker half exits at once when the channel to the primary closes unasked (the
    // primary died): end what the app started first, or it would outlive the cluster.
    tree.followSpawns();
    process.prependListener('disconnect', () => {
      if (!this.#draining) endDescendants();
    });
    this.#forwardStartupStderr();
    survivePipeLoss(process.stdout);
    survivePipeLoss(process.stderr);
    if (settings.blockingOutput === true) {
      // The primary pauses these pipes while their destination is full: the app then waits, as
      // on a terminal, instead of queueing its output in this process's memory.
      internals.blockWrites(process.stdout);
      internals.blockWrites(process.stderr);
    }
    internals.sendCorralFrame({ act: 'hello' });
    const limit = settings.maxMessageSize ?? protocol.DEFAULT_MAX_MESSAGE_SIZE;
    if (limit > 0) limitMessages(limit, (bytes) => internals.sendCorralFrame({ act: 'message-refused', bytes, limit }));
    const interval = settings.reportInterval ?? protocol.DEFAULT_REPORT_INTERVAL;
    if (interval > 0) startReporter(interval, this.#connections, settings.handoffs === true);
    if (settings.replayHeads === true) replayHeads();
  }

  ready(): void {
    internals.sendCorralFrame({ act: 'ready' });
  }

  onShutdown(hook: ShutdownHook): () => void {
    if (typeof hook !== 'function') {
      throw new TypeError(`onShutdown() takes a function, got ${util.inspect(hook)}. For example onShutdown(() => db.close()).`);
    }
    this.#hooks.add(hook);
    return () => this.#hooks.delete(hook);
  }

  #onFrame(frame: protocol.ToWorker): void {
    if (frame.act === 'drain' && typeof frame.timeout === 'number') void this.#drain(frame.reason, frame.timeout);
    else if (frame.act === 'started') this.#startupStderr?.restore();
    else if (frame.act === 'terminal-gone') releaseTerminal();
    else if (frame.act === 'inspect' && typeof frame.host === 'string' && Number.isSafeInteger(frame.port)) openInspector(frame.host, frame.port);
    else if (frame.act === 'metrics' && Number.isSafeInteger(frame.id)) {
      void collectAppMetrics().then((reply) => sendMetrics(frame.id, reply));
    }
  }

  #onSignal(signal: 'SIGTERM' | 'SIGINT'): void {
    if (this.#handedOver !== undefined) {
      // The app owns its exit. Its own signal, which it no longer listens for (it took its
      // listener away to re-raise it once done), ends the process as in plain Node, after what it
      // started. Another one (the Ctrl-C that began this stop, reaching the worker after the
      // primary's word to drain; or a second one, on which the primary decides) changes nothing.
      if (signal === this.#handedOver && !appSignal.appListens(signal)) {
        endDescendants();
        appSignal.dieOf(signal);
      }
      return;
    }
    if (this.#draining) this.#heard.add(signal);
    if (!this.#draining) {
      internals.sendCorralFrame({ act: 'draining', reason: 'signal', signal });
      void this.#drain('signal', this.#settings.shutdownTimeout, signal);
      return;
    }
    // A repeated signal while draining: the primary decides (a second Ctrl-C forces the stop and
    // it SIGKILLs). Without a primary, the signal ends the worker as it would without corral.
    if (!process.connected) process.exit(SIGNAL_EXIT_CODES[signal]);
  }

  /**
   * Drains the worker; `received`: the stop signal it got from outside (the app's listeners, if
   * any, have it already). An app that listens for a stop signal owns its exit: the one it got,
   * or else its --kill-signal, which it is sent once the servers stop accepting (and the hooks
   * ran): a Ctrl-C reaches an app that handles only SIGTERM, as PM2's kill_signal does. The
   * process then ends when the app lets it (#handOver). Otherwise the drain ends with process.exit().
   */
  async #drain(reason: protocol.DrainReason, timeout: number, received?: 'SIGTERM' | 'SIGINT'): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    const deadline = Date.now() + timeout;
    const closed = this.#connections.drain();
    const configured = this.#settings.killSignal === 'none' ? undefined : this.#settings.killSignal ?? 'SIGTERM';
    const signal = [received, configured].find((candidate) => candidate !== undefined && appSignal.appListens(candidate));
    if (signal !== undefined) {
      await this.#handOver(signal, received, closed, { reason, deadline }, timeout);
      return;
    }
    // Hooks run once in-flight requests have finished (so a hook may close the database they
    // use), or halfway to the deadline if long-lived connections (websockets) hold the servers
    // open: a hook is often what ends those.
    await untilHalfway(closed, timeout);
    const failed = await this.#runHooks({ reason, deadline });
    await closed;
    // process.exit() drops what is still queued for a pipe: the app's last lines (often what its
    // hooks just wrote) would be cut. Exit once stdout and stderr have flushed, before the deadline.
    await flushed([process.stdout, process.stderr], deadline - Date.now() - FLUSH_MARGIN);
    await this.#endLeftovers(deadline - Date.now() - FLUSH_MARGIN);
    if (this.#settings.appMetrics === true) await this.#sendFinalMetrics(deadline - Date.now() - FLUSH_MARGIN);
    process.exit(failed ? 1 : (process.exitCode ?? 0));
  }

  /**
   * The app has a handler for its stop signal: it gets the signal (unless it had it from outside)
   * once the requests in flight are answered and the drain has closed idle keep-alive
   * connections (or halfway to the deadline, for websockets, which the handler often ends), after
   * the onShutdown hooks and the final metrics (its handler may exit at once). corral never calls
   * process.exit() under it: the process ends when the handler exits, or when its event loop
   * empties (the channel to the primary no longer holds it); or, once the promises the handler
   * returned have settled and the servers have closed, HANDLER_GRACE ms later, by corral (a
   * library's listener that never exits, OpenTelemetry's, must not hold every stop and reload
   * until the deadline); or at the deadline, by the primary's SIGKILL.
   */
  async #handOver(signal: NodeJS.Signals, received: NodeJS.Signals | undefined, closed: Promise<void>, info: ShutdownInfo, timeout: number): Promise<void> {
    const { deadline } = info;
    process.once('exit', () => endDescendants());
    if (signal !== received) await untilHalfway(Promise.race([Promise.all([this.#connections.requestsDone(), this.#connections.idlePassed]), closed]), timeout);
    if (this.#hooks.size > 0 && await this.#runHooks(info)) process.exitCode ??= 1;
    if (this.#settings.appMetrics === true) await this.#sendFinalMetrics(deadline - Date.now() - FLUSH_MARGIN);
    this.#handedOver = signal;
    // Had from outside (now, or while the hooks ran): the app's listeners ran then, and once is what a signal gives.
    const given = signal === received || this.#heard.has(signal) || !appSignal.appListens(signal)
      ? Promise.resolve() : appSignal.deliver(signal);
    appSignal.release();
    await unlessLate(Promise.all([given, closed]), deadline - Date.now());
    await flushed([process.stdout, process.stderr], deadline - Date.now() - FLUSH_MARGIN);
    await unlessLate(new Promise<void>(() => {}), Math.min(HANDLER_GRACE, deadline - Date.now() - FLUSH_MARGIN));
    await this.#endLeftovers(deadline - Date.now() - FLUSH_MARGIN);
    process.exit();
  }

  /**
   * Processes the app started and did not end in its hooks would outlive the worker (reparented
   * to init): they are SIGKILLed now, and the primary is told which, so that it can say so.
   */
  async #endLeftovers(ms: number): Promise<void> {
    const ended = endDescendants();
    if (ended.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => {
        if (!internals.sendCorralFrame({ act: 'leftovers', pids: ended }, () => resolve())) resolve();
      }),
      new Promise<void>((resolve) => { timer = setTimeout(resolve, Math.max(0, ms)); }),
    ]);
    clearTimeout(timer);
  }

  /**
   * What the app counted up to its exit (its requests all finished), so that the cluster's
   * totals lose nothing when a reload or a scale-down replaces this worker.
   */
  async #sendFinalMetrics(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      collectAppMetrics().then((reply) => new Promise<void>((resolve) => {
        if (reply.metrics === null || !sendMetrics(0, reply, () => resolve(), true)) resolve();
      })),
      new Promise<void>((resolve) => { timer = setTimeout(resolve, Math.max(0, ms)); }),
    ]);
    clearTimeout(timer);
  }

  async #runHooks(info: ShutdownInfo): Promise<boolean> {
    // A hook that throws synchronously is a failed hook too, not a crash of the drain.
    const results = await Promise.allSettled([...this.#hooks].map((hook) => new Promise((resolve) => resolve(hook({ ...info })))));
    let failed = false;
    for (const result of results) {
      if (result.status === 'fulfilled') continue;
      failed = true;
      process.stderr.write(`corral: an onShutdown hook failed: ${util.inspect(result.reason)}\n`);
    }
    return failed;
  }

  /**
   * Until the primary counts the worker as started, what it writes to stderr is also sent to the
   * primary (up to STARTUP_STDERR_LIMIT), and so is an uncaught error (Node prints those to the
   * descriptor directly, past process.stderr).
   */
  #forwardStartupStderr(): void {
    const stderr = process.stderr;
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called with the stream as `this` below
    const original = stderr.write;
    const forward = (text: string): void => {
      const state = this.#startupStderr;
      if (state === undefined || state.sent >= protocol.STARTUP_STDERR_LIMIT) return;
      const part = text.slice(0, protocol.STARTUP_STDERR_LIMIT - state.sent);
      state.sent += part.length;
      internals.sendCorralFrame({ act: 'stderr', text: part });
    };
    const wrapper = function (this: unknown, chunk: unknown, ...rest: unknown[]): boolean {
      forward(typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));
      return (original as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof stderr.write;
    stderr.write = wrapper;
    const onUncaught = (error: unknown): void => {
      forward(`Uncaught ${util.inspect(error)}\n`);
    };
    process.on('uncaughtExceptionMonitor', onUncaught);
    this.#startupStderr = {
      sent: 0,
      restore: () => {
        this.#startupStderr = undefined;
        process.off('uncaughtExceptionMonitor', onUncaught);
        // Leave a wrapper the app installed since in place.
        if (stderr.write === wrapper) stderr.write = original;
      },
    };
  }
}

/** Resolves once everything written to the streams so far is flushed, or after `ms`. */
function flushed(streams: readonly NodeJS.WriteStream[], ms: number): Promise<void> {
  const pending = streams.filter((stream) => stream.writableLength > 0 && !stream.destroyed);
  if (pending.length === 0 || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    let left = pending.length;
    for (const stream of pending) {
      // A write's callback runs once it and everything before it went out (or failed).
      stream.write('', () => {
        if (--left > 0) return;
        clearTimeout(timer);
        resolve();
      });
    }
  });
}

/**
 * A worker's stdout and stderr are the primary's (inherited) unless --log-prefix pipes them. When
 * their reader goes away (journald restarts, `corral start … | head` exits), a write fails with
 * EPIPE (EIO on a terminal that hung up), and Node would end the process on it: every worker
 * would die and be restarted into the same closed pipe. The output is gone either way, so an
 * EPIPE nobody else listens for is dropped and the worker keeps serving. Any other error, or one
 * the app listens for itself, goes where it would without corral.
 */
function survivePipeLoss(stream: NodeJS.WriteStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (stream.listenerCount('error') > 1) return;
    // EPIPE: the reader of a pipe went away; EIO: the terminal hung up.
    if (error.code !== 'EPIPE' && error.code !== 'EIO') throw error;
  });
}

// eslint-disable-next-line @typescript-eslint/no-namespace -- types merged with the `export =` value
declare namespace WorkerRuntime {
  export type { ShutdownHook, ShutdownInfo };
}

export = WorkerRuntime;
