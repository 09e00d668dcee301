/**
 * The balancers, by name: how a server that several workers listen on reaches them. A
 * dispatching balancer keeps the socket in the primary and hands each accepted connection to the
 * worker its strategy picks (dispatcher.ts); a lending balancer gives every worker the socket and
 * lets the kernel choose (shared-handle.ts). Each also says which node:cluster scheduling policy
 * it reports as `cluster.schedulingPolicy`.
 */
import { SCHED_NONE, SCHED_RR } from '../../constants.js';
import type { SchedulingPolicy } from '../../types.js';
import type { ListenHandle, ListenQuery } from '../listen-handle.js';
import { Dispatcher } from './dispatcher.js';
import { SharedHandle } from './shared-handle.js';
import { roundRobin } from './strategies/round-robin.js';
import { leastConnections } from './strategies/least-connections.js';

export interface BalancerDefinition {
  /** What `cluster.schedulingPolicy` says while this balancer is in use. */
  readonly policy: SchedulingPolicy;
  /** The listen handle for one TCP or pipe server (UDP is always lent: datagrams cannot be handed over). */
  readonly createHandle: (key: string, address: string | null, query: ListenQuery, keepOpen: boolean) => ListenHandle;
}

export const BALANCERS = {
  /** node:cluster's SCHED_RR (the default): the longest-idle worker takes the next connection. */
  'round-robin': {
    policy: SCHED_RR,
    createHandle: (key, address, query, keepOpen) => new Dispatcher(key, address, query, roundRobin, keepOpen),
  },
  /**
   * The free worker with the fewest open connections takes the next one (counted from what the
   * primary handed over and the closes the workers' reports say; managed workers only, elsewhere
   * it picks as round-robin does).
   */
  'least-connections': {
    policy: SCHED_RR,
    createHandle: (key, address, query, keepOpen) => new Dispatcher(key, address, query, leastConnections, keepOpen),
  },
  /** node:cluster's SCHED_NONE: every worker accepts on the socket itself. */
  shared: {
    policy: SCHED_NONE,
    createHandle: (key, address, query, keepOpen) => new SharedHandle(key, address, query, keepOpen),
  },
} as const satisfies Record<string, BalancerDefinition>;

export type BalancerName = keyof typeof BALANCERS;

/** The balancer node:cluster's scheduling policy names. */
export function balancerOfPolicy(policy: SchedulingPolicy): BalancerName {
  return policy === SCHED_RR ? 'round-robin' : 'shared';
}

export function isBalancerName(name: unknown): name is BalancerName {
  return typeof name === 'string' && Object.hasOwn(BALANCERS, name);
}
