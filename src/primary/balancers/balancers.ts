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
import { ReuseportHandle } from './reuseport-handle.js';
import { UdpReuseportHandle } from './udp-reuseport-handle.js';
import { reuseportUnsupported } from './reuseport-support.js';
import { InvalidOptionError } from '../../errors.js';
import { roundRobin } from './strategies/round-robin.js';
import { leastConnections } from './strategies/least-connections.js';
import { sticky } from './strategies/sticky.js';
import type { CustomBalancer } from './strategy.js';

/** How a balancer is set up beyond its name. */
export interface BalancerSettings {
  /** sticky: the HTTP header (lower case) that names the client, read from each connection's first bytes. */
  readonly stickyHeader?: string | undefined;
  /** sticky by X-Forwarded-For or Forwarded: how many proxies in front of corral append to it (forwarded-client.ts). */
  readonly stickyProxyHops?: number | undefined;
}

export interface BalancerDefinition {
  /** What `cluster.schedulingPolicy` says while this balancer is in use. */
  readonly policy: SchedulingPolicy;
  /** The listen handle for one TCP or pipe server. */
  readonly createHandle: (key: string, address: string | null, query: ListenQuery, keepOpen: boolean, settings: BalancerSettings) => ListenHandle;
  /** The handle for one UDP socket; without it, one socket lent to every worker (datagrams cannot be handed over). */
  readonly createUdpHandle?: (key: string, address: string | null, query: ListenQuery, keepOpen: boolean) => ListenHandle;
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
  /**
   * The same client lands on the same worker (by IP address, or by `stickyHeader` behind a
   * proxy), by rendezvous hashing on slots: losing or restarting a worker moves only its clients.
   */
  sticky: {
    policy: SCHED_RR,
    createHandle: (key, address, query, keepOpen, { stickyHeader, stickyProxyHops }) => new Dispatcher(key, address, query, sticky, { keepOpen, stickyHeader, stickyProxyHops }),
  },
  /** node:cluster's SCHED_NONE: every worker accepts on the socket itself. */
  shared: {
    policy: SCHED_NONE,
    createHandle: (key, address, query, keepOpen) => new SharedHandle(key, address, query, keepOpen),
  },
  /**
   * One SO_REUSEPORT socket per slot, held by the primary and lent to the slot's worker: the
   * kernel spreads connections, and a socket outlives its worker (Linux, Node 22.12+/23.1+).
   * Unix sockets and inherited descriptors are lent whole, as `shared` does. UDP too gets a
   * socket per slot (udp-reuseport-handle.ts).
   */
  reuseport: {
    policy: SCHED_NONE,
    createHandle: (key, address, query, keepOpen) =>
      keepOpen || (query.fd !== undefined && query.fd >= 0) || query.port === null || query.port < 0
        ? new SharedHandle(key, address, query, keepOpen)
        : new ReuseportHandle(key, address, query),
    createUdpHandle: (key, address, query, keepOpen) =>
      keepOpen || (query.fd !== undefined && query.fd >= 0) ? new SharedHandle(key, address, query, keepOpen) : new UdpReuseportHandle(key, address, query),
  },
} as const satisfies Record<string, BalancerDefinition>;

export type BalancerName = keyof typeof BALANCERS;

/** A balancer by name, or one of the user's own. */
export type BalancerChoice = BalancerName | CustomBalancer;

export function definitionOf(choice: BalancerChoice): BalancerDefinition {
  if (typeof choice === 'string') return BALANCERS[choice];
  return {
    policy: SCHED_RR,
    createHandle: (key, address, query, keepOpen, { stickyHeader, stickyProxyHops }) =>
      new Dispatcher(key, address, query, choice.createStrategy, { keepOpen, stickyHeader, stickyProxyHops }),
  };
}

/** Throws when the balancer cannot run on this system (reuseport), saying why and what to use. */
export function assertBalancerRuns(choice: BalancerChoice, option = 'balancer'): void {
  const problem = choice === 'reuseport' ? reuseportUnsupported() : undefined;
  if (problem === undefined) return;
  throw new InvalidOptionError(option, `a balancer this system runs: 'reuseport' cannot, as ${problem}`, choice,
    "Use 'round-robin' (the default) or 'shared', which the kernel balances too; or run on Node 22.12+ on Linux.");
}

/** The name `cluster.balancer`, status and logs give it. */
export function nameOf(choice: BalancerChoice): string {
  return typeof choice === 'string' ? choice : choice.name;
}

/** Whether the workers must count the connections they close (WorkerLoad.open). */
export function countsConnections(choice: BalancerChoice): boolean {
  return choice === 'least-connections' || (typeof choice === 'object' && choice.countConnections === true);
}

/** A user's balancer object has a name and a strategy factory. */
export function isCustomBalancer(value: unknown): value is CustomBalancer {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<Record<keyof CustomBalancer, unknown>>;
  return typeof candidate.name === 'string' && candidate.name !== '' && typeof candidate.createStrategy === 'function' &&
    (candidate.countConnections === undefined || typeof candidate.countConnections === 'boolean');
}

/** The balancer node:cluster's scheduling policy names. */
export function balancerOfPolicy(policy: SchedulingPolicy): BalancerName {
  return policy === SCHED_RR ? 'round-robin' : 'shared';
}

export function isBalancerName(name: unknown): name is BalancerName {
  return typeof name === 'string' && Object.hasOwn(BALANCERS, name);
}
