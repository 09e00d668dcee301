/** Restart delays: exponential in the number of consecutive crashes, capped, with jitter. */
import { MAX_TIMEOUT } from '../util/validators.js';
import type { RestartOptions } from './options.js';

export function restartDelay(
  consecutiveCrashes: number,
  policy: Readonly<Required<RestartOptions>>,
  random: () => number = Math.random,
): number {
  const base = Math.min(policy.maxDelay, policy.minDelay * policy.factor ** consecutiveCrashes);
  // Jitter spreads restarts of workers that crashed together, so they do not all return at once.
  // It is applied after the cap, so capped delays spread around maxDelay too: clipping them at
  // maxDelay would make slots that crash together restart together again.
  const spread = 1 + policy.jitter * (2 * random() - 1);
  // Past 2^31 - 1 ms a timer fires after 1 ms instead (TimeoutOverflowWarning): jitter must not
  // push a long delay over it.
  return Math.min(MAX_TIMEOUT, Math.round(base * spread));
}
