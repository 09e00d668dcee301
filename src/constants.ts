/** node:cluster's scheduling policy values (cluster.SCHED_NONE / cluster.SCHED_RR). */
export const SCHED_NONE = 1;
export const SCHED_RR = 2;
