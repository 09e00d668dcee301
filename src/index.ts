/**
 * corral's ES module entry: node:cluster's API with a primary of its own, and a managed cluster
 * for new code. `require('corral')` (index.cts) loads this same module, so a process that both
 * imports and requires corral has one cluster object and one primary.
 */
// The declarations use Node's types (node:cluster, node:child_process…). Referencing them here
// means a consumer needs only @types/node installed, not `"types": ["node"]` in its tsconfig
// (TypeScript 6 and later include no @types packages by default).
/// <reference types="node" preserve="true" />
// First: on an unsupported Node, or under Bun or Deno, this throws one clear error before
// anything else loads.
import './support/node-version.cjs';
import './support/node-runtime.cjs';
import { processCluster, type Cluster, type ClusterModule } from './cluster.js';
import { kOnConfigChange } from './internal/symbols.js';
import * as namedExports from './named-exports.js';
import type { ClusterPrimary } from './primary/cluster-primary.js';

export * from './named-exports.js';
export type { Cluster, ClusterModule } from './cluster.js';

const cluster: ClusterModule = processCluster(namedExports, new URL('../', import.meta.url));
export default cluster;

// node:cluster's named exports, as its ES module face offers them: `import { fork, workers }
// from 'corral'`. In a worker, the primary-only ones are undefined, as in Node.
export const isPrimary: boolean = cluster.isPrimary;
export const isMaster: boolean = cluster.isMaster;
export const isWorker: boolean = cluster.isWorker;
export const worker: Cluster['worker'] = cluster.worker;
export const fork: Cluster['fork'] = cluster.fork;
export const workers: Cluster['workers'] = cluster.workers;
export const setupPrimary: Cluster['setupPrimary'] = cluster.setupPrimary;
export const setupMaster: Cluster['setupMaster'] = cluster.setupMaster;
export const disconnect: Cluster['disconnect'] = cluster.disconnect;
// Live, unlike node:cluster's: they follow setupPrimary() and assignments to schedulingPolicy.
export let settings: Cluster['settings'] = cluster.settings;
export let schedulingPolicy: Cluster['schedulingPolicy'] = cluster.schedulingPolicy;
// (A primary made by another installed copy of corral may predate the hook.)
const onConfigChange = (cluster as unknown as Partial<ClusterPrimary>)[kOnConfigChange];
onConfigChange?.call(cluster, () => {
  settings = cluster.settings;
  schedulingPolicy = cluster.schedulingPolicy;
});
