/** Cross-module internals of the primary. Never exported from the package entry. */
export const kAttachOwner = Symbol('corral.attachOwner');
export const kControl = Symbol('corral.control');
