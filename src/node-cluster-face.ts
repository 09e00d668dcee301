/**
 * What `import 'node:cluster'` resolves to under `corral/register` in the primary: node:cluster's
 * ES module face (the default export and its named exports), backed by corral's cluster object.
 */
export {
  default, isPrimary, isMaster, isWorker, fork, workers, settings, setupPrimary, setupMaster,
  disconnect, schedulingPolicy, SCHED_RR, SCHED_NONE, Worker, worker,
} from './index.js';
