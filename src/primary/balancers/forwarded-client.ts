/**
 * Which client a request names in the sticky balancer's header. For the headers proxies append
 * to (`X-Forwarded-For`, `Forwarded`), the client is the entry the proxies in front of corral
 * wrote, counted from the right: each proxy appends the address it received the request from, so
 * the rightmost entry is the one the proxy nearest corral wrote, and everything to the left of the
 * entries the trusted proxies wrote is whatever the client sent. Taking the first (leftmost) entry
 * would let any client choose its own key (and pin every request to one worker). As Express's
 * numeric `trust proxy` and nginx's `real_ip_recursive` count hops.
 *
 * Any other header (a session id, `X-Client-Id`) is not a list of hops: its first line's first
 * comma-separated entry is the key, as it was before hops were counted.
 */

/** The headers that proxies append to, so that hops are counted in them (lower case). */
export const FORWARDING_HEADERS: ReadonlySet<string> = new Set(['x-forwarded-for', 'forwarded']);

/** The proxies in front of corral when not said (stickyProxyHops): one. */
export const DEFAULT_PROXY_HOPS = 1;

/**
 * The key of the client that `values` (every line of header `name`, lower case, in the order
 * received) name, or undefined when they name none: then the client is told apart by its
 * connection's address.
 */
export function stickyClient(name: string, values: readonly string[], hops: number): string | undefined {
  if (name === 'x-forwarded-for') return clientFromForwarded(values, hops);
  if (name === 'forwarded') return clientFromForwarded(values, hops, 'forwarded');
  const first = values[0]?.split(',')[0]?.trim();
  return first === undefined || first === '' ? undefined : first;
}

/**
 * The client of a list-valued forwarding header: the `hops`-th entry from the right of its lines
 * joined in order (RFC 9110 §5.3: several lines of one field are one comma-separated list), as an
 * address without its port; for `Forwarded` (RFC 7239), that element's `for=`.
 *
 * With fewer entries than hops, undefined: the request did not pass through every proxy corral is
 * told is in front of it (it reached an inner one directly, or corral itself), so no entry is known
 * to come from a proxy (the leftmost may be the client's own words, which Express would take), and
 * the connection's own address, which no client can forge, is the safer key.
 */
export function clientFromForwarded(values: readonly string[], hops: number, format: 'x-forwarded-for' | 'forwarded' = 'x-forwarded-for'): string | undefined {
  // Every comma separates, even inside quotes: a client's unclosed quote (`for="x`) must not swallow
  // the entries the proxies append after it, and no proxy writes a comma into the address it adds.
  // Empty elements (`a, , b`, a trailing comma) are allowed by the list syntax and count for nothing.
  const entries = values.flatMap((value) => value.split(',')).map((entry) => entry.trim()).filter((entry) => entry !== '');
  const entry = hops >= 1 ? entries[entries.length - hops] : undefined;
  if (entry === undefined) return undefined;
  const address = format === 'forwarded' ? forParameter(entry) : entry;
  return address === undefined ? undefined : withoutPort(address);
}

/** The `for=` of one `Forwarded` element (`for=192.0.2.60;proto=http;by=203.0.113.43`), unquoted; undefined without one or when `unknown`. */
function forParameter(element: string): string | undefined {
  for (const pair of element.split(';')) {
    const equals = pair.indexOf('=');
    if (equals === -1 || pair.slice(0, equals).trim().toLowerCase() !== 'for') continue;
    const raw = pair.slice(equals + 1).trim();
    const value = raw.startsWith('"') && raw.endsWith('"') && raw.length >= 2 ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
    // `unknown`: the proxy did not know the client (RFC 7239 §6.2); no more a key than an absent header.
    return value === '' || value.toLowerCase() === 'unknown' ? undefined : value;
  }
  return undefined;
}

/**
 * The address without the port some proxies add (`192.0.2.7:51234`, `[2001:db8::1]:4711`): the
 * client's port changes with each connection, and a key that changes would not be sticky.
 */
function withoutPort(address: string): string {
  const bracketed = /^\[([^\]]*)\](?::\d+)?$/.exec(address);
  if (bracketed !== null) return bracketed[1]!;
  const ipv4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(address);
  return ipv4 === null ? address : ipv4[1]!;
}
