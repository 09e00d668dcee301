/**
 * Process warnings about what a worker did, grouped so that a worker cannot flood the primary's
 * stderr: the first warning of a kind from a worker is shown at once; repeats within the next
 * `interval` ms are counted and shown as one line when the interval ends or the worker goes
 * (whichever comes first), then the next repeat is shown at once again.
 */
import { emitWarning, type CorralWarningCode } from '../warnings.js';

interface Group {
  repeats: number;
  readonly code: CorralWarningCode;
  readonly message: string;
  readonly timer: NodeJS.Timeout;
}

export class GroupedWarnings {
  readonly #interval: number;
  readonly #groups = new Map<string, Group>();

  constructor(interval = 10_000) {
    this.#interval = interval;
  }

  /** Shows a warning, or counts it when one like it (same worker and code) was just shown. */
  warn(workerId: number, code: CorralWarningCode, message: string): void {
    const key = `${workerId}\u0000${code}`;
    const group = this.#groups.get(key);
    if (group !== undefined) {
      group.repeats += 1;
      return;
    }
    emitWarning(code, message);
    const timer = setTimeout(() => this.#flush(key), this.#interval);
    timer.unref();
    this.#groups.set(key, { repeats: 0, code, message, timer });
  }

  /** Shows the pending counts of a worker that is gone. */
  flushWorker(workerId: number): void {
    for (const key of [...this.#groups.keys()]) {
      if (key.startsWith(`${workerId}\u0000`)) this.#flush(key);
    }
  }

  #flush(key: string): void {
    const group = this.#groups.get(key);
    if (group === undefined) return;
    clearTimeout(group.timer);
    this.#groups.delete(key);
    if (group.repeats === 0) return;
    const workerId = key.slice(0, key.indexOf('\u0000'));
    emitWarning(group.code,
      `${group.repeats} more warning${group.repeats === 1 ? '' : 's'} of this kind (${group.code}) about worker ${workerId} ` +
      `since the last one shown, which was: ${group.message}`);
  }
}
