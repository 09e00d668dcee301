/** Cross-module internals of the primary. Never exported from the package entry. */
export const kAttachOwner = Symbol('corral.attachOwner');
export const kClusterChannel = Symbol('corral.clusterChannel');
/** Registered (Symbol.for) because a second installed copy of corral uses the first copy's primary. */
export const kOnConfigChange = Symbol.for('corral.onConfigChange');
