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
 *  4. The result is clean when no worker was SIGKILLed and every one exited with code 0, or
 *     died of its stop signal (an app's handler that re-raises it once done, as plain Node apps
 *     do, or exits with 128 + its number, as Next.js does), or was still starting (its app never
 *     served, however it ended): worker-exit.ts. What made it unclean is in the result, so that
 *     whoever reports it says what happened.
 * `force()` (a second SIGINT) SIGKILLs whatever still runs, at once.
 */
import type { ExitInfo, ManagedWorker } from './managed-worker.js';
import { endedCleanly, killedWorker, workerExit } from './worker-exit.js';
import type { KilledWorker, ShutdownResult, WorkerExit } from './types.js';

export type { KilledWorker, ShutdownResult, WorkerExit };

export interface ShutdownHost {
  /** Stops restarts and cancels pending operations. */
  stopSupervision(): void;
  /** Every worker still running (serving, starting, replacing or already draining). */
  liveWorkers(): readonly ManagedWorker[];
  /** Drains one worker (ManagedWorker.drain with the host's stopRouting). */
  drain(worker: ManagedWorker, timeout: number): Promise<ExitInfo>;
}

export async function shutdownSequence(host: ShutdownHost, timeout: number): Promise<Omit<ShutdownResult, 'cancelled'>> {
  host.stopSupervision();
  const workers = host.liveWorkers();
  const ended = await Promise.all(workers.map(async (worker) => {
    const exit: ExitInfo = await host.drain(worker, timeout);
    return { exit: workerExit(worker, exit), killed: killedWorker(worker, exit) };
  }));
  const exits = ended.map(({ exit }) => exit);
  const killed = ended.flatMap(({ killed: kill }) => (kill === undefined ? [] : [kill]));
  const failed = exits.filter((exit) => !exit.killed && !endedCleanly(exit));
  return { clean: exits.every(endedCleanly), exits, killed, failed };
}

/** SIGKILLs every worker still running. */
export function forceShutdown(host: ShutdownHost): void {
  for (const worker of host.liveWorkers()) worker.kill('forced');
}
