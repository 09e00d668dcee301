/**
 * How a dispatching balancer chooses the worker for the next connection. The dispatcher
 * (dispatcher.ts) owns the accept queue, the one-hand-off-in-flight rule and reclaiming; a
 * strategy only picks, from the workers free to take a connection now, as undici's pools and
 * piscina's balancer let a policy pick a dispatcher.
 */
import type { HandoffTarget } from '../listen-handle.js';
import type { RuntimeReport } from '../../worker/runtime-protocol.cjs';

/** What is known of a worker's load: by the dispatcher itself, and from the worker's own report. */
export interface WorkerLoad {
  /** Connections this server handed to the worker that it accepted, since it joined. */
  readonly accepted: number;
  /**
   * The worker's latest runtime report (open connections, event loop delay, CPU, memory…):
   * present in managed clusters, once the first report came.
   */
  readonly report: RuntimeReport | undefined;
  /**
   * Connections handed to the worker (by every server) that are still open: those it accepted,
   * less those its latest report says closed (reports come within 10 ms of a close when the
   * worker counts them: the least-connections balancer asks for it). Undefined when the worker
   * does not count them (no report yet, or another balancer).
   */
  readonly open: number | undefined;
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
