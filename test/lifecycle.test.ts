// `corral start` as a process manager, with real processes and real load (autocannon):
// zero-downtime reloads, graceful shutdown on SIGTERM and on a process group's Ctrl-C, failed
// reloads, failed starts, crash loops and scaling.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { startLoad } from './helpers/load.js';
import { assertPortFree, freePort } from './helpers/net-client.js';
import { exitOf, killPrograms, runCommand, startProgram, type Program } from './helpers/program.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const WORKER_API = fileURLToPath(new URL('../../dist/worker/index.cjs', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-lifecycle-'));
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => killPrograms());

/** An app in the temp dir: answers `<version> <pid> <slot>` after DELAY ms; MODE picks misbehaviour. */
function writeApp(name: string, version: string, body = ''): string {
  const file = path.join(dir, name);
  writeFileSync(file, `'use strict';
const http = require('node:http');
const { onShutdown, ready, slot } = require(${JSON.stringify(WORKER_API)});
console.log('booting', process.pid, 'slot', slot);
${body}
const delay = Number(process.env.DELAY || 0);
const server = http.createServer((req, res) => {
  if (process.env.LOG_REQUESTS) console.log('request', process.pid);
  setTimeout(() => res.end(${JSON.stringify(version)} + ' ' + process.pid + ' ' + slot + '\\n'), delay);
});
server.listen(Number(process.env.PORT));
`);
  return file;
}

const RUN_DIR = path.join(dir, 'run');

function startCorral(args: string[], env: Record<string, string> = {}, detached = false): Program {
  return startProgram(BIN, ['start', ...args], { cwd: dir, env: { ...env, NODE_OPTIONS: '', CORRAL_RUN_DIR: RUN_DIR }, detached });
}

/** `corral <args>` against the apps of this file, without blocking the event loop (the load runs in it). */
const corralCommand = (...args: string[]) => runCommand(BIN, args, { cwd: dir, env: { CORRAL_RUN_DIR: RUN_DIR } });

async function get(port: number, headers: Record<string, string> = {}): Promise<{ status: number; body: string; connection: string | null }> {
  const response = await fetch(`http://127.0.0.1:${port}/`, { headers });
  return { status: response.status, body: await response.text(), connection: response.headers.get('connection') };
}

const noFailures = (result: { non2xx: number; errors: number; timeouts: number; ok: number }): void => {
  assert.deepEqual({ non2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts }, { non2xx: 0, errors: 0, timeouts: 0 });
  assert.ok(result.ok > 100, `${result.ok} requests answered`);
};

describe('rolling reload under load', () => {
  for (const keepAlive of [false, true]) {
    test(`4 workers, ${keepAlive ? 'keep-alive' : 'Connection: close'}: no request fails, and the new code serves`, { timeout: 60_000 }, async () => {
      const app = writeApp(`reload-${keepAlive}.cjs`, 'v1');
      const port = await freePort();
      const corral = startCorral([app, '-i', '4'], { PORT: String(port) });
      await corral.waitForErr(/ready: 4 workers/);
      const load = startLoad(port, { keepAlive, connections: 16 });
      await load.moreResponses(200);
      writeApp(`reload-${keepAlive}.cjs`, 'v2');
      corral.child.kill('SIGHUP');
      await corral.waitForErr(/reloaded: every worker runs generation 2/, 1, 40_000);
      await load.moreResponses(200);
      const result = await load.stop();
      noFailures(result);
      const answers = await Promise.all(Array.from({ length: 8 }, () => get(port)));
      assert.ok(answers.every((answer) => answer.body.startsWith('v2 ')), answers.map((answer) => answer.body).join(''));
      corral.child.kill('SIGTERM');
      assert.equal((await exitOf(corral)).code, 0);
    });
  }

  test('a reload with broken code (corral reload) exits 1; the old workers keep serving and no request fails', { timeout: 60_000 }, async () => {
    const app = writeApp('broken.cjs', 'v1');
    const port = await freePort();
    const corral = startCorral([app, '-i', '4'], { PORT: String(port) });
    await corral.waitForErr(/ready: 4 workers/);
    const load = startLoad(port, { keepAlive: true, connections: 16 });
    await load.moreResponses(200);
    writeApp('broken.cjs', 'v2', "throw new Error('the new code is broken');");
    const reload = await corralCommand('reload', 'broken');
    assert.equal(reload.status, 1);
    assert.match(reload.stderr, /^corral: The reload stopped: the worker for slot 0 \(pid \d+\) exited with code 1 before it was ready/);
    assert.match(reload.stderr, /\| Uncaught Error: the new code is broken/);
    // The primary logs it too.
    await corral.waitForErr(/ERROR The reload stopped/);
    await load.moreResponses(200);
    noFailures(await load.stop());
    const answers = await Promise.all(Array.from({ length: 8 }, () => get(port)));
    assert.ok(answers.every((answer) => answer.body.startsWith('v1 ')));
    assert.equal(new Set(answers.map((answer) => answer.body.split(' ')[1])).size, 4, 'all four old workers still serve');
    corral.child.kill('SIGTERM');
    assert.equal((await exitOf(corral)).code, 0);
  });
});

describe('graceful shutdown', () => {
  const ways = ['SIGTERM to the primary', 'SIGINT to the whole process group (Ctrl-C)', 'SIGTERM to every process (systemd\'s control-group stop)'] as const;
  for (const [index, how] of ways.entries()) {
    test(`${how}: every in-flight request (500 ms each) is answered, idle ones get Connection: close, exit code 0`, { timeout: 30_000 }, async () => {
      const app = writeApp(`graceful-${index}.cjs`, 'v1', `
onShutdown(({ reason }) => console.log('onShutdown', process.pid, reason));`);
      const port = await freePort();
      const corral = startCorral([app, '-i', '2'], { PORT: String(port), DELAY: '500', LOG_REQUESTS: '1' }, true);
      await corral.waitForErr(/ready: 2 workers/);
      const inFlight = Array.from({ length: 16 }, () => get(port));
      await corral.waitFor(/^request \d+$/, 16);
      if (how === 'SIGTERM to the primary') corral.child.kill('SIGTERM');
      else process.kill(-corral.child.pid!, how.startsWith('SIGINT') ? 'SIGINT' : 'SIGTERM');
      const answers = await Promise.all(inFlight);
      assert.deepEqual(answers.map((answer) => answer.status), Array<number>(16).fill(200));
      assert.ok(answers.every((answer) => answer.connection === 'close'), 'responses of a draining worker carry Connection: close');
      const exit = await exitOf(corral);
      assert.equal(exit.code, 0, corral.stderr());
      await corral.waitFor(/onShutdown \d+ (shutdown|signal)/, 2);
      assert.match(corral.stderr(), /stopped cleanly/);
      await assertPortFree(port);
    });
  }
});

describe('a forced stop', () => {
  test('a second SIGINT SIGKILLs workers whose drain would take longer, and corral start exits 1', { timeout: 30_000 }, async () => {
    const app = writeApp('stuck.cjs', 'v1', `
onShutdown(() => new Promise(() => { console.log('hook hangs'); }));`);
    const corral = startCorral([app, '-i', '2', '--shutdown-timeout', '60000'], { PORT: String(await freePort()) });
    await corral.waitForErr(/ready: 2 workers/);
    corral.child.kill('SIGINT');
    await corral.waitFor(/^hook hangs$/, 2);
    corral.child.kill('SIGINT');
    const exit = await exitOf(corral, 10_000);
    assert.equal(exit.code, 1);
    assert.match(corral.stderr(), /SIGINT: forcing the stop: SIGKILL to every worker/);
    // The hooks held them (no connection was open; or, this soon after the start, no report had come), said for each.
    const held = "slot \\d pid \\d+ (with no connection open \\(an onShutdown hook or the app's own work held it\\)|\\(no runtime report: its open connections are unknown\\))";
    assert.match(corral.stderr(), new RegExp(`stopped; 2 worker\\(s\\) SIGKILLed by a forced stop: ${held}, ${held}`));
  });
});

describe('an unclean stop says what made it unclean', () => {
  test('a failed onShutdown hook: corral stop exits 1 naming each worker and its exit code, never "0 worker(s) SIGKILLed"', { timeout: 30_000 }, async () => {
    const app = writeApp('hook-fails.cjs', 'v1', `
onShutdown(() => { throw new Error('the database was already closed'); });`);
    const corral = startCorral([app, '-i', '2', '--name', 'hook-fails'], { PORT: String(await freePort()) });
    await corral.waitForErr(/ready: 2 workers/);
    const stop = await corralCommand('stop', 'hook-fails');
    assert.equal(stop.status, 1, stop.stderr);
    assert.match(stop.stdout, /^hook-fails: stopped; worker \d+ \(slot \d, pid \d+\) exited with code 1, worker \d+ \(slot \d, pid \d+\) exited with code 1\n$/);
    assert.doesNotMatch(stop.stdout, /SIGKILLed/);
    assert.equal((await exitOf(corral)).code, 1);
    assert.match(corral.stderr(), /WARN stopped; worker \d+ \(slot \d, pid \d+\) exited with code 1, worker/);
  });
});

describe('start and crash-loop policy', () => {
  test('an app that throws on start makes corral start exit 1 within its budget, with few forks and the error', { timeout: 30_000 }, async () => {
    const app = writeApp('throws.cjs', 'v1', "throw new Error('cannot start: no database');");
    const started = Date.now();
    const corral = startCorral([app, '-i', '2'], { PORT: String(await freePort()) });
    const exit = await exitOf(corral, 20_000);
    const elapsed = Date.now() - started;
    assert.equal(exit.code, 1);
    assert.match(corral.stderr(), /The cluster could not start: the worker for slot \d \(pid \d+\) exited with code 1 before it was ready/);
    assert.match(corral.stderr(), /\| .*Error: cannot start: no database/);
    const forks = corral.lines.filter((line) => line.startsWith('booting')).length;
    assert.ok(forks <= 6, `${forks} forks (startAttempts 3 × 2 slots at most)`);
    assert.ok(elapsed < 10_000, `exited after ${elapsed} ms`);
  });

  test('an app that never listens fails its startTimeout, and corral start exits 1 naming it', { timeout: 30_000 }, async () => {
    const app = path.join(dir, 'silent.cjs');
    writeFileSync(app, "setInterval(() => {}, 1000);\n");
    const corral = startCorral([app, '-i', '1', '--start-timeout', '300']);
    const exit = await exitOf(corral, 20_000);
    assert.equal(exit.code, 1);
    assert.match(corral.stderr(), /did not listen on a port within 300 ms \(--start-timeout\)/);
  });

  test('an app alive that never listens (a queue consumer) is said so at its first startTimeout, naming --ready online', { timeout: 90_000 }, async () => {
    const app = path.join(dir, 'consumer.cjs');
    writeFileSync(app, "console.log('consuming', process.pid);\nsetInterval(() => {}, 1000);\n");
    // Time enough for its runtime's reports (every second) on a busy machine.
    const corral = startCorral([app, '-i', '1', '--start-timeout', '6000', '--name', 'consumer']);
    // The first timeout's line says it; the start is tried startAttempts times, as any (an app waiting for its database may listen on the next).
    const [first] = await corral.waitForErr(/WARN the worker for slot 0/, 1, 60_000);
    assert.match(first ?? '', /the worker for slot 0 \(pid \d+\) was alive, its event loop turning, but did not listen on a port within 6000 ms \(--start-timeout\), so corral stopped it\. An app that serves no port \(a queue consumer, a scheduled job\) needs --ready online: its workers are ready once they run\. One that listens only after a slow start needs a longer --start-timeout\./);
    assert.equal((await exitOf(corral, 60_000)).code, 1);
    assert.match(corral.stderr(), /ERROR The cluster could not start: .* needs --ready online: .* It failed 3 times in a row \(startAttempts\), so corral gave up\./);
  });

  test('a port already taken fails the start with the EADDRINUSE error', { timeout: 30_000 }, async () => {
    const app = writeApp('taken.cjs', 'v1');
    const port = await freePort();
    const blocker = startCorral([writeApp('blocker.cjs', 'v1'), '-i', '1', '--name', 'blocker'], { PORT: String(port) });
    await blocker.waitForErr(/ready: 1 worker/);
    const corral = startCorral([app, '-i', '1'], { PORT: String(port) });
    assert.equal((await exitOf(corral, 20_000)).code, 1);
    assert.match(corral.stderr(), /EADDRINUSE/);
  });

  test('a slot that starts crashing later enters crashloop; the other slot keeps serving', { timeout: 30_000 }, async () => {
    const app = writeApp('crashes.cjs', 'v1', `
if (slot === 1 && require('node:fs').existsSync(${JSON.stringify(path.join(dir, 'CRASH'))})) setTimeout(() => process.exit(3), 50);`);
    writeFileSync(path.join(dir, 'corral.config.json'), JSON.stringify({
      restart: { minDelay: 10, maxDelay: 50 },
      crashLoop: { maxCrashes: 3, window: 60_000, retryDelay: 60_000 },
    }));
    try {
      const port = await freePort();
      const corral = startCorral([app, '-i', '2'], { PORT: String(port) });
      await corral.waitForErr(/ready: 2 workers/);
      writeFileSync(path.join(dir, 'CRASH'), '');
      const booted = corral.lines.length;
      // Kill slot 1's worker: its replacements now crash shortly after they start.
      const slotOne = (await corral.waitFor(/^booting \d+ slot 1$/))[0]!.split(' ')[1]!;
      process.kill(Number(slotOne), 'SIGKILL');
      await corral.waitForErr(/slot 1 is crash-looping \(3 early crashes in a row within the window\); retrying every 60000 ms, 1 slot serving meanwhile/);
      assert.ok(corral.lines.length - booted <= 4, 'no more forks than the crashes');
      const answers = await Promise.all(Array.from({ length: 10 }, () => get(port)));
      assert.deepEqual(answers.map((answer) => answer.status), Array<number>(10).fill(200));
      corral.child.kill('SIGTERM');
      await exitOf(corral);
    } finally {
      rmSync(path.join(dir, 'corral.config.json'));
      rmSync(path.join(dir, 'CRASH'), { force: true });
    }
  });
});

describe('scaling', () => {
  test('SIGTTIN adds a worker and SIGTTOU drains one away', { timeout: 30_000 }, async () => {
    const app = writeApp('scale.cjs', 'v1');
    const port = await freePort();
    const corral = startCorral([app, '-i', '2'], { PORT: String(port) });
    await corral.waitForErr(/ready: 2 workers/);
    corral.child.kill('SIGTTIN');
    await corral.waitForErr(/scaled to 3 workers/);
    await corral.waitFor(/^booting \d+ slot 2$/);
    const answers = await Promise.all(Array.from({ length: 9 }, () => get(port)));
    assert.equal(new Set(answers.map((answer) => answer.body.split(' ')[2])).size, 3);
    corral.child.kill('SIGTTOU');
    await corral.waitForErr(/scaled to 2 workers/);
    const after = await Promise.all(Array.from({ length: 8 }, () => get(port)));
    assert.deepEqual(new Set(after.map((answer) => answer.body.trim().split(' ')[2])), new Set(['0', '1']));
    corral.child.kill('SIGTERM');
    assert.equal((await exitOf(corral)).code, 0);
  });
});
