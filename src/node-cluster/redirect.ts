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
import { adoptNodeCluster, type Adoption, type AdoptingPrimary } from './adopt.js';

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

/** What corral changed to make node:cluster its own, kept per process (two copies of corral share it). */
interface Takeover {
  readonly redirection: Redirection;
  readonly adoption: Adoption;
}

const kTakeover = Symbol.for('corral.nodeClusterTakeover');
const store = globalThis as { [kTakeover]?: Takeover };

/**
 * Makes node:cluster corral's in this primary: `nodeCluster` (Node's own object, which code that
 * loaded before corral may hold) becomes a face of `primary` (adopt.ts), and later requires of
 * node:cluster give `cluster`. Does nothing when the environment opts out. Throws
 * NodeClusterInUseError if Node's own primary already forked.
 */
export function takeOverNodeCluster(cluster: object, nodeCluster: object, primary: AdoptingPrimary): void {
  if (redirectionDisabled() || store[kTakeover] !== undefined) return;
  const adoption = adoptNodeCluster(nodeCluster, primary);
  store[kTakeover] = { adoption, redirection: redirectNodeCluster(cluster) };
}

/**
 * Turns off the redirection of node:cluster to corral's primary: from now on
 * `require('node:cluster')` gives Node's own primary again, and Node's object is no longer a face
 * of corral's (listeners it had when corral loaded stay on corral's primary).
 * (`CORRAL_REDIRECT_NODE_CLUSTER=0` keeps it from being turned on at all.)
 */
export function restoreNodeCluster(): void {
  const takeover = store[kTakeover];
  if (takeover === undefined) return;
  takeover.redirection.restore();
  takeover.adoption.restore();
  delete store[kTakeover];
}
