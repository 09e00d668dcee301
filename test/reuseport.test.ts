// The reuseport balancer: one SO_REUSEPORT socket per slot, held by the primary and lent to the
// slot's worker. Where it runs (Linux, Node 22.12+ and 23.1+): the kernel spreads connections
// over the workers, and a worker SIGKILLed under load loses only the connections inside it,
// while those queued on its socket wait for its replacement. Elsewhere choosing it is refused
// with why and what to use instead.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createCluster, InvalidOptionError, type ManagedCluster } from 'corral';
import { reuseportSupport } from './helpers/internals.js';
import { startLoad } from './helpers/load.js';
import { freePort } from './helpers/net-client.js';
import { runCommand } from './helpers/program.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-reuseport-'));
after(() => rmSync(dir, { recursive: true, force: true }));
/** Answers `<slot> <pid>` after 5 ms, so requests are in flight inside the workers. */
const APP = path.join(dir, 'slow-answer.cjs');
writeFileSync(APP, `require('node:http').createServer((request, response) => {
  setTimeout(() => response.end(process.env.CORRAL_SLOT + ' ' + process.pid), 5);
}).listen(Number(process.env.PORT), '127.0.0.1');\n`);

/** Answers each datagram with `<slot> <pid>`. */
const UDP_APP = path.join(dir, 'udp-answer.cjs');
writeFileSync(UDP_APP, `const socket = require('node:dgram').createSocket('udp4');
socket.on('message', (message, peer) => socket.send(process.env.CORRAL_SLOT + ' ' + process.pid, peer.port, peer.address));
socket.bind(Number(process.env.PORT), '127.0.0.1');\n`);

const clusters: ManagedCluster[] = [];
afterEach(async () => {
  await Promise.all(clusters.splice(0).map((cluster) => cluster.close()));
});

const unsupported = reuseportSupport.reuseportUnsupported();
const needsReuseport = { skip: unsupported === undefined ? false : `reuseport does not run here: ${unsupported}` };

async function startReuseport(port: number): Promise<ManagedCluster> {
  const cluster = createCluster({ exec: APP, workers: 4, balancer: 'reuseport', env: { PORT: String(port) } });
  clusters.push(cluster);
  await cluster.start();
  return cluster;
}

/** `count` requests on fresh connections, 8 at a time: the answers. */
async function answers(port: number, count: number): Promise<{ slot: string; pid: number }[]> {
  const results: { slot: string; pid: number }[] = [];
  let started = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (started < count) {
      started += 1;
      const response = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } });
      const [slot = '', pid = '0'] = (await response.text()).split(' ');
      results.push({ slot, pid: Number(pid) });
    }
  }));
  return results;
}

describe('reuseport balancer', () => {
  test('it runs on Linux with Node 22.12+ or 23.1+; elsewhere choosing it is refused with why and what to use', async () => {
    assert.equal(reuseportSupport.reuseportUnsupported('22.12.0', 'linux'), undefined);
    assert.equal(reuseportSupport.reuseportUnsupported('23.1.0', 'linux'), undefined);
    assert.equal(reuseportSupport.reuseportUnsupported('26.0.0', 'linux'), undefined);
    assert.match(reuseportSupport.reuseportUnsupported('22.11.0', 'linux')!, /needs Node 22\.12\+ or 23\.1\+.*this is Node 22\.11\.0/);
    assert.match(reuseportSupport.reuseportUnsupported('23.0.0', 'linux')!, /this is Node 23\.0\.0/);
    assert.match(reuseportSupport.reuseportUnsupported('20.20.2', 'linux')!, /this is Node 20\.20\.2/);
    assert.match(reuseportSupport.reuseportUnsupported('24.0.0', 'darwin')!, /needs Linux \(this is darwin\)/);
    if (unsupported === undefined) {
      assert.ok(createCluster({ exec: APP, balancer: 'reuseport' }), 'createCluster() takes reuseport here');
      return;
    }
    // This Node cannot: createCluster() and corral start say so before anything starts.
    assert.throws(() => createCluster({ exec: APP, balancer: 'reuseport' }), (error: unknown) =>
      error instanceof InvalidOptionError && error.message.includes(`'reuseport' cannot, as ${unsupported}`) &&
      /Use 'round-robin' \(the default\) or 'shared'/.test(error.message));
    const cli = await runCommand(BIN, ['start', APP, '--balancer', 'reuseport'], { cwd: dir, env: { NODE_OPTIONS: '', CORRAL_RUN_DIR: path.join(dir, 'run') } });
    assert.equal(cli.status, 2);
    assert.match(cli.stderr, /^corral: --balancer must be a balancer this system runs: 'reuseport' cannot, as it needs/);
  });

  test('each worker accepts on its own socket: the kernel spreads connections over all four', { timeout: 30_000, ...needsReuseport }, async () => {
    const port = await freePort();
    await startReuseport(port);
    const seen = await answers(port, 400);
    const perSlot = ['0', '1', '2', '3'].map((slot) => seen.filter((answer) => answer.slot === slot).length);
    // Even would be 100 each; the kernel hashes each connection's addresses and ports.
    for (const count of perSlot) assert.ok(count >= 40, `connections per slot ${perSlot.join('/')}: one got under 10%`);
  });

  test('SIGKILL of a worker under Connection: close load loses only the connections inside it; its socket waits for the replacement', { timeout: 60_000, ...needsReuseport }, async () => {
    const port = await freePort();
    const cluster = await startReuseport(port);
    const victim = (await answers(port, 40)).find((answer) => answer.slot === '1');
    assert.ok(victim !== undefined, 'no answer came from slot 1');
    const load = startLoad(port, { keepAlive: false, connections: 16 });
    let result;
    try {
      await load.moreResponses(300);
      const readyAgain = once(cluster, 'ready', { signal: AbortSignal.timeout(20_000) });
      process.kill(victim.pid, 'SIGKILL');
      await readyAgain;
      await load.moreResponses(600);
    } finally {
      result = await load.stop();
    }
    // At most the 16 connections in flight can have been inside the killed worker; everything
    // queued on its socket meanwhile (a quarter of all new connections) waited and was answered.
    assert.ok(result.errors + result.timeouts <= 16, `${result.errors} errors and ${result.timeouts} timeouts in ${result.total} requests`);
    assert.equal(result.non2xx, 0);
    const after = await answers(port, 80);
    const successor = after.find((answer) => answer.slot === '1');
    assert.ok(successor !== undefined && successor.pid !== victim.pid, 'slot 1 answers from its replacement');
  });

  test('UDP: each worker has its own socket; each client keeps its worker, and a killed worker\'s datagrams wait for its replacement', { timeout: 60_000, ...needsReuseport }, async () => {
    const port = await freePort();
    const cluster = createCluster({ exec: UDP_APP, workers: 4, balancer: 'reuseport', env: { PORT: String(port) } });
    clusters.push(cluster);
    await cluster.start();
    const clients = await Promise.all(Array.from({ length: 40 }, async () => {
      const client = dgram.createSocket('udp4');
      client.bind(0, '127.0.0.1');
      await once(client, 'listening');
      return client;
    }));
    const ask = async (client: dgram.Socket, timeout = 10_000): Promise<{ slot: string; pid: number }> => {
      const answer = once(client, 'message', { signal: AbortSignal.timeout(timeout) });
      client.send('which', port, '127.0.0.1');
      const [message] = await answer as [Buffer];
      const [slot = '', pid = '0'] = String(message).split(' ');
      return { slot, pid: Number(pid) };
    };
    try {
      const first: { slot: string; pid: number }[] = [];
      for (const client of clients) first.push(await ask(client));
      const again: { slot: string; pid: number }[] = [];
      for (const client of clients) again.push(await ask(client));
      assert.deepEqual(again, first, 'a client moved to another worker');
      const slots = new Set(first.map((answer) => answer.slot));
      assert.ok(slots.size >= 3, `40 clients reached only slots ${[...slots].join(', ')}`);
      // Kill one worker; once it is gone, its clients send. The primary still holds its socket, so
      // the datagrams wait there and its replacement answers them, from the same slot.
      const victimSlot = first[0]!.slot;
      const victimPid = first[0]!.pid;
      const itsClients = clients.filter((_, index) => first[index]!.slot === victimSlot);
      const gone = once(cluster, 'exit', { signal: AbortSignal.timeout(10_000) });
      process.kill(victimPid, 'SIGKILL');
      await gone;
      const answers = await Promise.all(itsClients.map((client) => ask(client, 20_000)));
      for (const answer of answers) {
        assert.equal(answer.slot, victimSlot, 'the datagram went to another slot');
        assert.notEqual(answer.pid, victimPid);
      }
    } finally {
      for (const client of clients) client.close();
    }
  });
});
