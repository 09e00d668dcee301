/**
 * corral's ES module entry: node:cluster's API with a primary of its own, and a managed cluster
 * for new code. `require('corral')` (index.cts) loads this same module, so a process that both
 * imports and requires corral has one cluster object and one primary.
 */
// The declarations use Node's types (node:cluster, node:child_process…). Referencing them here
// means a consumer needs only @types/node installed, not `"types": ["node"]` in its tsconfig
// (TypeScript 6 and later include no @types packages by default).
/// <reference types="node" preserve="true" />
// First: on an unsupported Node this throws one clear error before anything else loads.
import './support/node-version.cjs';
import { createClusterObject, type ClusterModule } from './cluster.js';
import * as namedExports from './named-exports.js';

export * from './named-exports.js';
export type { Cluster, ClusterModule } from './cluster.js';

const cluster: ClusterModule = createClusterObject(namedExports);
export default cluster;
