// Listening in workers under the shared policy (node:cluster's SCHED_NONE, corral's 'shared').
import nodeCluster from 'node:cluster';
import corral from 'corral';
import { defineListenSuite } from './helpers/listen-suite.js';

nodeCluster.schedulingPolicy = nodeCluster.SCHED_NONE;
corral.schedulingPolicy = corral.SCHED_NONE;
defineListenSuite('shared');
