/**
 * The slot a worker holds on a server: its managed cluster's slot (a restarted or reloaded
 * worker takes its predecessor's), or, outside a managed cluster, the lowest number no other
 * worker of the server holds. Balancers that keep something per slot (sticky's hashing,
 * reuseport's sockets) key it by this.
 */
import { kSlot } from '../../internal/symbols.js';
import type { HandoffTarget } from '../listen-handle.js';

export function slotOf(worker: HandoffTarget, taken: Iterable<number>): number {
  const managed = worker[kSlot];
  if (managed !== undefined) return managed;
  const used = new Set(taken);
  let slot = 0;
  while (used.has(slot)) slot += 1;
  return slot;
}
