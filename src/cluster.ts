/**
 * The default export: node:cluster's API. In the primary it is corral's own primary; in a worker
 * (a process corral forked) it is Node's own worker half of node:cluster, exactly as
 * `require('node:cluster')` would give, so `cluster.worker`, `cluster.isWorker` and `listen()`
 * behave as under node:cluster.
 */
import nodeCluster, { type Worker as NodeWorker } from 'node:cluster';
import { ClusterPrimary } from './primary/cluster-primary.js';

/** The type of the default export: the primary's API plus `worker`, which is set in workers. */
export interface Cluster extends Omit<ClusterPrimary, 'isPrimary' | 'isMaster' | 'isWorker' | 'worker'> {
  readonly isPrimary: boolean;
  /** @deprecated Alias of `isPrimary`. */
  readonly isMaster: boolean;
  readonly isWorker: boolean;
  /** The current worker, inside a worker process; `undefined` in the primary. */
  readonly worker?: NodeWorker | undefined;
}

// Node decides the role once, when node:cluster first loads: a process started with
// NODE_UNIQUE_ID (which Node deletes right after) is a worker.
const cluster: Cluster = nodeCluster.isWorker
  ? (nodeCluster as unknown as Cluster)
  : new ClusterPrimary();

export default cluster;
