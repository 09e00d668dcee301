/**
 * Module resolution hooks that make `import 'node:cluster'` (and `'cluster'`) resolve to
 * corral's face of node:cluster (src/node-cluster-face.ts, an entry point beside index.ts) in
 * the primary. `corral/register` installs them before the app loads, so ES modules that import
 * node:cluster statically, and libraries loaded before corral, share corral's primary.
 *
 * The same `resolve` serves both hook APIs: `module.registerHooks()` (synchronous, in the main
 * thread; Node 22.15, 23.5 and later) and `module.register()` (off-thread; deprecated from
 * Node 26, used only where registerHooks is missing). corral's own modules are exempt: they
 * build on Node's real node:cluster.
 */
import { CORRAL_DIST_URL, NODE_CLUSTER_IDS } from './redirect.js';

/** The module node:cluster resolves to. */
export const FACE_URL = new URL('../node-cluster-face.js', import.meta.url).href;

interface ResolveContext {
  parentURL?: string | undefined;
  conditions?: readonly string[];
}

interface ResolveResult {
  url: string;
  format?: string | null | undefined;
  shortCircuit?: boolean;
}

export function resolve<Result>(
  specifier: string,
  context: ResolveContext,
  nextResolve: (specifier: string, context: ResolveContext) => Result,
): Result | ResolveResult {
  if (NODE_CLUSTER_IDS.has(specifier) && !isRequire(context) && !context.parentURL?.startsWith(CORRAL_DIST_URL)) {
    return { url: FACE_URL, format: 'module', shortCircuit: true };
  }
  return nextResolve(specifier, context);
}

// require() calls reach the hooks too (with registerHooks); they are redirected, without a
// module file, by redirect.ts, so the hook leaves them alone.
function isRequire(context: ResolveContext): boolean {
  return context.conditions?.includes('require') === true;
}
