/**
 * `node --require corral/register app.js`: the CommonJS form of register.ts (which see). In the
 * primary, node:cluster is corral's primary from the first line of the app; in workers it does
 * nothing.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- CommonJS import of a builtin
import nodeClusterModule = require('node:cluster');
import type * as hooks from './node-cluster/install-hooks.js' with { 'resolution-mode': 'import' };
import type * as redirect from './node-cluster/redirect.js' with { 'resolution-mode': 'import' };

/* eslint-disable @typescript-eslint/no-require-imports -- require(esm) of corral's own modules */
// node:cluster's CommonJS export is the cluster object (its types describe the ES module face).
const nodeCluster = nodeClusterModule as unknown as typeof nodeClusterModule.default;
const { redirectionDisabled } = require('./node-cluster/redirect.js') as typeof redirect;
if (nodeCluster.isPrimary && !redirectionDisabled()) {
  require('./index.cjs');
  (require('./node-cluster/install-hooks.js') as typeof hooks).installNodeClusterHooks();
}
