/**
 * The shutdown sequence: SIGTERM, SIGINT (a terminal's Ctrl-C reaches the whole process group),
 * `corral stop`, `docker stop`, `systemctl stop` and `ManagedCluster.close()` all come here.
 *
 *  1. Restarts stop, and every pending operation (reload, scale) is cancelled.
 *  2. Every worker stops receiving new connections at once (it leaves the balancer) and drains:
 *     its runtime closes its servers, marks in-flight responses `Connection: close`, closes
 *     connections that stay idle, and runs the app's onShutdown hooks; then the worker exits.
 *     Workers that receive the signal themselves (process group, control group) drain the same
 *     way on their own.
 *  3. Anything still running `timeout` ms after the start gets SIGKILL.
 *  4. The result is clean when every worker exited with code 0 before the deadline, or died of
 *     its stop signal (an app's handler that re-raises it once done, as plain Node apps do, or
 *     exits with 128 + its number, as Next.js does), or
 *     was still starting and ended by the stop's SIGTERM (its app never served).
 * `force()` (a second SIGINT) SIGKILLs whatever still runs, at once.
 */
import { constants } from 'node:os';
import type { ExitInfo, ManagedWorker } from './managed-worker.js';

export interface ShutdownHost {
  /** Stops restarts and cancels pending operations. */
  stopSupervision(): void;
  /** Every worker still running (serving, starting, replacing or already draining). */
  liveWorkers(): readonly ManagedWorker[];
  /** Drains one worker (ManagedWorker.drain with the host's stopRouting). */
  drain(worker: ManagedWorker, timeout: number): Promise<ExitInfo>;
}

export interface WorkerExit extends ExitInfo {
  readonly slot: number;
  readonly workerId: number;
  readonly pid: number | undefined;
}

export interface ShutdownResult {
  /**
   * Every worker exited on its own with code 0 before the deadline (a worker still starting,
   * which the stop ended with SIGTERM before it could be asked to drain, counts as clean).
   */
  readonly clean: boolean;
  readonly exits: readonly WorkerExit[];
  /** What the stop cancelled, waiting or under way: 'reload', 'scale to 4 workers', 'recycle'. */
  readonly cancelled: readonly string[];
}

export async function shutdownSequence(host: ShutdownHost, timeout: number): Promise<Omit<ShutdownResult, 'cancelled'>> {
  host.stopSupervision();
  const workers = host.liveWorkers();
  const exits = await Promise.all(workers.map(async (worker): Promise<WorkerExit> => ({
    ...(await host.drain(worker, timeout)),
    slot: worker.slot,
    workerId: worker.worker.id,
    pid: worker.pid,
  })));
  return { clean: exits.every((exit) => !exit.killed && (exit.code === 0 || stoppedBySignal(exit))), exits };
}

/** Signals a stop sends (SIGTERM, Ctrl-C's SIGINT, --kill-signal): dying of one while draining is how some apps end. */
const STOP_SIGNALS = new Set(['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2']);

function stoppedBySignal(exit: ExitInfo): boolean {
  const signal = exit.signal ?? signalOfExitCode(exit.code);
  return signal !== undefined && (exit.stoppedWhileStarting ? signal === 'SIGTERM' : STOP_SIGNALS.has(signal));
}

/**
 * The shell's way of saying "died of signal N", exit code 128 + N, which some apps use on purpose
 * once their handler is done: Next.js ends with process.exit(143) on SIGTERM and 130 on SIGINT.
 */
function signalOfExitCode(code: number | null): string | undefined {
  if (code === null || code <= 128) return undefined;
  return Object.entries(constants.signals).find(([, number]) => number === code - 128)?.[0];
}

/** SIGKILLs every worker still running. */
export function forceShutdown(host: ShutdownHost): void {
  for (const worker of host.liveWorkers()) worker.kill();
}
