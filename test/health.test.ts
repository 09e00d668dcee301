// Worker health: a worker whose event loop hangs is seen through its missing runtime reports,
// SIGKILLed and replaced at once, with real processes and real load.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { createCluster, type HealthAction, type ManagedCluster } from 'corral';
import { startLoad } from './helpers/load.js';
import { freePort } from './helpers/net-client.js';
import { exitOf, killPrograms, runCommand, startProgram } from './helpers/program.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-health-'));
const RUN_DIR = path.join(dir, 'run');
const clusters: ManagedCluster[] = [];
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await killPrograms();
  await Promise.all(clusters.splice(0).map((cluster) => cluster.close({ force: true })));
});

/** GET / answers the worker's pid; GET /block answers, then blocks the worker's event loop for good. */
const APP = path.join(dir, 'blocking.cjs');
writeFileSync(APP, `'use strict';
require('node:http').createServer((req, res) => {
  if (req.url === '/block') {
    res.end('blocking ' + process.pid, () => setImmediate(() => { for (;;); }));
    return;
  }
  if (req.url === '/block-in-exec') {
    res.end('blocking ' + process.pid, () => setImmediate(() => require('node:child_process').execSync('sleep 60')));
    return;
  }
  if (req.url === '/flood') {
    // The loop turns, but process.send() is flooded: 2,000 messages of 2 KB a turn for FLOOD_MS,
    // then one that says so. Its runtime reports queue behind them on the IPC channel.
    res.end('flooding ' + process.pid);
    const until = Date.now() + Number(process.env.FLOOD_MS);
    const payload = 'x'.repeat(2048);
    const flood = () => {
      if (Date.now() >= until) return process.send({ flooded: process.pid });
      for (let i = 0; i < 2000; i += 1) process.send({ payload });
      setImmediate(flood);
    };
    flood();
    return;
  }
  res.end(String(process.pid));
}).listen(Number(process.env.PORT), '127.0.0.1');
`);

async function get(port: number, url = '/'): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}${url}`, { headers: { connection: 'close' } });
  return response.text();
}

/** Blocks one worker: returns its pid. */
async function blockOne(port: number, how = '/block'): Promise<number> {
  const reply = await get(port, how);
  assert.match(reply, /^blocking \d+$/);
  return Number(reply.split(' ')[1]);
}

/** Resolves once every worker of the cluster has sent a runtime report (the heartbeat is on). */
async function reportsFromAll(cluster: ManagedCluster): Promise<void> {
  const reported = new Set<number>();
  while (cluster.workers.some((worker) => !reported.has(worker.id))) {
    const [worker] = await once(cluster, 'report') as [{ id: number }];
    reported.add(worker.id);
  }
}

function managed(options: Omit<Parameters<typeof createCluster>[0], 'exec'>): ManagedCluster {
  const cluster = createCluster({ exec: APP, ...options });
  clusters.push(cluster);
  return cluster;
}

describe('hangTimeout', () => {
  test('a worker that blocks its event loop under load is SIGKILLed and replaced at once; no request fails meanwhile (Connection: close)', { timeout: 30_000 }, async () => {
    const port = await freePort();
    const cluster = managed({ workers: 2, env: { PORT: String(port) }, hangTimeout: 1_500, reportInterval: 250 });
    await cluster.start();
    await reportsFromAll(cluster);
    const hang = once(cluster, 'health') as Promise<[HealthAction]>;
    const blocked = await blockOne(port);
    // The load starts once the worker is stuck, so that every connection it is handed from now on
    // waits unaccepted: each must go to another worker. (One it accepted in the very turn its loop
    // blocked is on it, and fails with it, as at any crash: that is not what this test is about.)
    const load = startLoad(port, { connections: 4, keepAlive: false });
    await load.moreResponses(100);
    const [action] = await hang;
    assert.equal(action.reason, 'hang');
    assert.equal(action.action, 'kill');
    assert.equal(action.worker.process.pid, blocked);
    assert.ok(action.silentFor >= 1_500, `silent for ${action.silentFor} ms`);
    assert.ok(action.lastReport !== undefined, 'its last report comes with it');
    assert.ok(action.reason === 'hang');
    assert.equal(action.diagnosis.state, 'running', 'a busy loop is on a CPU');
    // Its replacement serves, and the load goes on through it all.
    await cluster.ready();
    await load.moreResponses(200);
    const result = await load.stop();
    assert.deepEqual({ non2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts }, { non2xx: 0, errors: 0, timeouts: 0 });
    const serving = cluster.workers.map((worker) => worker.process.pid);
    assert.equal(serving.length, 2);
    assert.ok(!serving.includes(blocked));
    // A hang after readiness is not an early crash: the slot is not backing off.
    assert.deepEqual(cluster.status().slots.map((slot) => slot.state), ['ready', 'ready']);
  });

  test('a worker whose loop turns but which floods process.send() is not judged hung: its messages are signs of life', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const cluster = managed({ workers: 2, env: { PORT: String(port), FLOOD_MS: '5000' }, hangTimeout: 1_000, reportInterval: 200 });
    await cluster.start();
    await reportsFromAll(cluster);
    const actions: HealthAction[] = [];
    const judged = new Promise<string>((resolve) => {
      cluster.on('health', (action) => {
        actions.push(action);
        resolve(`${action.reason} ${action.action} of pid ${action.worker.process.pid ?? '?'}`);
      });
    });
    const flooded = new Promise<string>((resolve) => {
      cluster.on('message', (_worker, message) => {
        if (typeof message === 'object' && message !== null && 'flooded' in message) resolve(`flooded by pid ${String(message.flooded)}`);
      });
    });
    const reply = await get(port, '/flood');
    const flooding = Number(reply.split(' ')[1]);
    // Five hang timeouts of flooding, then its last message, which only a live worker sends.
    assert.equal(await Promise.race([flooded, judged]), `flooded by pid ${flooding}`);
    assert.deepEqual(actions, []);
    assert.ok(cluster.workers.some((worker) => worker.process.pid === flooding), 'it serves on');
  });

  test('close() with a hung worker does not wait its shutdownTimeout (60 s here): the hang ends it', { timeout: 20_000 }, async () => {
    const port = await freePort();
    const cluster = managed({ workers: 2, env: { PORT: String(port) }, hangTimeout: 1_000, reportInterval: 200, shutdownTimeout: 60_000 });
    await cluster.start();
    await reportsFromAll(cluster);
    const hang = once(cluster, 'health') as Promise<[HealthAction]>;
    const blocked = await blockOne(port);
    const result = await cluster.close();
    const [action] = await hang;
    assert.equal(action.worker.process.pid, blocked);
    const exits = new Map(result.exits.map((exit) => [exit.pid, exit]));
    assert.equal(exits.get(blocked)?.killed, true);
    assert.equal([...exits.values()].filter((exit) => !exit.killed).length, 1, 'the other worker drained on its own');
  });

  test('reload() with a hung worker does not wait its shutdownTimeout (60 s here): the new worker serves, the hang ends the old one', { timeout: 20_000 }, async () => {
    const port = await freePort();
    const cluster = managed({ workers: 2, env: { PORT: String(port) }, hangTimeout: 1_000, reportInterval: 200, shutdownTimeout: 60_000 });
    await cluster.start();
    await reportsFromAll(cluster);
    const hang = once(cluster, 'health') as Promise<[HealthAction]>;
    const blocked = await blockOne(port);
    const result = await cluster.reload();
    assert.deepEqual(result.replaced, [0, 1]);
    const [action] = await hang;
    assert.equal(action.worker.process.pid, blocked);
    assert.ok(!cluster.workers.some((worker) => worker.process.pid === blocked));
  });

  test('corral start --hang-timeout: the hang is one log line with what corral knew, and the slot is refilled at once', { timeout: 30_000 }, async () => {
    const port = await freePort();
    const corral = startProgram(BIN, ['start', APP, '-i', '2', '--name', 'hung', '--hang-timeout', '2000'],
      { cwd: dir, env: { NODE_OPTIONS: '', CORRAL_RUN_DIR: RUN_DIR, PORT: String(port) } });
    await corral.waitForErr(/ready: 2 workers/);
    // Both workers have reported (the heartbeat is on) before one hangs.
    for (;;) {
      const status = await runCommand(BIN, ['status', 'hung', '--json'], { cwd: dir, env: { CORRAL_RUN_DIR: RUN_DIR } });
      const slots = (JSON.parse(status.stdout) as { slots: { worker: { runtime: unknown } | null }[] }).slots;
      if (slots.every((slot) => slot.worker?.runtime != null)) break;
    }
    const blocked = await blockOne(port);
    const [line] = await corral.waitForErr(new RegExp(`pid ${blocked}\\) is hung`));
    assert.match(line!, /is hung: its event loop sent no report for \d+ ms \(last event-loop delay \d+ ms, \d+ open connections?, \d+ requests? served\); it was running on a CPU \(a busy loop or long synchronous work\); SIGKILLed it, a replacement starts now/);
    await corral.waitForErr(new RegExp(`pid ${blocked}\\) exited \\(SIGKILL\\); restarting in 0 ms$`));
    corral.child.kill('SIGTERM');
    await exitOf(corral);
  });

  test('a worker hung in a synchronous call is told apart from a busy loop: it waits in the kernel, for the process it started, which dies with it', { timeout: 20_000 }, async () => {
    const port = await freePort();
    const cluster = managed({ workers: 2, env: { PORT: String(port) }, hangTimeout: 1_000, reportInterval: 250 });
    await cluster.start();
    await reportsFromAll(cluster);
    const hang = once(cluster, 'health') as Promise<[HealthAction]>;
    const leftovers = once(cluster, 'leftovers') as Promise<[{ pids: number[] }]>;
    const blocked = await blockOne(port, '/block-in-exec');
    const [action] = await hang;
    assert.equal(action.worker.process.pid, blocked);
    assert.ok(action.reason === 'hang');
    assert.equal(action.diagnosis.state, 'waiting');
    // execSync runs a shell, which runs the sleep.
    assert.deepEqual(action.diagnosis.children.map((child) => child.command), ['/bin/sh -c sleep 60', 'sleep 60']);
    const sleeps = action.diagnosis.children.filter((child) => child.command === 'sleep 60');
    assert.equal(sleeps.length, 1, JSON.stringify(action.diagnosis.children));
    const [{ pids }] = await leftovers;
    assert.ok(pids.includes(sleeps[0]!.pid), 'the sleep it waited for was SIGKILLed with it');
    // SIGKILL is delivered when the process next runs: it dies a moment later (gone, or a zombie
    // until whoever inherited it reaps it). No event tells this process, so it looks every 10 ms.
    const sleep = `/proc/${sleeps[0]!.pid}/stat`;
    const deadline = Date.now() + 5_000;
    let stat = existsSync(sleep) ? readFileSync(sleep, 'latin1') : undefined;
    while (stat !== undefined && !/ Z /.test(stat) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      stat = existsSync(sleep) ? readFileSync(sleep, 'latin1') : undefined;
    }
    assert.ok(stat === undefined || / Z /.test(stat), `the sleep still runs 5 s after its SIGKILL: ${stat}`);
  });

  test('hangTimeout is checked against reportInterval, the heartbeat it watches', () => {
    assert.throws(() => createCluster({ exec: APP, hangTimeout: 1_500, reportInterval: 1_000 }),
      /Expected `hangTimeout` to be 0 or at least twice reportInterval \(2000 ms\)/);
    assert.throws(() => createCluster({ exec: APP, hangTimeout: 5_000, reportInterval: 0 }),
      /Expected `hangTimeout` to be 0 when reportInterval is 0.*Set reportInterval to 100 or more, or hangTimeout to 0/);
    assert.equal(createCluster({ exec: APP, reportInterval: 0 }).options.hangTimeout, 0, 'no reports: no hang detection, not an error');
    assert.equal(createCluster({ exec: APP }).options.hangTimeout, 30_000);
  });
});
