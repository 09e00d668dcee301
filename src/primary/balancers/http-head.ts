/**
 * The little of HTTP/1 the sticky balancer reads in the primary: whether a request's head has
 * arrived, and one header's value in it. Nothing else of the request is parsed; the worker's own
 * HTTP server reads it all again from the replayed bytes.
 */

const HEAD_END = Buffer.from('\r\n\r\n');

/** The request line and headers have arrived (or the bytes cannot be an HTTP/1 request). */
export function headerComplete(head: Buffer): boolean {
  return head.includes(HEAD_END) || !looksLikeHttp(head);
}

/**
 * The first comma-separated entry of header `name` (lower case) in the request head, trimmed (for
 * `X-Forwarded-For: client, proxy1` that is the client); undefined when absent or empty.
 */
export function stickyHeaderValue(head: Buffer, name: string): string | undefined {
  const end = head.indexOf(HEAD_END);
  const text = head.toString('latin1', 0, end === -1 ? head.length : end);
  const lines = text.split('\r\n');
  for (let index = 1; index < lines.length; index += 1) {
    const line = lines[index]!;
    const colon = line.indexOf(':');
    if (colon <= 0 || line.slice(0, colon).trim().toLowerCase() !== name) continue;
    const value = line.slice(colon + 1).split(',')[0]!.trim();
    return value === '' ? undefined : value;
  }
  return undefined;
}

/** An HTTP/1 request starts with a method token: upper-case letters, then a space. */
function looksLikeHttp(head: Buffer): boolean {
  for (let index = 0; index < head.length && index < 24; index += 1) {
    const byte = head[index]!;
    if (byte === 0x20) return index > 0;
    if (byte < 0x41 || byte > 0x5a) return false;
  }
  return true; // Too short to tell yet.
}
