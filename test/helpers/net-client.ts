// Minimal clients for the fixtures' servers: each connection returns everything the server sent.
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';

export type Target = number | string | { port: number; host: string };

/** Connects, reads until the server closes the connection, returns the text. */
export function readAll(target: Target, timeout = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(target);
    let text = '';
    socket.setEncoding('utf8');
    socket.setTimeout(timeout, () => socket.destroy(new Error(`no answer from ${JSON.stringify(target)} within ${timeout} ms`)));
    socket.on('data', (chunk: string) => { text += chunk; });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

/** Opens a connection and resolves with it once the first line arrives (the server's worker id). */
export function openAndReadFirstLine(target: Target, timeout = 10_000): Promise<{ socket: net.Socket; line: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(target);
    let text = '';
    socket.setEncoding('utf8');
    socket.setTimeout(timeout, () => socket.destroy(new Error(`no first line within ${timeout} ms`)));
    socket.on('data', (chunk: string) => {
      text += chunk;
      const end = text.indexOf('\n');
      if (end >= 0) {
        socket.setTimeout(0);
        resolve({ socket, line: text.slice(0, end) });
      }
    });
    socket.on('error', reject);
  });
}

/** Opens `count` short connections, at most `concurrency` at a time; returns the answers. */
export async function readMany(target: Target, count: number, concurrency = 16): Promise<string[]> {
  const answers: string[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      next += 1;
      answers.push((await readAll(target)).trim());
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return answers;
}

/** Sends one UDP datagram and returns the reply. */
export function udpRoundTrip(port: number, text: string, timeout = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    const timer = setTimeout(() => { socket.close(); reject(new Error('no UDP reply')); }, timeout);
    socket.on('message', (message) => { clearTimeout(timer); socket.close(); resolve(message.toString()); });
    socket.send(text, port, '127.0.0.1');
  });
}

export function countBy(values: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return counts;
}

/** A TCP port that was free a moment ago (for tests that need a fixed port). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `count` sequential HTTP GETs on fresh connections (`Connection: close`); returns the bodies. */
export async function fetchMany(port: number, count: number): Promise<string[]> {
  const bodies: string[] = [];
  for (let i = 0; i < count; i++) {
    const response = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } });
    bodies.push(await response.text());
  }
  return bodies;
}

/** Fails with a clear message when `port` is taken (for programs that hard-code their port). */
export async function assertPortFree(port: number): Promise<void> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new Error(`port ${port} is in use; this test runs a program that hard-codes it, so stop whatever listens there (${String(error)})`)));
    server.listen(port, resolve);
  });
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

function connect(target: Target): net.Socket {
  if (typeof target === 'number') return net.connect(target, '127.0.0.1');
  if (typeof target === 'string') return net.connect(target);
  return net.connect(target.port, target.host);
}

/**
 * GET `path` on a connection of its own (not one of a pooled agent's keep-alive connections,
 * which may belong to a worker that is draining): the status and the body.
 */
export function getFresh(port: number, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => { body += chunk; });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body })).on('error', reject);
    }).on('error', reject);
  });
}
