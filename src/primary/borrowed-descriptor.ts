/**
 * `listen({ fd })` and `bind({ fd })` in a worker name a descriptor of the *primary*: a socket
 * inherited from systemd, or one the primary's own code created. The primary wraps it and closes
 * it once no worker uses it. A worker (a bug, or a compromised dependency inside it) can name any
 * number, so only a socket the primary does not use for anything else is accepted: never its
 * standard streams, libuv's internal pipes (not sockets), its IPC channels, nor a socket that one
 * of its servers, connections or corral's balancers holds.
 */
import fs from 'node:fs';
import { descriptorsInUse } from '../internal/node-internals.js';

/** Why the primary refuses to lend `fd` to a worker, or undefined when it may. */
export function borrowedDescriptorProblem(fd: number): string | undefined {
  if (fd <= 2) return `descriptor ${fd} is one of the primary's standard streams`;
  let stats: fs.Stats;
  try {
    stats = fs.fstatSync(fd);
  } catch {
    return `descriptor ${fd} is not open in the primary`;
  }
  if (!stats.isSocket()) return `descriptor ${fd} is not a socket (libuv's own pipes and files are never lent out)`;
  if (descriptorsInUse().has(fd)) {
    return `descriptor ${fd} is in use by the primary (an IPC channel, a connection or another server's socket)`;
  }
  return undefined;
}
