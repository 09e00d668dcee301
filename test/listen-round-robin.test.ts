// Listening in workers under round-robin (node:cluster's SCHED_RR, corral's 'round-robin').
import nodeCluster from 'node:cluster';
import corral from 'corral';
import { defineListenSuite } from './helpers/listen-suite.js';

nodeCluster.schedulingPolicy = nodeCluster.SCHED_RR;
corral.schedulingPolicy = corral.SCHED_RR;
defineListenSuite('round-robin');
