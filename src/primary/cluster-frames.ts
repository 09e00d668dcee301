/**
 * Validation of the frames a worker's node:cluster half sends (research note §2.4). Anything a
 * worker sends on the `NODE_CLUSTER` channel is untrusted input: user code can send such frames
 * too, so a malformed one is refused with a warning instead of crashing the primary.
 */
import type { ClusterFrame } from '../internal/node-internals.js';
import { describeValue } from '../util/describe-value.js';
import type { WorkerAddress } from '../types.js';
import type { ListenQuery } from './listen-handle.js';

type AddressType = ListenQuery['addressType'];

const ADDRESS_TYPES: ReadonlySet<unknown> = new Set([4, 6, -1, 'udp4', 'udp6']);

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

export function parseListenQuery(frame: ClusterFrame): Parsed<ListenQuery> {
  const { address, addressType, fd, flags, backlog, index, data, readableAll, writableAll } = frame;
  if (address !== null && address !== undefined && typeof address !== 'string') {
    return { ok: false, problem: 'address must be a string or null' };
  }
  const descriptor = integerOrUndefined(fd);
  const isUdp = addressType === 'udp4' || addressType === 'udp6';
  // listen({ fd }) sends no port and no address type (`null`); bind({ fd }) keeps 'udp4'/'udp6'.
  const fdForm = descriptor !== undefined && descriptor >= 0;
  if (fdForm && frame['port'] !== null && frame['port'] !== undefined) {
    return { ok: false, problem: `a query for descriptor ${descriptor} must not also name a port (got ${describeValue(frame['port'])})` };
  }
  if (!(fdForm && (addressType === null || addressType === undefined)) && !ADDRESS_TYPES.has(addressType)) {
    return { ok: false, problem: `addressType must be 4, 6, -1, 'udp4' or 'udp6', got ${String(addressType)}` };
  }
  const port = fdForm ? null : isUdp ? udpPort(frame['port']) : frame['port'];
  if (port !== null && (!Number.isInteger(port) || (port as number) < -1 || (port as number) > 65535)) {
    return { ok: false, problem: `port must be an integer from -1 to 65535, got ${describeValue(frame['port'])}` };
  }
  if (!Number.isInteger(index) || (index as number) < 0) {
    return { ok: false, problem: 'index must be a non-negative integer' };
  }
  if (isUdp && !fdForm && typeof address !== 'string') {
    return { ok: false, problem: 'a UDP query needs an address (the worker half resolves one before asking)' };
  }
  if (port !== null && (port as number) < 0 && typeof address !== 'string') {
    return { ok: false, problem: 'a Unix socket query (port -1) needs a path in address' };
  }
  return {
    ok: true,
    value: {
      address: typeof address === 'string' ? address : null,
      port: port as number | null,
      addressType: fdForm && !isUdp ? null : addressType as AddressType,
      // Node's worker half sends these loosely (e.g. `backlog: false` for listen(port, host, cb));
      // anything but an integer means "not given", as it does for node:cluster's primary.
      fd: fdForm ? descriptor : undefined,
      flags: integerOrUndefined(flags),
      backlog: integerOrUndefined(backlog),
      index: index as number,
      data: data ?? null,
      readableAll: readableAll === true ? true : undefined,
      writableAll: writableAll === true ? true : undefined,
    },
  };
}

/**
 * UDP ports as node:cluster's primary takes them (`port || 0`): none means any port, and a
 * string of digits (from `bind(process.env.PORT)`) is that number.
 */
function udpPort(port: unknown): unknown {
  if (port === undefined || port === null || port === '' || port === 0) return 0;
  if (typeof port === 'string' && /^\s*\d+\s*$/.test(port)) return Number(port);
  return port;
}

/** The `'listening'` event argument: exactly node:cluster's four keys. */
export function parseListeningAddress(frame: ClusterFrame): Parsed<WorkerAddress> {
  const { addressType, address, fd } = frame;
  const descriptor = integerOrUndefined(fd);
  // listen({ fd }) reports no address type (null), as in node:cluster.
  const fdForm = descriptor !== undefined && descriptor >= 0 && addressType === null;
  const port = frame['port'] === null && fdForm ? null : frame['port'];
  if ((!ADDRESS_TYPES.has(addressType) && !fdForm) || (port !== null && !Number.isInteger(port))) {
    return { ok: false, problem: 'a listening frame needs addressType and an integer port' };
  }
  return {
    ok: true,
    value: {
      addressType: addressType as WorkerAddress['addressType'],
      address: typeof address === 'string' ? address : null,
      port: port as number,
      fd: typeof fd === 'number' ? fd : undefined,
    },
  };
}

function integerOrUndefined(value: unknown): number | undefined {
  return Number.isInteger(value) ? value as number : undefined;
}
