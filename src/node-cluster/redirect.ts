/**
 * In the primary, `require('cluster')`, `require('node:cluster')` and
 * `process.getBuiltinModule('node:cluster')` give corral's cluster object once corral has loaded,
 * so that libraries which take the cluster module themselves (prom-client's AggregatorRegistry,
 * @socket.io/sticky, log4js, rate-limiter-flexible, throng…) drive and observe corral's workers
 * instead of Node's own primary, which would have none.
 *
 * ES module imports of `node:cluster` are resolved before any code runs, so they are redirected
 * only by `corral/register` (esm-hooks.ts), which installs module hooks before the app loads.
 * Workers are never redirected: there, `node:cluster` is Node's worker half, as the app expects.
 *
 * On by default (the drop-in promise); `CORRAL_REDIRECT_NODE_CLUSTER=0` in the environment, or
 * `restoreNodeCluster()`, turns it off.
 */
import { fileURLToPath } from 'node:url';
import { redirectRequire } from '../internal/node-internals.js';

export const NODE_CLUSTER_IDS: ReadonlySet<string> = new Set(['cluster', 'node:cluster']);

/** The environment variable that turns the redirection off when set to 0, false or off. */
export const REDIRECT_ENV = 'CORRAL_REDIRECT_NODE_CLUSTER';

/** corral's own dist/ folder: its files always see Node's real node:cluster. */
export const CORRAL_DIST_URL = new URL('../', import.meta.url).href;
const CORRAL_DIST_DIR = fileURLToPath(CORRAL_DIST_URL);

export interface Redirection {
  readonly restore: () => void;
}

/** Whether the environment opts out of the redirection. */
export function redirectionDisabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env[REDIRECT_ENV];
  return value !== undefined && ['0', 'false', 'off', 'no'].includes(value.trim().toLowerCase());
}

/** Redirects CommonJS `require` and `process.getBuiltinModule` of node:cluster to `cluster`. */
export function redirectNodeCluster(cluster: object): Redirection {
  const stopRequire = redirectRequire(NODE_CLUSTER_IDS, cluster,
    (parent) => parent !== undefined && parent.startsWith(CORRAL_DIST_DIR));
  let active = true;
  if (typeof process.getBuiltinModule === 'function') {
    const getBuiltinModule = process.getBuiltinModule.bind(process) as (id: string) => unknown;
    process.getBuiltinModule = function redirected(id: string) {
      if (active && NODE_CLUSTER_IDS.has(id)) return cluster;
      return getBuiltinModule(id);
    } as typeof process.getBuiltinModule;
  }
  return {
    restore: () => {
      stopRequire();
      active = false;
    },
  };
}
