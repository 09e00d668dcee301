/**
 * The cluster object of this process: what `import cluster from 'corral'` and
 * `require('corral')` both return, once per process.
 *
 * In the primary it is corral's own `ClusterPrimary`, and node:cluster is redirected to it
 * (node-cluster/redirect.ts). In a worker (a process forked with NODE_UNIQUE_ID) it is Node's
 * own worker half of node:cluster, exactly what `require('node:cluster')` gives there, so
 * `cluster.worker`, `cluster.isWorker` and `listen()` behave as under node:cluster.
 *
 * Either way it also carries the package's named exports as properties, because a CommonJS
 * `require('corral')` gets this object and nothing else.
 */
import { readFileSync } from 'node:fs';
import nodeCluster, { type Worker as NodeWorker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { ClusterPrimary } from './primary/cluster-primary.js';
import type * as NamedExports from './named-exports.js';
import { takeOverNodeCluster } from './node-cluster/redirect.js';
import { emitWarning } from './warnings.js';

/** The primary's API plus `worker`, which is set in workers. */
export interface Cluster extends Omit<ClusterPrimary, 'isPrimary' | 'isMaster' | 'isWorker' | 'worker'> {
  readonly isPrimary: boolean;
  /** @deprecated Alias of `isPrimary`. */
  readonly isMaster: boolean;
  readonly isWorker: boolean;
  /** The current worker, inside a worker process; `undefined` in the primary. */
  readonly worker?: NodeWorker | undefined;
}

/**
 * What `require('corral')` and `import cluster from 'corral'` return: the cluster object, with
 * the package's named exports (`createCluster`, `Worker`, the error classes…) and `default`
 * (itself) as properties.
 */
export type ClusterModule = Cluster & typeof NamedExports & { readonly default: ClusterModule };

/**
 * One per process, kept on `globalThis` under a registered symbol so that two installed copies
 * of corral (two module instances) still share one cluster object and one primary.
 */
interface ProcessCluster {
  readonly cluster: ClusterModule;
  /** The package folder of the copy that created it. */
  readonly packageDir: string;
}

const kProcessCluster = Symbol.for('corral.processCluster');
const registry = globalThis as { [kProcessCluster]?: ProcessCluster };

/**
 * The process's cluster object, created by the first copy of corral to load. `packageUrl` is the
 * loading copy's package folder (the package entry and the bundled CLI sit at different depths).
 */
export function processCluster(namedExports: typeof NamedExports, packageUrl: URL): ClusterModule {
  const packageDir = fileURLToPath(packageUrl);
  const existing = registry[kProcessCluster];
  if (existing !== undefined) {
    const [first, second] = existing.packageDir === packageDir ? ['', ''] : [versionIn(existing.packageDir), versionIn(packageDir)];
    if (first !== second) {
      emitWarning('CORRAL_DUPLICATE_INSTALL',
        `corral is installed twice: ${existing.packageDir} (${first}) and ${packageDir} (${second}). ` +
        `Both use the cluster object of the first, so there is still one primary, but the second copy's ` +
        'features are not used. Align the versions and run `npm dedupe` to keep one copy.');
    }
    return existing.cluster;
  }
  const cluster = createClusterObject(namedExports);
  if (cluster.isPrimary) {
    // Code that took node:cluster before corral loaded holds Node's own object: it becomes a
    // face of corral's primary (or, if Node's primary already forked, corral refuses to load).
    takeOverNodeCluster(cluster, nodeCluster, cluster);
  }
  registry[kProcessCluster] = { cluster, packageDir };
  return cluster;
}

/** The version of the corral copy in `packageDir` (read only when a second copy loads). */
function versionIn(packageDir: string): string {
  try {
    return (JSON.parse(readFileSync(`${packageDir}package.json`, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown version';
  }
}

function createClusterObject(namedExports: typeof NamedExports): ClusterModule {
  const extras: Record<string, unknown> = { ...namedExports };
  // Node decides the role once, when node:cluster first loads: a process started with
  // NODE_UNIQUE_ID (which Node deletes right after) is a worker.
  if (nodeCluster.isWorker) {
    // Node's own object must stay as the app sees it through require('node:cluster'), so the
    // extras are layered on by a proxy instead of being written onto it. Reads of anything
    // else, and every write, go to Node's object.
    const face: ClusterModule = new Proxy(nodeCluster as unknown as ClusterModule, {
      get: (target, key, receiver) => (typeof key === 'string' && Object.hasOwn(extras, key) && !(key in target)
        ? extras[key]
        : Reflect.get(target, key, receiver) as unknown),
      has: (target, key) => (typeof key === 'string' && Object.hasOwn(extras, key)) || key in target,
    });
    extras['default'] = face;
    return face;
  }
  const primary = new ClusterPrimary() as unknown as ClusterModule;
  extras['default'] = primary;
  for (const [key, value] of Object.entries(extras)) {
    // ClusterPrimary has its own `Worker`, `SCHED_RR` and `SCHED_NONE`: the same values.
    if (key in primary) continue;
    // Not enumerable: Object.keys(cluster) stays what node:cluster users know.
    Object.defineProperty(primary, key, { value, enumerable: false, writable: false, configurable: false });
  }
  return primary;
}
