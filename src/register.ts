/**
 * `node --import corral/register app.js`: in the primary, node:cluster is corral's primary from
 * the first line of the app, for ES modules that import it statically and for libraries that
 * load before corral. It loads corral (which redirects `require('cluster')` and
 * `process.getBuiltinModule`) and installs module hooks for `import 'node:cluster'`.
 *
 * In workers (which inherit the flag through execArgv) it does nothing: there node:cluster is
 * Node's own worker half. `CORRAL_REDIRECT_NODE_CLUSTER=0` turns it off in the primary too.
 */
import nodeCluster from 'node:cluster';
import { redirectionDisabled } from './node-cluster/redirect.js';

if (nodeCluster.isPrimary && !redirectionDisabled()) {
  await import('./index.js');
  const { installNodeClusterHooks } = await import('./node-cluster/install-hooks.js');
  installNodeClusterHooks();
}
