/**
 * The cluster object of this process: what `import cluster from 'corral'` and
 * `require('corral')` both return, once per process.
 *
 * In the primary it is corral's own `ClusterPrimary`. In a worker (a process forked with
 * NODE_UNIQUE_ID) it is Node's own worker half of node:cluster, exactly what
 * `require('node:cluster')` gives there, so `cluster.worker`, `cluster.isWorker` and `listen()`
 * behave as under node:cluster.
 *
 * Either way it also carries the package's named exports as properties, because a CommonJS
 * `require('corral')` gets this object and nothing else.
 */
import nodeCluster, { type Worker as NodeWorker } from 'node:cluster';
import { ClusterPrimary } from './primary/cluster-primary.js';
import type * as NamedExports from './named-exports.js';

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

/** Builds the process's cluster object; `index.ts` calls it once. */
export function createClusterObject(namedExports: typeof NamedExports): ClusterModule {
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
