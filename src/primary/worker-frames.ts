/**
 * Validation of the frames a worker's node:cluster half sends (research note §2.4). Anything a
 * worker sends on the `NODE_CLUSTER` channel is untrusted input: user code can send such frames
 * too, so a malformed one is refused with a warning instead of crashing the primary.
 */
import type { ClusterFrame } from '../internal/node-internals.js';
import type { WorkerAddress } from '../types.js';
import type { ListenQuery } from './listen-handle.js';

type AddressType = ListenQuery['addressType'];

const ADDRESS_TYPES: ReadonlySet<unknown> = new Set([4, 6, -1, 'udp4', 'udp6']);

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

export function parseListenQuery(frame: ClusterFrame): Parsed<ListenQuery> {
  const { address, port, addressType, fd, flags, backlog, index, data, readableAll, writableAll } = frame;
  if (address !== null && address !== undefined && typeof address !== 'string') {
    return { ok: false, problem: 'address must be a string or null' };
  }
  if (!Number.isInteger(port) || (port as number) < -1 || (port as number) > 65535) {
    return { ok: false, problem: `port must be an integer from -1 to 65535, got ${String(port)}` };
  }
  if (!ADDRESS_TYPES.has(addressType)) {
    return { ok: false, problem: `addressType must be 4, 6, -1, 'udp4' or 'udp6', got ${String(addressType)}` };
  }
  if (!Number.isInteger(index) || (index as number) < 0) {
    return { ok: false, problem: 'index must be a non-negative integer' };
  }
  if ((port as number) < 0 && typeof address !== 'string' && fd === undefined) {
    return { ok: false, problem: 'a Unix socket query (port -1) needs a path in address' };
  }
  return {
    ok: true,
    value: {
      address: typeof address === 'string' ? address : null,
      port: port as number,
      addressType: addressType as AddressType,
      // Node's worker half sends these loosely (e.g. `backlog: false` for listen(port, host, cb));
      // anything but an integer means "not given", as it does for node:cluster's primary.
      fd: integerOrUndefined(fd),
      flags: integerOrUndefined(flags),
      backlog: integerOrUndefined(backlog),
      index: index as number,
      data: data ?? null,
      readableAll: readableAll === true ? true : undefined,
      writableAll: writableAll === true ? true : undefined,
    },
  };
}

/** The `'listening'` event argument: exactly node:cluster's four keys. */
export function parseListeningAddress(frame: ClusterFrame): Parsed<WorkerAddress> {
  const { addressType, address, port, fd } = frame;
  if (!ADDRESS_TYPES.has(addressType) || !Number.isInteger(port)) {
    return { ok: false, problem: 'a listening frame needs addressType and an integer port' };
  }
  return {
    ok: true,
    value: {
      addressType: addressType as AddressType,
      address: typeof address === 'string' ? address : null,
      port: port as number,
      fd: typeof fd === 'number' ? fd : undefined,
    },
  };
}

function integerOrUndefined(value: unknown): number | undefined {
  return Number.isInteger(value) ? value as number : undefined;
}
