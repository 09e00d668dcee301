/**
 * Which `Host` headers the admin server answers: the defence against DNS rebinding, by which a
 * web page on another site points its own name at 127.0.0.1 and reads what a loopback-only
 * server serves, as the page's own origin. The request then names the page's site in `Host`.
 *
 * Answered: an IP address (no rebinding names a literal address), `localhost` and its
 * subdomains, and this machine's own name. A server bound to a non-loopback address (`--admin
 * 0.0.0.0:9100`, a pod's port) was meant to be reached from the network, by whatever names point
 * at it (Prometheus targets, a Service's DNS name), so it answers any name.
 */
import net from 'node:net';
import os from 'node:os';

/** Whether `address` (as bound) is on the loopback interface only. */
export function isLoopback(address: string): boolean {
  if (address === '::1' || address === 'localhost') return true;
  const v4 = /^(?:::ffff:)?(\d+)\.\d+\.\d+\.\d+$/i.exec(address);
  return v4 !== null && v4[1] === '127';
}

/** The name in a Host header, without its port or trailing dot, lowercased. */
export function hostName(header: string): string {
  const host = header.trim().toLowerCase();
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']') === -1 ? undefined : host.indexOf(']'));
  const colon = host.lastIndexOf(':');
  const name = colon === -1 || host.indexOf(':') !== colon ? host : host.slice(0, colon);
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/** Whether a request with this Host header is answered by an admin server bound to `bound`. */
export function hostAllowed(header: string | undefined, bound: string): boolean {
  // HTTP/1.0 may leave it out, and no browser does (Node refuses HTTP/1.1 without one).
  if (header === undefined) return true;
  if (!isLoopback(bound)) return true;
  const name = hostName(header);
  if (net.isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost')) return true;
  const machine = os.hostname().toLowerCase();
  return name === machine || name === machine.split('.')[0];
}
