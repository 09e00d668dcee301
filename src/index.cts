/**
 * corral's CommonJS entry. `require('corral')` returns the cluster object itself, as
 * `require('node:cluster')` does, with the named exports as its properties:
 *
 *   const cluster = require('corral');
 *   const { createCluster } = require('corral');
 *
 * It loads the ES module entry (index.ts) through Node's require(esm), so `import` and `require`
 * share one module instance, one cluster object and one primary.
 */
// The declarations use Node's types (node:cluster, node:child_process…). Referencing them here
// means a consumer needs only @types/node installed, not `"types": ["node"]` in its tsconfig
// (TypeScript 6 and later include no @types packages by default).
/// <reference types="node" preserve="true" />
// First: on an unsupported Node (no require(esm)), or under Bun or Deno, this throws one clear error.
import './support/node-version.cjs';
import './support/node-runtime.cjs';
import type * as corralEsm from './index.js' with { 'resolution-mode': 'import' };

// eslint-disable-next-line @typescript-eslint/no-require-imports -- require(esm) of our own entry
const corral = (require('./index.js') as typeof corralEsm).default;

// The package's types, reachable from CommonJS as `import type { ClusterOptions } from 'corral'`.
// A namespace merged with the exported value is the only way `export =` can carry types.
// eslint-disable-next-line @typescript-eslint/no-namespace
declare namespace corral {
  export type Cluster = corralEsm.Cluster;
  export type ClusterModule = corralEsm.ClusterModule;
  export type ClusterPrimary = corralEsm.ClusterPrimary;
  export type ClusterEvents = corralEsm.ClusterEvents;
  export type ClusterPrimaryOptions = corralEsm.ClusterPrimaryOptions;
  export type Worker = corralEsm.Worker;
  export type WorkerOptions = corralEsm.WorkerOptions;
  export type ManagedCluster = corralEsm.ManagedCluster;
  export type ClusterState = corralEsm.ClusterState;
  export type ManagedClusterEvents = corralEsm.ManagedClusterEvents;
  export type RestartInfo = corralEsm.RestartInfo;
  export type ClusterOptions = corralEsm.ClusterOptions;
  export type ResolvedClusterOptions = corralEsm.ResolvedClusterOptions;
  export type RestartOptions = corralEsm.RestartOptions;
  export type BalancerName = corralEsm.BalancerName;
  export type CorralError = corralEsm.CorralError;
  export type CorralErrorCode = corralEsm.CorralErrorCode;
  export type InvalidOptionError = corralEsm.InvalidOptionError;
  export type InvalidWorkerCountError = corralEsm.InvalidWorkerCountError;
  export type InvalidBalancerError = corralEsm.InvalidBalancerError;
  export type ExecNotFoundError = corralEsm.ExecNotFoundError;
  export type SettingsFrozenError = corralEsm.SettingsFrozenError;
  export type WorkerNotConnectedError = corralEsm.WorkerNotConnectedError;
  export type ClusterClosedError = corralEsm.ClusterClosedError;
  export type OperationCancelledError = corralEsm.OperationCancelledError;
  export type InvalidControlFrameError = corralEsm.InvalidControlFrameError;
  export type AdminListenError = corralEsm.AdminListenError;
  export type StartFailedError = corralEsm.StartFailedError;
  export type ReloadFailedError = corralEsm.ReloadFailedError;
  export type ClusterBusyError = corralEsm.ClusterBusyError;
  export type NodeClusterInUseError = corralEsm.NodeClusterInUseError;
  export type PrimaryModuleError = corralEsm.PrimaryModuleError;
  export type StartFailure = corralEsm.StartFailure;
  export type CrashLoopInfo = corralEsm.CrashLoopInfo;
  export type HealthAction = corralEsm.HealthAction;
  export type HealthReason = corralEsm.HealthReason;
  export type CrashLoopOptions = corralEsm.CrashLoopOptions;
  export type ReadyWhen = corralEsm.ReadyWhen;
  export type ReloadResult = corralEsm.ReloadResult;
  export type ScaleResult = corralEsm.ScaleResult;
  export type ClusterStatus = corralEsm.ClusterStatus;
  export type Readiness = corralEsm.Readiness;
  export type SlotStatus = corralEsm.SlotStatus;
  export type SlotState = corralEsm.SlotState;
  export type WorkerStatus = corralEsm.WorkerStatus;
  export type WorkerLifecycleState = corralEsm.WorkerLifecycleState;
  export type DrainReason = corralEsm.DrainReason;
  export type RuntimeReport = corralEsm.RuntimeReport;
  export type ManagedClusterContext = corralEsm.ManagedClusterContext;
  export type ShutdownResult = corralEsm.ShutdownResult;
  export type WorkerExit = corralEsm.WorkerExit;
  export type KilledWorker = corralEsm.KilledWorker;
  export type SignalAction = corralEsm.SignalAction;
  export type SignalHandlers = corralEsm.SignalHandlers;
  export type ClusterSettings = corralEsm.ClusterSettings;
  export type ExitSignal = corralEsm.ExitSignal;
  export type SchedulingPolicy = corralEsm.SchedulingPolicy;
  export type WorkerAddress = corralEsm.WorkerAddress;
  export type WorkerEvents = corralEsm.WorkerEvents;
  export type WorkerState = corralEsm.WorkerState;
  export type ConnectionEvent = corralEsm.ConnectionEvent;
  export type ActivatedSocket = corralEsm.ActivatedSocket;
}

export = corral;
