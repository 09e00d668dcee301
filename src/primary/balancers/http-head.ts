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
 * Every value of header `name` (lower case) in the request head, in the order received, each
 * trimmed (forwarded-client.ts reads the client from them). The name must be exactly a header
 * line's field name: a line with space before its colon, or one folded onto the line before
 * (leading space), is not that header here, as it is not for the worker's HTTP parser, which
 * refuses it, nor for a proxy, which would add its own line beside it.
 */
export function headerValues(head: Buffer, name: string): string[] {
  const end = head.indexOf(HEAD_END);
  const text = head.toString('latin1', 0, end === -1 ? head.length : end);
  const lines = text.split('\r\n');
  const values: string[] = [];
  for (let index = 1; index < lines.length; index += 1) {
    const line = lines[index]!;
    const colon = line.indexOf(':');
    if (colon <= 0 || line.slice(0, colon).toLowerCase() !== name) continue;
    values.push(line.slice(colon + 1).trim());
  }
  return values;
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
