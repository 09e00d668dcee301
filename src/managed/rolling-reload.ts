/**
 * Zero-downtime rolling reload (SIGHUP, `corral reload`, `ManagedCluster.reload()`).
 *
 * For each slot, `concurrency` at a time: start the replacement first (a new process, so new code
 * from disk, with the next generation number) and wait until it is ready; only then take the old
 * worker out of routing and drain it (its in-flight requests finish, it exits). So there are
 * never fewer ready workers than configured. Old workers drain while the next slots are
 * replaced; the reload completes once every one has exited.
 *
 * An old worker that does not exit within shutdownTimeout is SIGKILLed: the result names each
 * one and the connections it still had open, for the reload's report.
 *
 * If a replacement crashes or is not ready within startTimeout, the reload stops: the failed
 * replacement is removed, slots not yet replaced keep their old workers serving, and the result
 * carries the failure (exit code, last stderr lines).
 */
import type { StartFailure } from '../errors.js';
import type { KilledWorker } from './worker-exit.js';

export type ReplaceOutcome =
  /**
   * The replacement is ready and serving; the old worker is draining until `retired` settles,
   * with its kill if it had to be SIGKILLed.
   */
  | { readonly ok: true; readonly retired: Promise<KilledWorker | undefined> }
  | { readonly ok: false; readonly failure: StartFailure };

export interface ReloadHost {
  /** Replaces the worker of `slot` as described above. */
  replace(slot: number): Promise<ReplaceOutcome>;
}

export interface RollingReloadResult {
  /** Slots now served by new workers, in order. */
  readonly replaced: readonly number[];
  /** Why the reload stopped early (undefined when every slot was replaced). */
  readonly failure: StartFailure | undefined;
  /** Old workers SIGKILLed because they had not exited by their drain's deadline, in slot order. */
  readonly killed: readonly KilledWorker[];
}

export async function rollingReload(
  slots: readonly number[],
  host: ReloadHost,
  concurrency: number,
): Promise<RollingReloadResult> {
  const pending = [...slots];
  const replaced: number[] = [];
  const retirements: Promise<KilledWorker | undefined>[] = [];
  let failure: StartFailure | undefined;
  const lane = async (): Promise<void> => {
    for (let slot = pending.shift(); slot !== undefined && failure === undefined; slot = pending.shift()) {
      const outcome = await host.replace(slot);
      if (outcome.ok) {
        replaced.push(slot);
        retirements.push(outcome.retired);
      } else {
        failure ??= outcome.failure;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, pending.length)) }, lane));
  const killed = (await Promise.all(retirements)).filter((kill) => kill !== undefined).sort((a, b) => a.slot - b.slot);
  return { replaced: replaced.sort((a, b) => a - b), failure, killed };
}
