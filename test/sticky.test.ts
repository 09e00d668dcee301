// The sticky balancer with real workers, sockets and clients: the same client (its address, or
// its X-Forwarded-For behind a proxy) lands on the same worker; losing, adding or restarting one
// worker moves only that worker's clients; the request head the primary reads to find the header
// reaches the app unchanged; WebSockets (ws) and socket.io's long-polling work across 4 workers.
// Behind proxies the client is the entry the proxies appended (counted from the right), never the
// one a client forges in front of them; and that reading, and its option, on their own.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { io, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import { ClusterPrimary, createCluster, type ManagedCluster } from 'corral';
import { freePort } from './helpers/net-client.js';
import { forwardedClient, httpHead, stickyStrategy } from './helpers/internals.js';
import { exitOf, killPrograms, runCommand, startProgram, type Program } from './helpers/program.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/', import.meta.url));
const APP = path.join(FIXTURES, 'sticky', 'echo-app.cjs');
const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const RUN_DIR = mkdtempSync(path.join(os.tmpdir(), 'corral-sticky-'));
after(() => rmSync(RUN_DIR, { recursive: true, force: true }));

const clusters: ManagedCluster[] = [];
afterEach(async () => {
  await killPrograms();
  await Promise.all(clusters.splice(0).map((cluster) => cluster.close()));
});

interface Landing {
  slot: number;
  pid: number;
  forwardedFor: string | null;
  method: string;
  url: string;
  body: string;
}

async function startSticky(port: number, stickyHeader?: string): Promise<ManagedCluster> {
  const cluster = createCluster({
    exec: APP, workers: 4, balancer: 'sticky', env: { PORT: String(port) },
    ...(stickyHeader === undefined ? {} : { stickyHeader }),
  });
  clusters.push(cluster);
  await cluster.start();
  return cluster;
}

/**
 * One request on a fresh connection: from `localAddress` (any 127.x.y.z is this machine), naming
 * `client` in X-Forwarded-For as the one proxy in front of corral writes it, or with `forwardedFor`
 * as the header's value (an array: one header line each).
 */
function ask(port: number, from: { localAddress?: string; client?: string; forwardedFor?: string | readonly string[] }, requestPath = '/'): Promise<Landing> {
  const forwardedFor = from.forwardedFor ?? from.client;
  return new Promise((resolve, reject) => {
    const request = http.get({
      host: '127.0.0.1', port, path: requestPath, agent: false, localAddress: from.localAddress,
      headers: forwardedFor === undefined ? {} : { 'X-Forwarded-For': typeof forwardedFor === 'string' ? forwardedFor : [...forwardedFor] },
      timeout: 10_000,
    }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => { body += chunk; });
      response.on('end', () => resolve(JSON.parse(body) as Landing));
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within 10 s from port ${port}`)));
    request.on('error', reject);
  });
}

/** Where each client lands now: client → [slot, pid]. */
async function landings(port: number, clients: readonly string[]): Promise<Map<string, Landing>> {
  const seen = new Map<string, Landing>();
  for (const client of clients) seen.set(client, await ask(port, { client }));
  return seen;
}

const CLIENTS = Array.from({ length: 200 }, (_, index) => `203.0.113.${index % 250}-${index}`);

describe('sticky balancer', () => {
  test('each client address keeps its worker across reconnects, and the addresses spread over the workers', { timeout: 60_000 }, async () => {
    const port = await freePort();
    await startSticky(port);
    const bySlot = new Map<number, number>();
    for (let host = 2; host < 42; host += 1) {
      const localAddress = `127.0.0.${host}`;
      const first = await ask(port, { localAddress });
      for (let again = 0; again < 3; again += 1) {
        const next = await ask(port, { localAddress });
        assert.deepEqual([next.slot, next.pid], [first.slot, first.pid], `${localAddress} moved on reconnect ${again + 1}`);
      }
      bySlot.set(first.slot, (bySlot.get(first.slot) ?? 0) + 1);
    }
    assert.equal(bySlot.size, 4, `40 addresses used only slots ${[...bySlot.keys()].join(', ')}`);
  });

  test('by X-Forwarded-For: 200 clients spread within bounds, each on one worker; removing, adding and restarting a worker moves only its own clients', { timeout: 90_000 }, async () => {
    const port = await freePort();
    const cluster = await startSticky(port, 'X-Forwarded-For');
    const before = await landings(port, CLIENTS);
    const counts = [0, 1, 2, 3].map((slot) => [...before.values()].filter((landing) => landing.slot === slot).length);
    // 50 each if perfectly even; rendezvous hashing keeps every worker within ±40% here.
    for (const count of counts) assert.ok(count >= 30 && count <= 70, `clients per slot ${counts.join('/')} are outside 30–70`);
    assert.equal((await ask(port, { client: CLIENTS[7]! })).pid, before.get(CLIENTS[7]!)!.pid, 'a client moved between two requests');
    assert.equal(before.get(CLIENTS[0]!)!.forwardedFor, CLIENTS[0], 'the app saw the header as sent');

    // Scale down: slot 3 leaves. Its clients spread over the others; nobody else moves.
    await cluster.scale(3);
    const scaledDown = await landings(port, CLIENTS);
    const movedTo = new Set<number>();
    for (const [client, was] of before) {
      const now = scaledDown.get(client)!;
      if (was.slot === 3) movedTo.add(now.slot);
      else assert.equal(now.pid, was.pid, `${client} moved from slot ${was.slot} though slot 3 left`);
    }
    assert.ok(movedTo.size >= 2 && !movedTo.has(3), `slot 3's clients went to slots ${[...movedTo].join(', ')}`);

    // Scale up again: the new slot 3 takes back exactly its clients.
    await cluster.scale(4);
    const scaledUp = await landings(port, CLIENTS);
    for (const [client, was] of before) {
      const now = scaledUp.get(client)!;
      assert.equal(now.slot, was.slot, `${client} is on slot ${now.slot}, was ${was.slot}`);
      if (was.slot !== 3) assert.equal(now.pid, was.pid, `${client}'s worker changed`);
    }

    // SIGKILL one worker: once it is replaced, its clients are on its successor; the others never moved.
    const victim = scaledUp.values().next().value!;
    const killedSlot = victim.slot;
    const readyAgain = once(cluster, 'ready', { signal: AbortSignal.timeout(20_000) });
    process.kill(victim.pid, 'SIGKILL');
    await readyAgain;
    const restarted = await landings(port, CLIENTS);
    const successors = new Set<number>();
    for (const [client, was] of scaledUp) {
      const now = restarted.get(client)!;
      assert.equal(now.slot, was.slot, `${client} changed slot across the restart of slot ${killedSlot}`);
      if (was.slot === killedSlot) successors.add(now.pid);
      else assert.equal(now.pid, was.pid, `${client} on slot ${was.slot} moved though only slot ${killedSlot} restarted`);
    }
    assert.equal(successors.size, 1);
    assert.ok(!successors.has(victim.pid), 'the killed worker still answered');
  });

  test('the request head the primary reads for the header reaches the app unchanged: split writes, a body, keep-alive, no header, silence', { timeout: 60_000 }, async () => {
    const port = await freePort();
    await startSticky(port, 'x-forwarded-for');
    // A client that connects and says nothing does not hold up the others.
    const silent = net.connect(port, '127.0.0.1');
    await once(silent, 'connect');
    try {
      // Two requests on one connection; the first's head and body come in separate writes.
      const socket = net.connect(port, '127.0.0.1');
      await once(socket, 'connect');
      let received = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => { received += chunk; });
      const bodies = (): Landing[] => [...received.matchAll(/\r\n\r\n(\{[^}]*\})/g)].map((match) => JSON.parse(match[1]!) as Landing);
      socket.write('POST /first?x=1 HTTP/1.1\r\nHost: test\r\nX-Forwarded-For: 198.51.100.7\r\nContent-Length: 11\r\n\r\n');
      socket.write('hello world');
      while (bodies().length < 1) await once(socket, 'data', { signal: AbortSignal.timeout(10_000) });
      socket.write('GET /second HTTP/1.1\r\nHost: test\r\nX-Forwarded-For: 198.51.100.7\r\nConnection: close\r\n\r\n');
      await once(socket, 'end', { signal: AbortSignal.timeout(10_000) });
      const [first, second] = bodies();
      assert.deepEqual({ ...first, pid: 0, slot: 0 }, { slot: 0, pid: 0, forwardedFor: '198.51.100.7', method: 'POST', url: '/first?x=1', body: 'hello world' });
      assert.deepEqual([second!.url, second!.pid], ['/second', first!.pid]);
      // The same client on a new connection: the same worker.
      assert.equal((await ask(port, { client: '198.51.100.7' })).pid, first!.pid);
      // No header: placed by address, and served.
      const plain = await ask(port, {}, '/no-header');
      assert.deepEqual([plain.url, plain.forwardedFor], ['/no-header', null]);
    } finally {
      silent.destroy();
    }
  });

  test('ws: WebSocket clients keep their worker across reconnects, by address and by header', { timeout: 60_000 }, async () => {
    for (const stickyHeader of [undefined, 'x-forwarded-for']) {
      const port = await freePort();
      await startSticky(port, stickyHeader);
      const slots = new Set<number>();
      for (let host = 2; host < 14; host += 1) {
        const from = stickyHeader === undefined ? { localAddress: `127.0.0.${host}` } : { headers: { 'x-forwarded-for': `192.0.2.${host}` } };
        const landed: number[] = [];
        for (let round = 0; round < 2; round += 1) {
          const socket = new WebSocket(`ws://127.0.0.1:${port}/`, from);
          await once(socket, 'open', { signal: AbortSignal.timeout(10_000) });
          socket.send(`round ${round}`);
          const [data] = await once(socket, 'message', { signal: AbortSignal.timeout(10_000) }) as [Buffer];
          const reply = JSON.parse(String(data)) as { slot: number; pid: number; echo: string; forwardedFor: string | null };
          assert.equal(reply.echo, `round ${round}`);
          if (stickyHeader !== undefined) assert.equal(reply.forwardedFor, `192.0.2.${host}`);
          landed.push(reply.pid);
          slots.add(reply.slot);
          socket.close();
          await once(socket, 'close');
        }
        assert.equal(landed[0], landed[1], `a WebSocket client moved (${stickyHeader ?? 'by address'})`);
      }
      assert.ok(slots.size >= 3, `12 clients used only slots ${[...slots].join(', ')} (${stickyHeader ?? 'by address'})`);
      await clusters.pop()!.close();
    }
  });

  test("socket.io with long-polling only, across 4 workers under corral start: sessions hold, the cluster adapter relays; round-robin breaks them", { timeout: 90_000 }, async () => {
    const start = (balancer: string, port: number): Program => startProgram(BIN, [
      'start', 'socket-io-polling-app.cjs', '-i', '4', '--balancer', balancer, '--name', `sio-${balancer}`, '--primary', 'socket-io-primary.cjs',
    ], { cwd: path.join(FIXTURES, 'primary-module'), env: { PORT: String(port), NODE_OPTIONS: '', CORRAL_RUN_DIR: RUN_DIR } });
    const connectFrom = (port: number, host: number): Socket => io(`http://127.0.0.1:${port}`, {
      transports: ['polling'], reconnection: false, timeout: 5_000,
      // Each client from its own loopback address, as clients on different machines.
      agent: new http.Agent({ keepAlive: false, localAddress: `127.0.0.${host}` }) as unknown as string,
    });
    const next = <T>(socket: Socket, event: string, timeout = 10_000): Promise<T> => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no '${event}' within ${timeout} ms`)), timeout);
      socket.once(event, (value: T) => { clearTimeout(timer); resolve(value); });
    });

    const port = await freePort();
    const corral = start('sticky', port);
    await corral.waitForErr(/ready: 4 workers/);
    const clients: Socket[] = [];
    try {
      const slots = new Set<number>();
      for (let host = 2; host < 14; host += 1) {
        const client = connectFrom(port, host);
        clients.push(client);
        slots.add(await next<number>(client, 'hello'));
      }
      assert.ok(slots.size >= 3, `12 clients used only slots ${[...slots].join(', ')}`);
      // Many polls later every session still holds, and a broadcast from one reaches all twelve.
      const heard = clients.map((client) => next<{ text: string }>(client, 'news'));
      clients[0]!.emit('shout', 'over long-polling');
      for (const news of await Promise.all(heard)) assert.equal(news.text, 'over long-polling');
      assert.ok(clients.every((client) => client.connected));
    } finally {
      for (const client of clients.splice(0)) client.close();
    }
    corral.child.kill('SIGTERM');
    assert.equal((await exitOf(corral)).code, 0, corral.stderr());

    // The same app under round-robin: a session's next poll reaches another worker, which does not know it.
    const rrPort = await freePort();
    const roundRobin = start('round-robin', rrPort);
    await roundRobin.waitForErr(/ready: 4 workers/);
    const failures = await Promise.all([2, 3, 4, 5].map(async (host) => {
      const client = connectFrom(rrPort, host);
      clients.push(client);
      const outcome = await Promise.race([
        next<unknown>(client, 'hello').then(() => next<unknown>(client, 'disconnect')).then(() => 'disconnected'),
        next<Error>(client, 'connect_error').then(() => 'connect_error'),
      ]).catch(() => 'held');
      client.close();
      return outcome;
    }));
    assert.ok(failures.some((outcome) => outcome !== 'held'), `round-robin kept every long-polling session (${failures.join(', ')})`);
    roundRobin.child.kill('SIGTERM');
    assert.equal((await exitOf(roundRobin)).code, 0, roundRobin.stderr());
  });
});

/** The slot of 2 that rendezvous hashing gives `key`: where a client of that key lands with 2 workers. */
function slotOfKey(key: string): number {
  const hash = stickyStrategy.hashString(key);
  return stickyStrategy.slotScore(hash, 1) > stickyStrategy.slotScore(hash, 0) ? 1 : 0;
}

/** A forged first entry, different for each request: what a client behind the proxy puts there to pick its worker. */
const forged = (index: number): string => `${(index * 37) % 223 + 1}.${(index * 11) % 256}.${index % 256}.${(index * 7) % 254 + 1}, evil-${index}`;

describe('sticky by X-Forwarded-For behind proxies: the client is the address the trusted proxy wrote', () => {
  /** `corral start` with 2 sticky workers by X-Forwarded-For (and these flags); resolves with its port once ready. */
  async function startCorral(name: string, flags: readonly string[] = []): Promise<number> {
    const port = await freePort();
    const corral = startProgram(BIN, [
      'start', APP, '-i', '2', '--name', name, '--balancer', 'sticky', '--sticky-header', 'X-Forwarded-For', ...flags,
    ], { env: { PORT: String(port), NODE_OPTIONS: '', CORRAL_RUN_DIR: RUN_DIR } });
    await corral.waitForErr(/ready: 2 workers/);
    return port;
  }

  test('one proxy (the default): 400 requests with forged first entries land with 10.0.0.7, the entry the proxy appended; real clients spread; two header lines are one list', { timeout: 90_000 }, async () => {
    const port = await startCorral('xff-one-proxy');
    const expected = slotOfKey('10.0.0.7');
    // A client on the other worker, for the lines below.
    const other = Array.from({ length: 20 }, (_, host) => `203.0.113.${host + 1}`).find((key) => slotOfKey(key) !== expected)!;
    const real = await ask(port, { forwardedFor: '10.0.0.7' });
    assert.equal(real.slot, expected, `requests from 10.0.0.7 are keyed by it: slot ${expected}, landed on ${real.slot}`);
    const pids = new Set<number>();
    const slots = new Set<number>();
    for (let index = 0; index < 400; index += 1) {
      const landing = await ask(port, { forwardedFor: `${forged(index)}, 10.0.0.7` });
      pids.add(landing.pid);
      slots.add(landing.slot);
    }
    assert.deepEqual([...pids], [real.pid], `400 forged first entries reached pids ${[...pids].join(', ')}; all belong with 10.0.0.7 on pid ${real.pid}`);
    assert.deepEqual([...slots], [expected]);
    // Real clients (the entry the proxy appended) spread over both workers, each on its own, whatever they forge.
    const byClient = new Map<string, number>();
    for (let host = 1; host <= 40; host += 1) {
      const client = `10.1.0.${host}`;
      const first = await ask(port, { forwardedFor: `${forged(host)}, ${client}` });
      const again = await ask(port, { forwardedFor: `${forged(host + 1000)}, ${client}` });
      assert.equal(again.pid, first.pid, `${client} moved when its forged entry changed`);
      assert.equal(first.slot, slotOfKey(client), `${client} is keyed by its own address`);
      byClient.set(client, first.slot);
    }
    assert.equal(new Set(byClient.values()).size, 2, `40 real clients used only slot ${[...new Set(byClient.values())].join(', ')}`);
    // Two header lines are one list (RFC 9110 §5.3): the proxy's own line, after the client's, is the last entry.
    for (let index = 0; index < 20; index += 1) {
      const landing = await ask(port, { forwardedFor: [forged(index), '10.0.0.7'] });
      assert.equal(landing.pid, real.pid, `two lines "${forged(index)}" and "10.0.0.7" did not land with 10.0.0.7`);
      assert.equal(landing.forwardedFor, `${forged(index)}, 10.0.0.7`, 'the app sees both lines, joined');
      const appended = await ask(port, { forwardedFor: [`10.0.0.7, ${forged(index)}`, other] });
      assert.equal(appended.slot, slotOfKey(other), `lines "10.0.0.7, ${forged(index)}" and "${other}": the last entry of the last line is the key`);
    }
  });

  test('--sticky-proxy-hops 2: the client is the second entry from the right; with fewer entries, the connection\'s address', { timeout: 90_000 }, async () => {
    const port = await startCorral('xff-two-proxies', ['--sticky-proxy-hops', '2']);
    const expected = slotOfKey('10.0.0.7');
    const real = await ask(port, { forwardedFor: '10.0.0.7, 10.0.0.1' });
    assert.equal(real.slot, expected);
    for (let index = 0; index < 400; index += 1) {
      const landing = await ask(port, { forwardedFor: `${forged(index)}, 10.0.0.7, 10.0.0.1` });
      assert.equal(landing.pid, real.pid, `"${forged(index)}, 10.0.0.7, 10.0.0.1" did not land with 10.0.0.7`);
    }
    // The key is that entry, not the outer proxy's (10.0.0.1, the same for everyone): clients spread.
    const slots = new Set<number>();
    for (let host = 1; host <= 20; host += 1) {
      const landing = await ask(port, { forwardedFor: `${forged(host)}, 10.2.0.${host}, 10.0.0.1` });
      assert.equal(landing.slot, slotOfKey(`10.2.0.${host}`));
      slots.add(landing.slot);
    }
    assert.equal(slots.size, 2);
    // One entry where two proxies should have written two: the request skipped a proxy, so the
    // entry is not trusted and the connection's own address is the key, as with no header at all.
    for (let host = 2; host < 12; host += 1) {
      const localAddress = `127.0.0.${host}`;
      const plain = await ask(port, { localAddress });
      assert.equal(plain.slot, slotOfKey(localAddress));
      const short = await ask(port, { localAddress, forwardedFor: `10.3.0.${host}` });
      assert.equal(short.slot, plain.slot, `a single entry from ${localAddress} was taken as the client`);
    }
  });
});

describe('reading the client from a forwarding header (pure)', () => {
  const { clientFromForwarded, stickyClient } = forwardedClient;

  test('X-Forwarded-For: the Nth entry from the right of the lines joined in order; fewer entries than hops name no client', () => {
    assert.equal(clientFromForwarded(['198.51.100.1, 10.0.0.7'], 1), '10.0.0.7');
    assert.equal(clientFromForwarded(['10.0.0.7'], 1), '10.0.0.7');
    assert.equal(clientFromForwarded(['forged, 10.0.0.7, 10.0.0.1'], 2), '10.0.0.7');
    assert.equal(clientFromForwarded(['forged, 10.0.0.9', '10.0.0.7'], 1), '10.0.0.7');
    assert.equal(clientFromForwarded(['forged, 10.0.0.9', '10.0.0.7'], 2), '10.0.0.9');
    assert.equal(clientFromForwarded(['10.0.0.7'], 2), undefined);
    assert.equal(clientFromForwarded([], 1), undefined);
    assert.equal(clientFromForwarded(['', ' , ,'], 1), undefined);
    assert.equal(clientFromForwarded(['a,, 10.0.0.7 ,'], 1), '10.0.0.7', 'empty list elements count for nothing');
    // The port some proxies add changes with each connection: it is no part of the client.
    assert.equal(clientFromForwarded(['192.0.2.7:51234'], 1), '192.0.2.7');
    assert.equal(clientFromForwarded(['[2001:db8::1]:4711'], 1), '2001:db8::1');
    assert.equal(clientFromForwarded(['2001:db8::1'], 1), '2001:db8::1');
  });

  test('Forwarded: the for= of the Nth element from the right; a client\'s unclosed quote does not swallow what proxies append', () => {
    const header = 'for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711"';
    assert.equal(clientFromForwarded([header], 1, 'forwarded'), '2001:db8:cafe::17');
    assert.equal(clientFromForwarded([header], 2, 'forwarded'), '192.0.2.60');
    assert.equal(clientFromForwarded(['for="forged', 'for=10.0.0.7'], 1, 'forwarded'), '10.0.0.7');
    assert.equal(clientFromForwarded(['for="x, for=10.0.0.7;proto=https'], 1, 'forwarded'), '10.0.0.7');
    assert.equal(clientFromForwarded(['for=10.0.0.7, proto=https'], 1, 'forwarded'), undefined, 'the proxy named no client');
    assert.equal(clientFromForwarded(['for=unknown'], 1, 'forwarded'), undefined);
    assert.equal(clientFromForwarded(['for=_hidden'], 1, 'forwarded'), '_hidden', 'an obfuscated identifier is a stable key');
    assert.equal(stickyClient('forwarded', ['for=1.1.1.1, for=10.0.0.7'], 1), '10.0.0.7');
  });

  test('whatever a client puts before the proxy\'s entry, the key is the proxy\'s entry', () => {
    fc.assert(fc.property(fc.string(), fc.integer({ min: 1, max: 4 }), (prefix, hops) => {
      const proxies = ['10.0.0.7', '10.0.0.1', '10.0.0.2', '10.0.0.3'].slice(0, hops);
      assert.equal(clientFromForwarded([`${prefix}, ${proxies.join(', ')}`], hops), '10.0.0.7');
      assert.equal(clientFromForwarded([prefix, proxies.join(', ')], hops), '10.0.0.7');
      assert.equal(clientFromForwarded([`${prefix}, ${proxies.map((proxy) => `for=${proxy}`).join(', ')}`], hops, 'forwarded'), '10.0.0.7');
    }));
  });

  test('any other header is read as before: its first line\'s first comma-separated entry, whole', () => {
    assert.equal(stickyClient('x-client-id', ['abc, def', 'ghi'], 1), 'abc');
    assert.equal(stickyClient('cookie', ['sid=42; theme=dark'], 1), 'sid=42; theme=dark');
    assert.equal(stickyClient('x-client-id', [], 1), undefined);
    assert.equal(stickyClient('x-client-id', [''], 1), undefined);
  });

  test('the head\'s lines of one header, in order; a line with space before its colon or folded onto the last is not that header', () => {
    const head = Buffer.from('GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.1.1.1, 2.2.2.2\r\nx-forwarded-for:3.3.3.3\r\n' +
      'X-Forwarded-For : 4.4.4.4\r\n X-Forwarded-For: 5.5.5.5\r\nX-Forwarded-For-Not: 6.6.6.6\r\n\r\nX-Forwarded-For: body');
    assert.deepEqual(httpHead.headerValues(head, 'x-forwarded-for'), ['1.1.1.1, 2.2.2.2', '3.3.3.3']);
    assert.equal(stickyClient('x-forwarded-for', httpHead.headerValues(head, 'x-forwarded-for'), 1), '3.3.3.3');
  });
});

describe('stickyProxyHops (--sticky-proxy-hops): checked, with the fix named', () => {
  const base = { exec: APP, balancer: 'sticky', stickyHeader: 'X-Forwarded-For' } as const;

  test('createCluster(): a whole number ≥ 1, with balancer sticky and a forwarding header; 1 by default', () => {
    assert.equal(createCluster(base).options.stickyProxyHops, 1);
    assert.equal(createCluster({ ...base, stickyProxyHops: 3 }).options.stickyProxyHops, 3);
    assert.equal(createCluster({ ...base, stickyHeader: 'forwarded', stickyProxyHops: 2 }).options.stickyProxyHops, 2);
    for (const [options, message] of [
      [{ ...base, stickyProxyHops: 0 }, /Expected `stickyProxyHops` to be a whole number ≥ 1: how many proxies run in front of corral, got `0` \(number\)\. Count them/],
      [{ ...base, stickyProxyHops: -1 }, /`stickyProxyHops` to be a whole number ≥ 1.*got `-1` \(number\)/],
      [{ ...base, stickyProxyHops: 1.5 }, /`stickyProxyHops` to be a whole number ≥ 1.*got `1\.5` \(number\)/],
      [{ ...base, stickyProxyHops: 'abc' }, /`stickyProxyHops` to be a whole number ≥ 1.*got 'abc' \(string\)/],
      [{ exec: APP, stickyProxyHops: 2 }, /set only with balancer: 'sticky' and stickyHeader x-forwarded-for or forwarded, got `2` \(number\)\. Add balancer: 'sticky' and stickyHeader: 'x-forwarded-for', or leave stickyProxyHops out\./],
      [{ exec: APP, balancer: 'sticky', stickyProxyHops: 2 }, /set only with balancer: 'sticky' and stickyHeader/],
      [{ ...base, stickyHeader: 'X-Client-Id', stickyProxyHops: 2 }, /x-client-id is read whole\), got `2` \(number\)\. Leave stickyProxyHops out/],
    ] as const) {
      assert.throws(() => createCluster(options as never), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'CORRAL_ERR_INVALID_OPTION');
        assert.match(error.message, message);
        return true;
      }, JSON.stringify(options));
    }
    // A ClusterPrimary of one's own checks it too.
    assert.throws(() => new ClusterPrimary({ balancer: 'sticky', stickyHeader: 'x-forwarded-for', stickyProxyHops: 0 }),
      /Expected `stickyProxyHops` to be a whole number ≥ 1 \(how many proxies in front of corral append to the sticky header\), got `0`/);
  });

  test('corral start: a bad --sticky-proxy-hops exits 2, naming the flag and the fix', { timeout: 60_000 }, async () => {
    const sticky = ['--balancer', 'sticky', '--sticky-header', 'x-forwarded-for'];
    for (const [flags, message] of [
      [[...sticky, '--sticky-proxy-hops', '0'], /^corral: --sticky-proxy-hops must be a whole number ≥ 1: how many proxies run in front of corral, got `0` \(number\)\. Count them: 1 for one nginx/m],
      [[...sticky, '--sticky-proxy-hops', '-1'], /^corral: --sticky-proxy-hops must be a whole number ≥ 1.*got `-1` \(number\)/m],
      [[...sticky, '--sticky-proxy-hops', 'abc'], /^corral: --sticky-proxy-hops must be a whole number ≥ 1.*got 'abc' \(string\)/m],
      [['--sticky-proxy-hops', '2'], /^corral: --sticky-proxy-hops must be set only with --balancer sticky and --sticky-header x-forwarded-for or forwarded, got `2` \(number\)\. Add --balancer sticky and --sticky-header x-forwarded-for, or leave --sticky-proxy-hops out\./m],
      [['--balancer', 'sticky', '--sticky-proxy-hops', '2'], /^corral: --sticky-proxy-hops must be set only with --balancer sticky and --sticky-header/m],
    ] as const) {
      const result = await runCommand(BIN, ['start', APP, '--name', 'hops-check', ...flags], { env: { PORT: '1', NODE_OPTIONS: '', CORRAL_RUN_DIR: RUN_DIR } });
      assert.equal(result.status, 2, `${flags.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
  });
});
