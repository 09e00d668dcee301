/**
 * Node's own node:cluster object, adopted as a face of corral's primary.
 *
 * The require redirection (redirect.ts) only helps code that asks for node:cluster after corral
 * has loaded. Code that took it earlier holds Node's own primary object: a CommonJS library
 * required before corral, an ES module that imports node:cluster statically, or a library that
 * evaluates while a sibling module is still awaiting `import('corral')` (ES module siblings after
 * a module with top-level await run before it finishes). On that object Node's primary has no
 * workers, so those libraries would fail silently (log lines lost, rate-limit requests timing
 * out, socket.io answering 503).
 *
 * So when corral loads in a primary, Node's object becomes a face of corral's primary: its
 * cluster members (`fork`, `setupPrimary`, `workers`, `settings`, `schedulingPolicy`, …) and its
 * EventEmitter methods forward to corral, and the listeners already registered on it move to
 * corral's primary, so they hear corral's events. Settings given to Node's `setupPrimary()`
 * before corral loaded carry over. `module.syncBuiltinESMExports()` then makes the named
 * exports of `import { fork } from 'node:cluster'` follow.
 *
 * If Node's primary had already forked workers, corral refuses to load (NodeClusterInUseError):
 * those workers talk to Node's primary, and two primaries in one process would each see half.
 * Only documented surfaces are used: the properties of node:cluster's exported object, the
 * EventEmitter API and `module.syncBuiltinESMExports()`.
 */
import type { EventEmitter } from 'node:events';
import Module from 'node:module';
import { NodeClusterInUseError } from '../errors.js';
import type { ClusterSettings, SchedulingPolicy } from '../types.js';

/** The members of a node:cluster primary that corral's primary provides (ClusterPrimary). */
export interface AdoptingPrimary extends EventEmitter {
  readonly isPrimary: boolean;
  readonly isMaster: boolean;
  readonly isWorker: boolean;
  readonly Worker: unknown;
  readonly SCHED_RR: number;
  readonly SCHED_NONE: number;
  readonly workers: object;
  readonly settings: ClusterSettings;
  schedulingPolicy: SchedulingPolicy;
  readonly fork: (...args: never[]) => unknown;
  readonly setupPrimary: (settings?: ClusterSettings) => void;
  readonly setupMaster: (settings?: ClusterSettings) => void;
  readonly disconnect: (callback?: () => void) => void;
}

/** Node's primary as this module touches it: an EventEmitter with node:cluster's own properties. */
type NodePrimary = EventEmitter & Record<string, unknown>;

/** node:cluster's members that are values of the primary, forwarded as read-only accessors. */
const VALUE_MEMBERS = [
  'isPrimary', 'isMaster', 'isWorker', 'Worker', 'SCHED_RR', 'SCHED_NONE', 'workers', 'settings',
  'fork', 'setupPrimary', 'setupMaster', 'disconnect',
] as const;

/** EventEmitter's methods; calls on Node's object run on corral's primary. */
const EMITTER_METHODS = [
  'on', 'addListener', 'prependListener', 'once', 'prependOnceListener', 'off', 'removeListener',
  'removeAllListeners', 'emit', 'listeners', 'rawListeners', 'listenerCount', 'eventNames',
  'setMaxListeners', 'getMaxListeners',
] as const;

export interface Adoption {
  /** Gives Node's object its own members back (listeners moved to corral stay there). */
  readonly restore: () => void;
}

/**
 * Makes `nodeCluster` (Node's node:cluster primary object) a face of `primary`. Throws
 * NodeClusterInUseError if Node's primary already has workers.
 */
export function adoptNodeCluster(nodeCluster: object, primary: AdoptingPrimary): Adoption {
  const node = nodeCluster as NodePrimary;
  const running = Object.keys((node['workers'] as object | undefined) ?? {}).length;
  if (running > 0) throw new NodeClusterInUseError(running);

  // What the program told Node's primary before corral loaded.
  const settings = node['settings'] as ClusterSettings | undefined;
  if (settings !== undefined && Object.keys(settings).length > 0) primary.setupPrimary({ ...settings });
  const policy = node['schedulingPolicy'];
  if (policy !== primary.schedulingPolicy && (policy === primary.SCHED_RR || policy === primary.SCHED_NONE)) {
    primary.schedulingPolicy = policy as SchedulingPolicy;
  }
  moveListeners(node, primary);

  const originals = new Map<string, PropertyDescriptor | undefined>();
  const define = (key: string, descriptor: PropertyDescriptor): void => {
    if (!originals.has(key)) originals.set(key, Object.getOwnPropertyDescriptor(node, key));
    Object.defineProperty(node, key, { enumerable: true, configurable: true, ...descriptor });
  };
  for (const key of VALUE_MEMBERS) define(key, { get: () => primary[key] });
  define('schedulingPolicy', {
    get: () => primary.schedulingPolicy,
    set: (value: SchedulingPolicy) => { primary.schedulingPolicy = value; },
  });
  for (const method of EMITTER_METHODS) {
    const forward = (primary[method] as (...args: unknown[]) => unknown).bind(primary);
    // Chained calls (cluster.on(…).on(…)) keep returning the object they started from.
    define(method, { value: (...args: unknown[]) => { const result = forward(...args); return result === primary ? node : result; }, writable: true });
  }
  // node:cluster's named exports are copies, refreshed only by this call. (As with Node's own
  // primary, a later setupPrimary() replaces `settings` without refreshing the named copy.)
  Module.syncBuiltinESMExports();

  return {
    restore: () => {
      for (const [key, descriptor] of originals) {
        if (descriptor === undefined) Reflect.deleteProperty(node, key);
        else Object.defineProperty(node, key, descriptor);
      }
      originals.clear();
      Module.syncBuiltinESMExports();
    },
  };
}

/** Moves every listener (in order, `once` ones still once) from Node's object to corral's. */
function moveListeners(from: EventEmitter, to: EventEmitter): void {
  for (const event of from.eventNames()) {
    for (const listener of from.rawListeners(event)) {
      const raw = listener as ((...args: unknown[]) => void) & { listener?: (...args: unknown[]) => void };
      // rawListeners() gives `once` listeners as wrappers bound to `from`; re-register the original.
      if (typeof raw.listener === 'function') to.once(event, raw.listener);
      else to.on(event, raw);
    }
  }
  from.removeAllListeners();
}
