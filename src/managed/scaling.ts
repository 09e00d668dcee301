/**
 * Scaling at run time (`corral scale`, `ManagedCluster.scale()`, SIGTTIN/SIGTTOU).
 *
 * Scaling up adds the lowest free slot numbers and starts their workers; scaling down removes the
 * highest slots, and each of their workers drains (stops receiving connections, finishes its
 * in-flight requests, runs its onShutdown hooks) before it exits. Slot numbers of the remaining
 * workers never change.
 */
import { InvalidOptionError } from '../errors.js';
import { MAX_WORKERS } from './options.js';

export interface ScalePlan {
  readonly add: readonly number[];
  readonly remove: readonly number[];
}

export function planScale(slots: readonly number[], target: number): ScalePlan {
  const current = [...slots].sort((a, b) => a - b);
  if (target < current.length) return { add: [], remove: current.slice(target).reverse() };
  const taken = new Set(current);
  const add: number[] = [];
  for (let slot = 0; add.length < target - current.length; slot += 1) {
    if (!taken.has(slot)) add.push(slot);
  }
  return { add, remove: [] };
}

/**
 * The worker count a scale request asks for: `N` sets it, `+N` and `-N` change it. The result
 * must be from 1 to 1024.
 */
export function scaleTarget(request: number | string, current: number): number {
  let target: number | undefined;
  if (typeof request === 'number') target = request;
  else if (/^[+-]?\d+$/.test(request.trim())) {
    const text = request.trim();
    const value = Number.parseInt(text, 10);
    target = text.startsWith('+') || text.startsWith('-') ? current + value : value;
  }
  if (target === undefined || !Number.isInteger(target) || target < 1 || target > MAX_WORKERS) {
    throw new InvalidOptionError('scale', `a worker count from 1 to ${MAX_WORKERS}, or +N / -N (now ${current})`, request,
      target === undefined || !Number.isInteger(target) ? 'For example scale(4), scale("+1") or `corral scale +1`.' : outOfRange(request, target, current));
  }
  return target;
}

/** Why a well-formed request is out of range, and what to ask for instead. */
function outOfRange(request: number | string, target: number, current: number): string {
  const text = String(request).trim();
  const asked = typeof request === 'string' && /^[+-]/.test(text)
    ? `${text} from ${current} worker${current === 1 ? '' : 's'} would ${text.startsWith('-') ? 'leave' : 'make'} ${target}` : `${target} workers`;
  if (target > MAX_WORKERS) {
    return `${asked}: a cluster runs ${MAX_WORKERS} workers at most. Ask for ${MAX_WORKERS} at most${current < MAX_WORKERS ? ` (+${MAX_WORKERS - current})` : ''}.`;
  }
  // Zero workers is a stopped app: that is what stop is for, and it frees the port and the name.
  const lowest = current > 1 ? `Scale down by -${current - 1} at most (to 1 worker)` : 'It runs 1 worker, the fewest';
  return `${asked}: a running cluster keeps at least 1 worker. ${lowest}; to run none, stop the app (\`corral stop\`, or close()).`;
}
