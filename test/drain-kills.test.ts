// A drain that runs out of time: a reload, a scale-down or a recycle whose old worker still holds
// a connection at its deadline (--shutdown-timeout) SIGKILLs it, and says so as `corral stop`
// does: how many, which slots and pids, and the connections each still had open; in the
// command's text and --json, the primary's log line, `corral status` and /metrics
// (corral_worker_drain_kills_total).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { parseExposition, samplesOf, valueOf, type Exposition } from './helpers/exposition.js';
import { freePort } from './helpers/net-client.js';
import { exitOf, killPrograms, runCommand, startProgram, type Program } from './helpers/program.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const APP = fileURLToPath(new URL('../../test/fixtures/production/app.cjs', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-drain-kills-'));
const env = { CORRAL_RUN_DIR: path.join(dir, 'run'), CORRAL_LOG_DIR: path.join(dir, 'logs'), NODE_OPTIONS: '' };
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => killPrograms());

const HINT = '(to let such connections end, raise --shutdown-timeout or end them in an onShutdown hook)';

interface RunningApp {
  program: Program;
  name: string;
  port: number;
  admin: string;
}

let apps = 0;
/** `corral start` of the production fixture with a 1 s drain and an admin port, once it is ready. */
async function startApp(args: readonly string[]): Promise<RunningApp> {
  const port = await freePort();
  const name = `drain-kills-${process.pid}-${apps += 1}`;
  const program = startProgram(BIN, ['start', APP, '--name', name, '--shutdown-timeout', '1000', '--admin', '0', ...args], {
    env: { ...env, PORT: String(port) },
  });
  const [ready] = await program.waitForErr(/ready: \d+ workers? in/, 1, 30_000);
  const admin = / admin (http:\/\/\S+) /.exec(ready!)?.[1];
  assert.ok(admin !== undefined, ready);
  return { program, name, port, admin };
}

const corral = (...args: string[]) => runCommand(BIN, args, { env });

interface Held {
  pid: number;
  /** Resolves once the connection is closed (the worker was SIGKILLed). */
  closed: Promise<void>;
}

/** Opens /hold, a response the worker never ends; resolves once the worker has answered its head. */
function hold(port: number): Promise<Held> {
  return new Promise((resolve, reject) => {
    const request = http.get({ port, host: '127.0.0.1', path: '/hold', agent: false }, (response) => {
      const closed = new Promise<void>((done) => response.socket.once('close', () => done()));
      response.setEncoding('utf8').once('data', (chunk: string) => resolve({ pid: Number(/held by (\d+)/.exec(chunk)?.[1]), closed }));
      response.on('error', () => {}); // The SIGKILL cuts it: that is the point.
    });
    request.on('error', reject);
  });
}

/** Scrapes /metrics until `ready` holds (workers report each second), failing after 15 s. */
async function scrapeUntil(admin: string, ready: (metrics: Exposition) => boolean, what: string): Promise<Exposition> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const text = await (await fetch(`${admin}/metrics`)).text();
    const metrics = parseExposition(text);
    if (ready(metrics)) return metrics;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last scrape:\n${text}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Until the worker's runtime report counts the held connection (what its kill will name). */
const reported = (app: RunningApp, held: Held): Promise<Exposition> => scrapeUntil(app.admin,
  (metrics) => (samplesOf(metrics, 'corral_worker_open_connections', { pid: String(held.pid) })[0]?.value ?? 0) >= 1,
  `pid ${held.pid} to report its connection`);

const kills = (metrics: Exposition, reason: string): number => valueOf(metrics, 'corral_worker_drain_kills_total', { reason });

describe('a drain that runs out of time says whom it SIGKILLed and what held it', () => {
  test('a reload: corral reload --json and its text, the log line, corral status and /metrics name the old worker and its open connection', { timeout: 60_000 }, async () => {
    const app = await startApp(['-i', '1']);
    const first = await hold(app.port);
    await reported(app, first);
    const json = await corral('reload', app.name, '--json');
    assert.equal(json.status, 0, json.stderr);
    const result = JSON.parse(json.stdout) as { generation: number; killed: Record<string, unknown>[] };
    assert.equal(result.generation, 2);
    assert.equal(result.killed.length, 1, json.stdout);
    assert.deepEqual({ ...result.killed[0], workerId: undefined },
      { slot: 0, workerId: undefined, pid: first.pid, reason: 'reload', cause: 'deadline', timeout: 1000, openConnections: 1, starting: false });
    await first.closed;

    const second = await hold(app.port);
    await reported(app, second);
    const text = await corral('reload', app.name);
    assert.equal(text.status, 0, text.stderr);
    assert.equal(text.stdout, `${app.name}: reloaded; every worker runs generation 3 (${/\((\d+) ms\)/.exec(text.stdout)?.[1]} ms); ` +
      `1 old worker(s) SIGKILLed at the deadline (1000 ms): slot 0 pid ${second.pid} with 1 connection open ${HINT}\n`);
    await app.program.waitForErr(new RegExp(`WARN reloaded: every worker runs generation 3 \\(\\d+ ms\\); 1 old worker\\(s\\) SIGKILLed at the deadline ` +
      `\\(1000 ms\\): slot 0 pid ${second.pid} with 1 connection open`));
    const status = await corral('status', app.name);
    assert.match(status.stdout, /reload \(SIGKILL\) \d+s ago/);
    const metrics = await scrapeUntil(app.admin, (exposition) => kills(exposition, 'reload') === 2, 'two reload kills');
    assert.equal(kills(metrics, 'shutdown'), 0);
    assert.equal(valueOf(metrics, 'corral_worker_exits_total', { reason: 'reload' }), 2);
    app.program.child.kill('SIGTERM');
    assert.deepEqual(await exitOf(app.program), { code: 0, signal: null });
  });

  test('a scale-down: corral scale --json, the log line and /metrics name the removed worker and its open connections', { timeout: 60_000 }, async () => {
    const app = await startApp(['-i', '2']);
    const status = JSON.parse((await corral('status', app.name, '--json')).stdout) as { slots: { slot: number; worker: { pid: number } }[] };
    const removed = status.slots.find((slot) => slot.slot === 1)!.worker.pid;
    // Round-robin: of two connections, one is slot 1's.
    const held = await Promise.all([hold(app.port), hold(app.port)]);
    const onRemoved = held.find((one) => one.pid === removed);
    assert.ok(onRemoved !== undefined, `one of ${held.map((one) => one.pid).join(', ')} is ${removed}`);
    await reported(app, onRemoved);
    const scale = await corral('scale', app.name, '1', '--json');
    assert.equal(scale.status, 0, scale.stderr);
    const result = JSON.parse(scale.stdout) as { workers: number; removed: number[]; killed: Record<string, unknown>[] };
    assert.deepEqual({ workers: result.workers, removed: result.removed }, { workers: 1, removed: [1] });
    assert.deepEqual(result.killed.map((kill) => ({ slot: kill['slot'], pid: kill['pid'], reason: kill['reason'], cause: kill['cause'], open: kill['openConnections'] })),
      [{ slot: 1, pid: removed, reason: 'scale', cause: 'deadline', open: 1 }]);
    await app.program.waitForErr(new RegExp(`WARN scaled to 1 worker; 1 worker\\(s\\) SIGKILLed at the deadline \\(1000 ms\\): slot 1 pid ${removed} with 1 connection open`));
    assert.equal(kills(await scrapeUntil(app.admin, (metrics) => kills(metrics, 'scale') === 1, 'the scale kill'), 'reload'), 0);
    app.program.child.kill('SIGTERM');
    await exitOf(app.program);
  });

  test('a recycle (--max-requests): the log line and /metrics name the recycled worker and its open connection', { timeout: 60_000 }, async () => {
    const app = await startApp(['-i', '1', '--max-requests', '1']);
    const held = await hold(app.port);
    await reported(app, held);
    // One finished request: the worker reaches --max-requests and is recycled; its held connection outlasts its drain.
    await (await fetch(`http://127.0.0.1:${app.port}/`, { headers: { connection: 'close' } })).text();
    // Its last report may still count the finished request's connection, closing then.
    await app.program.waitForErr(new RegExp(`WARN 1 recycled worker\\(s\\) SIGKILLed at the deadline \\(1000 ms\\): slot 0 pid ${held.pid} ` +
      `with (1 connection|2 connections) open ${HINT.replace(/[()]/g, '\\$&')}`));
    await held.closed;
    await scrapeUntil(app.admin, (metrics) => kills(metrics, 'recycle') === 1, 'the recycle kill');
    app.program.child.kill('SIGTERM');
    await exitOf(app.program);
  });
});
