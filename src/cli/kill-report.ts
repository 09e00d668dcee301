/**
 * How the CLI says that corral had to SIGKILL draining workers, and what else made a stop
 * unclean: one wording for `corral stop`, `corral reload`, `corral scale` and the primary's log
 * lines (stopped, reloaded, scaled, recycled), naming each worker's slot and pid and what held it
 * (the connections it still had open). Each text is made from the same lists as the verdict and
 * the JSON, so the two cannot disagree.
 */
import type { ShutdownResult, WorkerExit } from '../managed/shutdown.js';
import type { KilledWorker } from '../managed/types.js';

const CAUSES: Readonly<Record<KilledWorker['cause'], (timeout: number) => string>> = {
  deadline: (timeout) => `at the deadline (${timeout} ms)`,
  forced: () => 'by a forced stop',
  health: () => 'for their health while draining (hung, or over maxMemoryHard)',
  'start-timeout': () => 'at their startTimeout',
};

const plural = (count: number, word: string): string => `${count} ${word}${count === 1 ? '' : 's'}`;

/** `slot 0 pid 8801 with 1 connection open`: one killed worker and what held it. */
function describeOne(kill: KilledWorker): string {
  const who = `slot ${kill.slot} pid ${kill.pid ?? '?'}`;
  if (kill.starting) return `${who} (still starting)`;
  if (kill.openConnections === null) return `${who} (no runtime report: its open connections are unknown)`;
  if (kill.openConnections === 0) return `${who} with no connection open (an onShutdown hook or the app's own work held it)`;
  return `${who} with ${plural(kill.openConnections, 'connection')} open`;
}

/**
 * `2 worker(s) SIGKILLed at the deadline (1500 ms): slot 0 pid 8801 with 1 connection open, …`,
 * one clause per cause; `noun` names them (`old worker` for a reload). Empty for no kill.
 */
export function describeKilled(killed: readonly KilledWorker[], noun = 'worker'): string {
  const causes = [...new Set(killed.map((kill) => kill.cause))];
  const clauses = causes.map((cause) => {
    const these = killed.filter((kill) => kill.cause === cause);
    return `${these.length} ${noun}(s) SIGKILLed ${CAUSES[cause](these[0]!.timeout)}: ${these.map(describeOne).join(', ')}`;
  });
  const cut = killed.some((kill) => kill.cause === 'deadline' && !kill.starting && (kill.openConnections ?? 0) > 0);
  return clauses.join('; ') + (cut ? ' (to let such connections end, raise --shutdown-timeout or end them in an onShutdown hook)' : '');
}

/** `; ` and describeKilled()'s text, or nothing for no kill (or a result from an older primary, without the list). */
export function killedNote(killed: readonly KilledWorker[] | undefined, noun?: string): string {
  return killed === undefined || killed.length === 0 ? '' : `; ${describeKilled(killed, noun)}`;
}

/** `worker 3 (slot 0, pid 8801) exited with code 1`: workers that served and did not exit cleanly. */
export function describeFailed(failed: readonly WorkerExit[]): string {
  return failed.map((exit) => `worker ${exit.workerId} (slot ${exit.slot}, pid ${exit.pid ?? '?'}) ` +
    (exit.signal === null ? `exited with code ${exit.code ?? '?'}` : `was ended by ${exit.signal}`)).join(', ');
}

/**
 * `stopped cleanly`, or `stopped; ` and what made the stop unclean. The lists are optional: a
 * primary of an older version, still running, answers `corral stop` without them.
 */
export function describeStop(result: Pick<ShutdownResult, 'clean'> & Partial<Pick<ShutdownResult, 'killed' | 'failed'>>): string {
  if (result.clean) return 'stopped cleanly';
  const parts = [describeKilled(result.killed ?? []), describeFailed(result.failed ?? [])].filter((part) => part !== '');
  return `stopped; ${parts.length === 0 ? 'some workers did not exit cleanly' : parts.join('; ')}`;
}

/** The killed workers for a JSON log line's fields. */
export function killedFields(killed: readonly KilledWorker[]): Record<string, unknown>[] {
  return killed.map((kill) => ({ slot: kill.slot, pid: kill.pid ?? null, cause: kill.cause, openConnections: kill.openConnections }));
}
