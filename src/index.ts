/** corral: node:cluster's API with a primary of its own, and a managed cluster for new code. */
export { default, type Cluster } from './cluster.js';
export { ClusterPrimary, type ClusterEvents, type ClusterPrimaryOptions } from './primary/cluster-primary.js';
export { Worker, type WorkerOptions } from './primary/worker.js';
export {
  createCluster, ManagedCluster,
  type ClusterState, type ManagedClusterEvents, type RestartInfo,
} from './managed/managed-cluster.js';
export type { ClusterOptions, ResolvedClusterOptions, RestartOptions } from './managed/options.js';
export { SCHED_NONE, SCHED_RR, type BalancerName } from './constants.js';
export * from './errors.js';
export type {
  ClusterSettings, ExitSignal, SchedulingPolicy, WorkerAddress, WorkerEvents, WorkerState,
} from './types.js';
export type { ConnectionEvent } from './diagnostics.js';
