/**
 * systemd's `Type=notify` for `corral start`: when systemd sets NOTIFY_SOCKET, corral says
 * READY=1 (with MAINPID) once every slot is ready, RELOADING=1 (with MONOTONIC_USEC) and READY=1
 * around each rolling reload, STOPPING=1 when it stops, STATUS= lines as things change, and,
 * when systemd sets WATCHDOG_USEC, WATCHDOG=1 at half that interval while the cluster is healthy.
 *
 * Node has no Unix datagram sockets (nodejs/node#61933), and the notify socket is one. The
 * least bad way without native code is systemd's own `systemd-notify`, run for each message, in
 * order, one at a time. It runs as a child of the primary, so the unit needs `NotifyAccess=all`
 * (`corral startup systemd` writes it); and it waits until systemd has read the message (no
 * `--no-block`), so that systemd can still tell which service sent it.
 */
import { spawn } from 'node:child_process';
import type { ManagedCluster } from '../managed/managed-cluster.js';

export interface NotifyEnvironment {
  /** The socket's path (or abstract name, starting with '@'). */
  socket: string;
  /** µs between watchdog pings systemd expects, when WatchdogSec= is set (and meant for this process). */
  watchdogUsec: number | undefined;
}

/** The notify socket and watchdog systemd gave this process, if any (WATCHDOG_PID must be this process when set). */
export function notifyEnvironment(env: NodeJS.ProcessEnv, pid = process.pid): NotifyEnvironment | undefined {
  const socket = env['NOTIFY_SOCKET'];
  if (socket === undefined || socket === '') return undefined;
  const usec = Number(env['WATCHDOG_USEC']);
  const watchdogPid = env['WATCHDOG_PID'];
  const forUs = watchdogPid === undefined || watchdogPid === '' || Number(watchdogPid) === pid;
  return { socket, watchdogUsec: Number.isSafeInteger(usec) && usec > 0 && forUs ? usec : undefined };
}

/** CLOCK_MONOTONIC in µs, which RELOADING=1 carries (Node's hrtime reads that clock on Linux). */
const monotonicUsec = (): string => String(process.hrtime.bigint() / 1000n);

export class SystemdNotifier {
  readonly #env: NotifyEnvironment;
  readonly #command: string;
  readonly #onError: (message: string) => void;
  /** Messages go out one at a time, in order. */
  #queue: Promise<void> = Promise.resolve();
  #failed = false;

  constructor(env: NotifyEnvironment, onError: (message: string) => void, command = 'systemd-notify') {
    this.#env = env;
    this.#command = command;
    this.#onError = onError;
  }

  /** Sends `fields` (READY=1, STATUS=…) with MAINPID; resolves once systemd-notify is done. */
  send(fields: readonly string[]): Promise<void> {
    this.#queue = this.#queue.then(() => this.#run([`MAINPID=${process.pid}`, ...fields]));
    return this.#queue;
  }

  ready(status: string): Promise<void> {
    return this.send(['READY=1', `STATUS=${status}`]);
  }

  reloading(status: string): Promise<void> {
    return this.send(['RELOADING=1', `MONOTONIC_USEC=${monotonicUsec()}`, `STATUS=${status}`]);
  }

  stopping(status: string): Promise<void> {
    return this.send(['STOPPING=1', `STATUS=${status}`]);
  }

  status(status: string): Promise<void> {
    return this.send([`STATUS=${status}`]);
  }

  watchdog(): Promise<void> {
    return this.send(['WATCHDOG=1']);
  }

  #run(fields: readonly string[]): Promise<void> {
    if (this.#failed) return Promise.resolve();
    return new Promise((resolve) => {
      const child = spawn(this.#command, [...fields], {
        env: { ...process.env, NOTIFY_SOCKET: this.#env.socket },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
      child.once('error', (error: NodeJS.ErrnoException) => {
        this.#failed = true;
        this.#onError(error.code === 'ENOENT'
          ? `NOTIFY_SOCKET is set (the unit has Type=notify), but ${this.#command} is not installed, so systemd is never told the app is ready. ` +
            "Install systemd's tools (the systemd package), or use Type=simple."
          : `${this.#command} could not run (${error.message}): systemd is not told how the app is doing.`);
        resolve();
      });
      child.once('exit', (code) => {
        if (code !== 0) {
          this.#onError(`${this.#command} ${fields.join(' ')} failed (exit code ${code}): ${stderr.trim() || 'no message'}. ` +
            'Is NotifyAccess=all set in the unit? systemd ignores messages from processes other than the main one without it.');
        }
        resolve();
      });
    });
  }
}

function servingStatus(cluster: ManagedCluster): string {
  const readiness = cluster.readiness();
  return `${readiness.slots.ready}/${readiness.slots.configured} workers ready, generation ${cluster.generation}`;
}

/**
 * Healthy, for the watchdog: the primary runs (it pings at all), and no slot is crash-looping.
 * A slot that keeps crashing needs more than corral can do; systemd's restart of the whole
 * service is the next thing to try, so the pings stop.
 */
export function watchdogHealthy(cluster: ManagedCluster): boolean {
  const state = cluster.state;
  if (state !== 'running' && state !== 'starting') return false;
  return !cluster.status().slots.some((slot) => slot.state === 'crashloop');
}

/** Tells systemd about the cluster's life; returns a function that stops the watchdog pings. */
export function notifySystemd(cluster: ManagedCluster, notifier: SystemdNotifier, env: NotifyEnvironment): () => void {
  let started = false;
  cluster.on('ready', () => {
    // The first time: the service has started. Later (a restarted slot is ready again): a status.
    void (started ? notifier.status(`serving: ${servingStatus(cluster)}`) : notifier.ready(`serving: ${servingStatus(cluster)}`));
    started = true;
  });
  cluster.on('reloading', (generation) => void notifier.reloading(`reloading to generation ${generation}`));
  cluster.on('reload', () => void notifier.ready(`serving: ${servingStatus(cluster)}`));
  cluster.on('reloadFailed', (error) => void notifier.ready(`reload failed, the previous workers serve: ${error.message.split('\n')[0]}`));
  cluster.on('crashloop', ({ slot }) => void notifier.status(`slot ${slot} is crash-looping; ${servingStatus(cluster)}`));
  cluster.on('scale', () => void notifier.status(`serving: ${servingStatus(cluster)}`));
  let timer: NodeJS.Timeout | undefined;
  if (env.watchdogUsec !== undefined) {
    // Half the interval, as sd_watchdog_enabled(3) advises; never faster than every 50 ms.
    const every = Math.max(50, Math.floor(env.watchdogUsec / 2000));
    timer = setInterval(() => {
      if (watchdogHealthy(cluster)) void notifier.watchdog();
    }, every);
    timer.unref();
  }
  return () => clearInterval(timer);
}
