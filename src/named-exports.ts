/**
 * The package's named exports. `import { createCluster } from 'corral'` reads them from here, and
 * the cluster object carries the same values as properties, so that CommonJS code can write
 * `const { createCluster } = require('corral')`.
 */
export { ClusterPrimary, type ClusterEvents, type ClusterPrimaryOptions } from './primary/cluster-primary.js';
export { Worker, type WorkerOptions } from './primary/worker.js';
export {
  createCluster, ManagedCluster, type ManagedClusterContext,
  type ClusterState, type ManagedClusterEvents, type RestartInfo, type CrashLoopInfo, type HealthAction, type HealthReason, type HangDiagnosis, type MemoryMeasure, type ExitReason, type LastExit, type ReloadResult,
  type ScaleResult, type ClusterStatus, type Readiness, type SlotStatus, type SlotState, type WorkerStatus, type WorkerLifecycleState,
  type WorkerInspector, type InspectorPlan, type InspectorMode,
} from './managed/managed-cluster.js';
export type {
  ClusterOptions, ResolvedClusterOptions, RestartOptions, CrashLoopOptions, ReadyWhen,
} from './managed/options.js';
export type { DrainReason } from './managed/managed-worker.js';
export type { RuntimeReport } from './managed/runtime-link.js';
export type { KilledWorker, ShutdownResult, WorkerExit } from './managed/shutdown.js';
export { handleSignals, type SignalAction, type SignalHandlers } from './managed/signals.js';
export { SCHED_NONE, SCHED_RR } from './constants.js';
export type { BalancerName } from './primary/balancers/balancers.js';
export type { BalancerChoice } from './primary/balancers/balancers.js';
export type {
  BalancingStrategy, Candidate, ConnectionInfo, CustomBalancer, StrategyFactory, WorkerLoad,
} from './primary/balancers/strategy.js';
export {
  CorralError, InvalidOptionError, InvalidWorkerCountError, InvalidBalancerError, ExecNotFoundError,
  SettingsFrozenError, WorkerNotConnectedError, ClusterClosedError, OperationCancelledError, InvalidControlFrameError,
  StartFailedError, ReloadFailedError, ClusterBusyError, NodeClusterInUseError, PrimaryModuleError, AdminListenError, type StartFailure,
  type CorralErrorCode,
} from './errors.js';
export type {
  ClusterSettings, ExitSignal, SchedulingPolicy, WorkerAddress, WorkerEvents, WorkerState,
} from './types.js';
export type { ConnectionEvent } from './diagnostics.js';
export type { ActivatedSocket } from './primary/socket-activation.js';
export { restoreNodeCluster } from './node-cluster/redirect.js';
