/**
 * How a worker that corral ended came to its end, as stops, reloads, scale-downs and recycles
 * report it: the exit itself (WorkerExit), and, for a draining worker that had to be SIGKILLed,
 * which one and what held it (KilledWorker). One shape for all of them, so that `corral stop`,
 * `corral reload`, `corral scale`, the log lines and /metrics say the same thing the same way.
 */
import os from 'node:os';
import type { ManagedWorker } from './managed-worker.js';
import type { ExitInfo, KilledWorker, WorkerExit } from './types.js';

export type { KilledWorker, WorkerExit };

export function workerExit(worker: ManagedWorker, exit: ExitInfo): WorkerExit {
  return { ...exit, slot: worker.slot, workerId: worker.worker.id, pid: worker.pid, starting: !worker.isReady };
}

/** The kill, if corral SIGKILLed the worker while it drained. */
export function killedWorker(worker: ManagedWorker, exit: ExitInfo): KilledWorker | undefined {
  if (!exit.killed || worker.draining === undefined) return undefined;
  return {
    slot: worker.slot,
    workerId: worker.worker.id,
    pid: worker.pid,
    reason: worker.draining,
    cause: exit.killCause ?? 'deadline',
    timeout: worker.drainTimeout ?? 0,
    openConnections: exit.openConnections ?? null,
    starting: !worker.isReady,
  };
}

/** Signals a stop sends (SIGTERM, Ctrl-C's SIGINT, --kill-signal): dying of one while draining is how some apps end. */
const STOP_SIGNALS: ReadonlySet<string> = new Set(['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2']);
const STOP_EXIT_CODES: ReadonlySet<number> = new Set([...STOP_SIGNALS].map((signal) => 128 + (os.constants.signals[signal as NodeJS.Signals] ?? 0)));

/**
 * Whether an exit leaves a stop clean: it was not SIGKILLed, and it exited with code 0 (or 128 +
 * a stop signal's number, as a handler does that exits as the signal would), or died
 * of its stop signal (an app's handler that re-raises it once done, as plain Node apps do), or
 * its app never served: it was still starting (whatever ended it: a SIGTERM that came before the
 * runtime's handler, or a preload's or the app's own handler with its own exit code), or the
 * stop's SIGTERM ended it before its runtime loaded (readyWhen 'online' counts it ready by then).
 */
export function endedCleanly(exit: WorkerExit): boolean {
  if (exit.killed) return false;
  if (exit.code === 0 || exit.starting) return true;
  // 128 + the signal's number: what a handler that exits "as the signal would" gives (143 for SIGTERM, 130 for SIGINT).
  if (exit.code !== null && STOP_EXIT_CODES.has(exit.code)) return true;
  return exit.signal !== null && (exit.stoppedWhileStarting ? exit.signal === 'SIGTERM' : STOP_SIGNALS.has(exit.signal));
}
