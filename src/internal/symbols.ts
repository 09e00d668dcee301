/** Cross-module internals of the primary. Never exported from the package entry. */
export const kAttachOwner = Symbol('corral.attachOwner');
export const kClusterChannel = Symbol('corral.clusterChannel');
/** Registered (Symbol.for) because a second installed copy of corral uses the first copy's primary. */
export const kOnConfigChange = Symbol.for('corral.onConfigChange');
/** A worker's latest runtime report, set by the managed cluster, read by the balancers' strategies. */
export const kRuntimeReport = Symbol('corral.runtimeReport');
/** How many connections the primary handed to a worker and it accepted, by every server (least-connections reads it). */
export const kHandoffsAccepted = Symbol('corral.handoffsAccepted');
/** A worker's slot in a managed cluster: a restarted or reloaded worker takes its predecessor's (the sticky balancer hashes on it). */
export const kSlot = Symbol('corral.slot');
/**
 * A managed cluster's fork: with its slot's inspector options instead of node:cluster's port
 * numbering. Registered, as a managed cluster may be given the primary of another installed copy.
 */
export const kForkWith = Symbol.for('corral.forkWith');
/** A managed cluster's admin server opened before start(): `corral start` says a port it cannot open before its start line. */
export const kOpenAdmin = Symbol('corral.openAdmin');
