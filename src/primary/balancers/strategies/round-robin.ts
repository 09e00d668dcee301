/**
 * node:cluster's SCHED_RR choice: the longest-idle worker. With at most one hand-off in flight
 * per worker, that cycles through the workers in turn under load, and a worker whose event loop
 * is blocked (it never acknowledges) drops out of the turn.
 */
import type { StrategyFactory } from '../strategy.js';

export const roundRobin: StrategyFactory = () => ({
  pick: (candidates) => candidates[0]!,
});
