/**
 * How a dispatching balancer chooses the worker for each connection. The dispatcher
 * (dispatcher.ts) owns the accept queue, the one-hand-off-in-flight rule and reclaiming; a
 * strategy only picks, as undici's pools and piscina's balancer let a policy pick a dispatcher.
 * These are the public types of a balancer of one's own: `createCluster({ balancer: { name,
 * createStrategy } })`.
 */
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
   * worker counts them: least-connections, and a balancer with `countConnections`, ask for it).
   * Undefined when the worker does not count them (no report yet, or another balancer).
   */
  readonly open: number | undefined;
}

/** A worker a strategy may choose. */
export interface Candidate {
  /** `worker.id`: unique, never reused. */
  readonly workerId: number;
  /**
   * A stable place of the worker among the server's workers: in a managed cluster its slot (a
   * restarted or reloaded worker takes its predecessor's), elsewhere the lowest number no other
   * worker of the server holds when it joins. Hash on this, not on `workerId`, to keep clients
   * with their worker's successor.
   */
  readonly slot: number;
  /** A hand-off to it is in flight (only `'all'` strategies see busy workers). */
  readonly busy: boolean;
  readonly load: WorkerLoad;
}

/** The connection being placed. Its fields are read from the socket on first use, so a strategy that ignores them costs nothing. */
export interface ConnectionInfo {
  /** The client's IP address; undefined on a Unix socket. */
  readonly remoteAddress: string | undefined;
  /**
   * The client the balancer's sticky header names, read from the connection's first bytes: for
   * `x-forwarded-for` and `forwarded`, the address the proxies in front of corral wrote
   * (`stickyProxyHops` from the right); for any other header, its first comma-separated entry,
   * trimmed. Undefined without `stickyHeader`, or when the request names no client that way.
   */
  readonly header: string | undefined;
}

export interface BalancingStrategy {
  /**
   * Which workers `pick` chooses among. `'free'` (the default): those with no hand-off in
   * flight, longest idle first; a connection waits in the server's queue until one is free, so a
   * worker that stops answering stops receiving. `'all'`: every worker of the server, in the order
   * they joined; the connection waits for the worker picked (sticky balancing needs that worker,
   * not any).
   */
  readonly candidates?: 'free' | 'all';
  /** Picks the worker for `connection` from `candidates` (never empty). Must return one of them. */
  pick(candidates: readonly Candidate[], connection: ConnectionInfo): Candidate;
}

/** Makes one strategy per shared server (it may keep state of its own). */
export type StrategyFactory = () => BalancingStrategy;

/** A balancer of one's own, for `createCluster({ balancer })` and `new ClusterPrimary({ balancer })`. */
export interface CustomBalancer {
  /** What `corral status`, logs and `cluster.balancer` call it. */
  readonly name: string;
  readonly createStrategy: StrategyFactory;
  /**
   * Ask managed workers to report the connections they close, so that `WorkerLoad.open` is
   * known (within 10 ms of each close), as least-connections does. Default false.
   */
  readonly countConnections?: boolean;
}
