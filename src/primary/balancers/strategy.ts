/**
 * How a dispatching balancer chooses the worker for the next connection. The dispatcher
 * (dispatcher.ts) owns the accept queue, the one-hand-off-in-flight rule and reclaiming; a
 * strategy only picks, from the workers free to take a connection now, as undici's pools and
 * piscina's balancer let a policy pick a dispatcher.
 */
import type { HandoffTarget } from '../listen-handle.js';

/** What the dispatcher knows of a worker's load on its server. */
export interface WorkerLoad {
  /** Connections this server handed to the worker that it accepted, since it joined. */
  readonly accepted: number;
}

export interface Candidate {
  readonly worker: HandoffTarget;
  readonly load: WorkerLoad;
}

export interface BalancingStrategy {
  /**
   * Picks the worker for the next connection. `candidates` are the workers with no hand-off in
   * flight, longest idle first; never empty. Must return one of them.
   */
  pick(candidates: readonly Candidate[]): Candidate;
}

/** One strategy instance per shared server (it may keep state of its own). */
export type StrategyFactory = () => BalancingStrategy;
