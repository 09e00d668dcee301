/** node:cluster's scheduling policy values (cluster.SCHED_NONE / cluster.SCHED_RR). */
export const SCHED_NONE = 1;
export const SCHED_RR = 2;

/** Balancer names of the managed cluster, and the scheduling policy each one maps to. */
export const BALANCERS = { 'round-robin': SCHED_RR, shared: SCHED_NONE } as const;
export type BalancerName = keyof typeof BALANCERS;
