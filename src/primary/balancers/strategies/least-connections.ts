/**
 * least-connections: the next connection goes to the free worker with the fewest open
 * connections (WorkerLoad.open: accepted less the closes its reports count); ties go to the
 * longest idle, so equal workers take turns as under round-robin. A worker whose count is not
 * known yet (no report) counts as its accepted connections, so a new worker is not flooded.
 * Past 16 candidates it compares two at random (power of two choices, as HAProxy's random(2)
 * and Envoy's least_request), which stays O(1) and avoids every primary-side pick herding onto
 * the same worker between two reports.
 */
import type { Candidate, StrategyFactory } from '../strategy.js';

const FULL_SCAN_LIMIT = 16;

const openOf = (candidate: Candidate): number => candidate.load.open ?? candidate.load.accepted;

export const leastConnections: StrategyFactory = () => ({
  pick: (candidates) => {
    if (candidates.length > FULL_SCAN_LIMIT) {
      const first = candidates[Math.floor(Math.random() * candidates.length)]!;
      const second = candidates[Math.floor(Math.random() * candidates.length)]!;
      return openOf(second) < openOf(first) ? second : first;
    }
    let best = candidates[0]!;
    for (const candidate of candidates) if (openOf(candidate) < openOf(best)) best = candidate;
    return best;
  },
});
