// A managed cluster keeps its listening sockets while it runs: when the last worker of a server
// is lost (a crash, a health kill), the socket stays open and new connections wait for the
// replacement, instead of being refused while it starts (node:cluster closes the socket). A
// server that no worker rejoins is closed once every slot is ready again, and at the stop.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import { createCluster, type ManagedCluster } from 'corral';
import { FakeClock } from './helpers/fake-clock.js';
import { freePort, getFresh } from './helpers/net-client.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-held-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const clusters: ManagedCluster[] = [];
afterEach(async () => {
  await Promise.all(clusters.splice(0).map((cluster) => cluster.close({ force: true })));
});

/**
 * Serves its pid on $PORT. A replacement (the file $DIR/started exists) says 'waiting' to the
 * primary and listens only once $DIR/go exists, on the port written in it if any: the test
 * decides when the replacement serves, so the window in which no worker listens is as long as it
 * needs, on any machine.
 */
const APP = path.join(dir, 'app.cjs');
writeFileSync(APP, `'use strict';
const fs = require('node:fs');
const path = require('node:path');
const started = path.join(process.env.DIR, 'started');
const go = path.join(process.env.DIR, 'go');
const server = require('node:http').createServer((req, res) => res.end(String(process.pid)));
if (!fs.existsSync(started)) {
  fs.writeFileSync(started, '');
  server.listen(Number(process.env.PORT), '127.0.0.1');
} else {
  process.send('waiting');
  const check = setInterval(() => {
    if (!fs.existsSync(go)) return;
    clearInterval(check);
    server.listen(Number(fs.readFileSync(go, 'utf8') || process.env.PORT), '127.0.0.1');
  }, 20);
}
`);

/** The body of a GET on a connection of its own. */
const get = (port: number): Promise<string> => getFresh(port).then((answer) => answer.body);

/** Whether a connection to `port` is accepted (then closed at once) or refused. */
function connectOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const client = net.connect(port, '127.0.0.1');
    client.once('connect', () => { client.destroy(); resolve('accepted'); });
    client.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/**
 * A cluster of one worker of APP, in a directory of its own; resolves once its replacement waits
 * for 'go'. With `clock` (the fake one), the cluster's timers move only when the test says.
 */
async function oneWorkerLost(clock?: FakeClock): Promise<{ cluster: ManagedCluster; port: number; appDir: string; firstPid: number }> {
  const appDir = mkdtempSync(path.join(dir, 'app-'));
  const port = await freePort();
  const cluster = createCluster({ exec: APP, workers: 1, env: { PORT: String(port), DIR: appDir }, startTimeout: 60_000 }, clock === undefined ? {} : { clock });
  clusters.push(cluster);
  await cluster.start();
  const firstPid = Number(await get(port));
  const waiting = new Promise<void>((resolve) => {
    cluster.on('message', (_worker, message) => { if (message === 'waiting') resolve(); });
  });
  const restarted = once(cluster, 'restart');
  process.kill(firstPid, 'SIGKILL');
  await restarted;
  clock?.advance(0); // The replacement of a worker killed from outside is forked at once: now.
  await waiting;
  return { cluster, port, appDir, firstPid };
}

describe('a managed cluster holds its port for a lost worker\'s replacement', () => {
  test('its only worker SIGKILLed: a client that connects before the replacement listens is answered by it, not refused', { timeout: 60_000 }, async () => {
    const { cluster, port, appDir, firstPid } = await oneWorkerLost();
    assert.ok(!existsSync(path.join(appDir, 'go')), 'no worker listens yet');
    // Connected while no worker listens: queued by the primary (node:cluster: ECONNREFUSED).
    const answer = get(port);
    const accepted = await new Promise<boolean>((resolve) => {
      const probe = http.get({ host: '127.0.0.1', port, agent: false });
      probe.on('socket', (socket) => socket.once('connect', () => { resolve(true); probe.destroy(); }));
      probe.on('error', () => resolve(false));
    });
    assert.equal(accepted, true, 'the port accepts connections while the replacement starts');
    writeFileSync(path.join(appDir, 'go'), '');
    const pid = Number(await answer);
    assert.notEqual(pid, firstPid);
    assert.equal(pid, cluster.workers[0]!.process.pid, 'the replacement answered');
  });

  test('a replacement that listens on another port: startTimeout after it is ready, the old port is closed', { timeout: 60_000 }, async () => {
    const clock = new FakeClock();
    const { cluster, port, appDir } = await oneWorkerLost(clock);
    const otherPort = await freePort();
    const ready = once(cluster, 'ready');
    writeFileSync(path.join(appDir, 'go'), String(otherPort));
    await ready;
    assert.equal(Number(await get(otherPort)), cluster.workers[0]!.process.pid);
    // Held a while longer: the replacement might have listened on it too.
    clock.advance(59_999);
    assert.equal(await connectOutcome(port), 'accepted', 'still held');
    clock.advance(1);
    assert.equal(await connectOutcome(port), 'ECONNREFUSED', 'no worker serves the old port: it is closed');
  });

  test('with restart: false no replacement is coming: the port closes when its only worker is lost, as in node:cluster', { timeout: 60_000 }, async () => {
    const appDir = mkdtempSync(path.join(dir, 'app-'));
    const port = await freePort();
    const cluster = createCluster({ exec: APP, workers: 1, env: { PORT: String(port), DIR: appDir }, restart: false });
    clusters.push(cluster);
    await cluster.start();
    const pid = Number(await get(port));
    const exited = once(cluster, 'exit');
    process.kill(pid, 'SIGKILL');
    await exited;
    await assert.rejects(get(port), { code: 'ECONNREFUSED' });
  });

  test('the stop closes a port held for a replacement that never listened', { timeout: 60_000 }, async () => {
    const { cluster, port } = await oneWorkerLost();
    // A client that connected (the primary accepted it) and waits for a worker.
    const client = net.connect(port, '127.0.0.1');
    await once(client, 'connect');
    client.end('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    let answer = '';
    client.setEncoding('utf8').on('data', (chunk: string) => { answer += chunk; });
    client.on('error', () => {}); // A reset, as the primary closes the connection.
    await Promise.all([new Promise((resolve) => client.once('close', resolve)), cluster.close()]);
    assert.equal(answer, '', 'closed with the server, unanswered');
    await assert.rejects(get(port), { code: 'ECONNREFUSED' });
  });
});
