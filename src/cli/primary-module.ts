/**
 * `corral start --primary <module>`: code of the app's that runs in corral's primary. The app's
 * own code runs only in workers, so the primary halves of cluster-aware libraries (socket.io's
 * cluster adapter `setupPrimary()`, prom-client's AggregatorRegistry, log4js clustering,
 * rate-limiter-flexible's RateLimiterClusterMaster) need a place of their own: this module,
 * loaded once before the first worker forks, where node:cluster is the primary that forks the
 * app's workers.
 *
 * It is not reloaded by `corral reload`: what it holds (an aggregator, an adapter's relay, a rate
 * limiter's store) spans the workers and must outlive each generation of them. Restart the app
 * (stop, start) to run a new version of it.
 */
import { pathToFileURL } from 'node:url';
import { inspect } from 'node:util';
import { processCluster } from '../cluster.js';
import { PrimaryModuleError } from '../errors.js';
import * as namedExports from '../named-exports.js';
import type { ClusterPrimary } from '../primary/cluster-primary.js';
import { supportsTypeScript, TYPESCRIPT_EXTENSIONS } from './typescript.js';

/**
 * This process's cluster primary: what `require('node:cluster')` and `import 'corral'` give in
 * it from now on, and what the managed cluster of `corral start` forks in.
 */
export function processPrimary(): ClusterPrimary {
  // This file is bundled into dist/cli/bundle.cjs: the package folder is two levels up.
  return processCluster(namedExports, new URL('../../', import.meta.url)) as unknown as ClusterPrimary;
}

/** Loads the primary module (CommonJS, ES module, or TypeScript where Node strips types). */
export async function loadPrimaryModule(file: string): Promise<void> {
  if (TYPESCRIPT_EXTENSIONS.some((extension) => file.endsWith(extension)) && !supportsTypeScript()) {
    throw new PrimaryModuleError(file, `cannot be loaded: Node.js ${process.versions.node} does not run TypeScript files. ` +
      'Compile it to JavaScript, or use Node.js 22.18 or later, which runs .ts files as they are.');
  }
  try {
    await import(pathToFileURL(file).href);
  } catch (error) {
    throw new PrimaryModuleError(file, `failed while loading, so no worker was started: ${inspect(error)}`, error);
  }
}
