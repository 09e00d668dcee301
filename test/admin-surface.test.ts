// The admin port as an attacker and a bad day would use it: one peer's half-sent requests and
// 64 open dashboards do not keep /readyz and /livez from being answered; a request head that
// never completes is answered 408, a huge URL 414 and huge headers 431; a Host header naming
// another site is refused (DNS rebinding); a failed reload's stderr and script path do not go
// out on the dashboard's feed.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { createCluster, ReloadFailedError, type ManagedCluster } from 'corral';
import type * as AdminAdmissionModule from '../dist/observability/admin-admission.js';
import type * as AdminHostModule from '../dist/observability/admin-host.js';
import { freePort } from './helpers/net-client.js';

const APP = fileURLToPath(new URL('../../test/fixtures/production/app.cjs', import.meta.url));
const { peerOf, PER_PEER } = await import(new URL('../../dist/observability/admin-admission.js', import.meta.url).href) as typeof AdminAdmissionModule;
const { hostAllowed, hostName } = await import(new URL('../../dist/observability/admin-host.js', import.meta.url).href) as typeof AdminHostModule;
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-admin-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let cluster: ManagedCluster | undefined;
const sockets = new Set<net.Socket>();
afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  await cluster?.close({ force: true });
  cluster = undefined;
});

async function startCluster(extraEnv: Record<string, string> = {}): Promise<{ admin: URL; managed: ManagedCluster }> {
  const port = await freePort();
  cluster = createCluster({ exec: APP, workers: 2, admin: 0, env: { PORT: String(port), ...extraEnv }, startAttempts: 1 });
  await cluster.start();
  return { admin: new URL(cluster.adminUrl!), managed: cluster };
}

/** Sends `text` on a new connection from `localAddress`; resolves with the socket once connected. */
async function openRaw(admin: URL, text: string, localAddress = '127.0.0.1'): Promise<net.Socket> {
  const socket = net.connect({ host: admin.hostname, port: Number(admin.port), localAddress });
  sockets.add(socket);
  socket.on('error', () => {});
  await once(socket, 'connect');
  if (text !== '') socket.write(text);
  return socket;
}

/** The whole answer to `text` sent on its own connection (the server closes it). */
async function rawExchange(admin: URL, text: string, localAddress = '127.0.0.1'): Promise<string> {
  const socket = await openRaw(admin, text, localAddress);
  let answer = '';
  socket.setEncoding('latin1').on('data', (chunk: string) => { answer += chunk; });
  await once(socket, 'close');
  return answer;
}

/** One GET through a fresh connection from `localAddress` (a probe as the kubelet sends it). */
async function probe(admin: URL, pathname: string, localAddress = '127.0.0.1'): Promise<number> {
  const answer = await rawExchange(admin, `GET ${pathname} HTTP/1.1\r\nHost: ${admin.host}\r\nConnection: close\r\n\r\n`, localAddress);
  return Number(/^HTTP\/1\.1 (\d+)/.exec(answer)?.[1] ?? 0);
}

describe('probes are answered whatever other clients do', () => {
  test('300 half-sent requests from one peer: /readyz and /livez from that peer and another are answered every time', { timeout: 60_000 }, async () => {
    const { admin } = await startCluster();
    const flood: net.Socket[] = [];
    for (let index = 0; index < 300; index += 1) {
      flood.push(await openRaw(admin, `GET /readyz HTTP/1.1\r\nHost: ${admin.host}\r\nX-Slow: `));
    }
    const answers: number[] = [];
    for (let index = 0; index < 28; index += 1) {
      answers.push(await probe(admin, index % 2 === 0 ? '/readyz' : '/livez', index % 4 < 2 ? '127.0.0.1' : '127.0.0.9'));
      // The flood goes on between the probes: each probe must still find room.
      flood.push(await openRaw(admin, `GET /readyz HTTP/1.1\r\nHost: ${admin.host}\r\nX-Slow: `));
    }
    assert.deepEqual(answers, answers.map(() => 200));
    // The peer held no more than its share: its oldest half-sent requests were closed to admit the newest.
    await Promise.all(flood.slice(0, flood.length - PER_PEER).map(async (socket) => {
      if (!socket.closed) await once(socket, 'close');
    }));
    assert.ok(flood.slice(-PER_PEER).some((socket) => !socket.closed), 'its newest connections were admitted');
  });

  test('64 dashboards from many peers: streams past the limit get 503, and the probes are answered', { timeout: 60_000 }, async () => {
    const { admin } = await startCluster();
    const statuses: number[] = [];
    for (let index = 0; index < 64; index += 1) {
      const socket = await openRaw(admin, `GET /api/events HTTP/1.1\r\nHost: ${admin.host}\r\n\r\n`, `127.0.0.${2 + (index % 16)}`);
      const [head] = await once(socket.setEncoding('latin1'), 'data') as [string];
      statuses.push(Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0));
    }
    assert.equal(statuses.filter((status) => status === 200).length, 16, 'sixteen streams in all');
    assert.equal(statuses.filter((status) => status === 503).length, 48);
    for (let index = 0; index < 10; index += 1) {
      assert.equal(await probe(admin, '/readyz'), 200);
      assert.equal(await probe(admin, '/livez'), 200);
    }
  });

  test('a connection whose pipelined second request is still served is not given up for a newcomer', { timeout: 60_000 }, async () => {
    const { admin } = await startCluster();
    // /livez, then an event stream on the same connection: once /livez has been answered, the
    // connection still has a request in progress.
    const pipelined = await openRaw(admin, `GET /livez HTTP/1.1\r\nHost: ${admin.host}\r\n\r\nGET /api/events HTTP/1.1\r\nHost: ${admin.host}\r\n\r\n`);
    let received = '';
    pipelined.setEncoding('latin1').on('data', (chunk: string) => { received += chunk; });
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (received.includes('event: backlog')) resolve();
        else pipelined.once('data', check);
      };
      check();
    });
    // A whole peer's worth of idle connections from the same address: the idle ones are given up, not the stream.
    for (let index = 0; index < PER_PEER + 4; index += 1) await openRaw(admin, '');
    const before = received.length;
    await new Promise<void>((resolve, reject) => {
      pipelined.once('close', () => reject(new Error('the pipelined stream was closed')));
      const check = (): void => {
        if (received.length > before && received.slice(before).includes('event: snapshot')) resolve();
        else pipelined.once('data', check);
      };
      check();
    });
    assert.equal(pipelined.closed, false);
  });

  test('a request head that never completes is answered 408 and closed', { timeout: 60_000 }, async () => {
    const { admin } = await startCluster();
    const answer = await rawExchange(admin, `GET /metrics HTTP/1.1\r\nHost: ${admin.host}\r\n`);
    assert.match(answer, /^HTTP\/1\.1 408 /);
  });
});

describe('what the admin server answers', () => {
  test('a 100 KB URL is answered 414 and 100 KB of headers 431, not dropped', { timeout: 60_000 }, async () => {
    const { admin } = await startCluster();
    const url = await rawExchange(admin, `GET /${'a'.repeat(100_000)} HTTP/1.1\r\nHost: ${admin.host}\r\n\r\n`);
    assert.match(url, /^HTTP\/1\.1 414 URI Too Long\r\n/);
    const headers = await rawExchange(admin, `GET /livez HTTP/1.1\r\nHost: ${admin.host}\r\nX-Big: ${'b'.repeat(100_000)}\r\n\r\n`);
    assert.match(headers, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
  });

  test('a Host header naming another site is refused (DNS rebinding); an IP address, localhost and this machine are answered', { timeout: 60_000 }, async () => {
    const { admin } = await startCluster();
    const ask = async (host: string): Promise<string> => rawExchange(admin, `GET /api/status HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    const rebound = await ask(`attacker.example:${admin.port}`);
    assert.match(rebound, /^HTTP\/1\.1 403 /);
    assert.match(rebound, /DNS rebinding/);
    assert.doesNotMatch(rebound, /"workers"/);
    for (const host of [admin.host, `localhost:${admin.port}`, 'app.localhost', `${os.hostname()}:${admin.port}`]) {
      assert.match(await ask(host), /^HTTP\/1\.1 200 /, host);
    }
  });

  test("a failed reload's stderr and script path stay off the dashboard's feed", { timeout: 60_000 }, async () => {
    const crashFile = path.join(dir, 'crash');
    const { admin, managed } = await startCluster({ CRASH_FILE: crashFile });
    writeFileSync(crashFile, '');
    await assert.rejects(managed.reload(), ReloadFailedError);
    const socket = await openRaw(admin, `GET /api/events HTTP/1.1\r\nHost: ${admin.host}\r\n\r\n`);
    let text = '';
    socket.setEncoding('utf8');
    for await (const chunk of socket) {
      text += chunk as string;
      if (text.includes('event: backlog') && /event: backlog\ndata: .*\n\n/.test(text)) break;
    }
    const backlog = JSON.parse(/event: backlog\ndata: (.*)\n\n/.exec(text)![1]!) as { events: { kind: string; text: string }[] };
    const failed = backlog.events.find((event) => event.kind === 'reload-failed');
    assert.ok(failed !== undefined, 'the failed reload is on the feed');
    assert.match(failed.text, /reload failed: the worker for slot \d+ \(pid \d+\) exited with code 1 before it was ready/);
    assert.doesNotMatch(JSON.stringify(backlog), /crashing: the crash file exists/);
    assert.ok(!JSON.stringify(backlog).includes(APP), 'no script path');
  });
});

describe('the rules, in-process', () => {
  test('peers: IPv4 by address, IPv6 by /64, mapped IPv4 as IPv4', () => {
    assert.equal(peerOf('127.0.0.1'), '127.0.0.1');
    assert.equal(peerOf('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(peerOf('2001:db8:1:2:aaaa::1'), peerOf('2001:db8:1:2:bbbb:cccc:dddd:eeee'));
    assert.notEqual(peerOf('2001:db8:1:2::1'), peerOf('2001:db8:1:3::1'));
    assert.equal(peerOf('::1'), '0:0:0:0::/64');
  });

  test('Host names: ports, IPv6 literals, trailing dots; loopback-bound servers answer IPs, localhost and this machine; others any name', () => {
    assert.equal(hostName('Example.COM.:9100'), 'example.com');
    assert.equal(hostName('[::1]:9100'), '::1');
    assert.equal(hostName('::1'), '::1');
    assert.equal(hostAllowed('127.0.0.1:9100', '127.0.0.1'), true);
    assert.equal(hostAllowed('[::1]:9100', '::1'), true);
    assert.equal(hostAllowed('10.0.0.5:9100', '127.0.0.1'), true);
    assert.equal(hostAllowed('evil.example', '127.0.0.1'), false);
    assert.equal(hostAllowed('localhost.evil.example', '::1'), false);
    assert.equal(hostAllowed(undefined, '127.0.0.1'), true);
    assert.equal(hostAllowed('metrics.internal:9100', '0.0.0.0'), true);
    assert.equal(hostAllowed('metrics.internal:9100', '10.1.2.3'), true);
  });
});
