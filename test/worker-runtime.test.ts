// The runtime corral loads into its workers, and `corral/worker`: the app sees what it would under
// node:cluster, its hooks run on shutdown, manual readiness works, and without corral the API is
// harmless.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { freePort } from './helpers/net-client.js';
import { exitOf, killPrograms, startProgram } from './helpers/program.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const WORKER_CJS = fileURLToPath(new URL('../../dist/worker/index.cjs', import.meta.url));
const WORKER_ESM = fileURLToPath(new URL('../../dist/worker/index.mjs', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-runtime-'));
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => killPrograms());

function write(name: string, source: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, source);
  return file;
}

const start = (args: string[], env: Record<string, string> = {}) =>
  startProgram(BIN, ['start', ...args], { cwd: dir, env: { NODE_OPTIONS: '', CORRAL_RUN_DIR: path.join(dir, 'run'), ...env } });

describe('what the app sees', () => {
  test('argv, execArgv, env, require.main and cluster.worker are as under node:cluster; the runtime leaves no trace', { timeout: 30_000 }, async () => {
    const app = write('observe.cjs', `
const cluster = require('node:cluster');
const { fork } = require('node:child_process');
const messages = [];
process.on('message', (message) => messages.push(message));
const child = fork(${JSON.stringify(write('child.cjs', "process.send({ execArgv: process.execArgv, runtime: Object.getOwnPropertySymbols(globalThis).some((s) => String(s).includes('corral')) }); process.disconnect();"))});
child.on('message', (fromChild) => {
  console.log(JSON.stringify({
    argv: process.argv.slice(1), execArgv: process.execArgv, isMain: require.main === module,
    isWorker: cluster.isWorker, workerId: cluster.worker.id, slot: process.env.CORRAL_SLOT,
    pm2: process.env.NODE_APP_INSTANCE, corralEnv: Object.keys(process.env).filter((key) => key.startsWith('CORRAL_') && key !== 'CORRAL_RUN_DIR'),
    child: fromChild,
  }));
  require('node:http').createServer((req, res) => res.end(JSON.stringify(messages))).listen(Number(process.env.PORT));
});
`);
    const port = await freePort();
    const corral = start([app, '-i', '1', '--node-args', '--max-old-space-size=200', '--', 'one', 'two'], { PORT: String(port) });
    const [line] = await corral.waitFor(/^\{/);
    await corral.waitForErr(/ready: 1 worker/);
    assert.deepEqual(JSON.parse(line!), {
      argv: [app, 'one', 'two'], execArgv: ['--max-old-space-size=200'], isMain: true, isWorker: true, workerId: 1,
      slot: '0', pm2: '0', corralEnv: ['CORRAL_SLOT'],
      child: { execArgv: ['--max-old-space-size=200'], runtime: false },
    });
    // A reload exchanges control frames with the worker; none reaches the app's 'message' listeners.
    corral.child.kill('SIGHUP');
    await corral.waitForErr(/reloaded/);
    const response = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(await response.text(), '[]');
    corral.child.kill('SIGTERM');
    assert.equal((await exitOf(corral)).code, 0);
  });

  test('an ES module app imports corral/worker and gets its slot', { timeout: 30_000 }, async () => {
    const app = write('esm.mjs', `
import { slot, onShutdown } from ${JSON.stringify(WORKER_ESM)};
import http from 'node:http';
onShutdown(() => console.log('esm hook ran in slot', slot));
http.createServer((req, res) => res.end(String(slot))).listen(Number(process.env.PORT));
`);
    const port = await freePort();
    const corral = start([app, '-i', '2'], { PORT: String(port) });
    await corral.waitForErr(/ready: 2 workers/);
    const slots = await Promise.all(Array.from({ length: 4 }, async () => (await fetch(`http://127.0.0.1:${port}/`)).text()));
    assert.deepEqual(new Set(slots), new Set(['0', '1']));
    corral.child.kill('SIGINT');
    assert.equal((await exitOf(corral)).code, 0);
    await corral.waitFor(/^esm hook ran in slot [01]$/, 2);
  });

  test('a TypeScript app runs where Node strips types, and otherwise corral says what to do', { timeout: 30_000 }, async () => {
    const app = write('typed.ts', `
import http from 'node:http';
const port: number = Number(process.env['PORT']);
http.createServer((req, res) => res.end('typed')).listen(port);
`);
    const port = await freePort();
    const corral = start([app, '-i', '1'], { PORT: String(port) });
    const features = process.features as { typescript?: string | false };
    if (features.typescript) {
      await corral.waitForErr(/ready: 1 worker/);
      assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'typed');
      corral.child.kill('SIGTERM');
      assert.equal((await exitOf(corral)).code, 0);
    } else {
      assert.equal((await exitOf(corral)).code, 1);
      assert.match(corral.stderr(), /cannot run .*typed\.ts: Node\.js [\d.]+ does not run TypeScript files\. To run it, .*22\.18/);
    }
  });
});

describe('logs', () => {
  test('--log-prefix (here from an ES module config file) prefixes worker lines; --log-format json makes corral\'s lines JSON', { timeout: 30_000 }, async () => {
    const app = write('chatty.cjs', `
console.log('hello from', process.env.CORRAL_SLOT);
console.error('warning from', process.env.CORRAL_SLOT);
require('node:http').createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT));
`);
    const config = write('corral.config.mjs', "export default { logPrefix: 'slot', workers: 2 };\n");
    try {
      const corral = start([app, '--log-format', 'json'], { PORT: String(await freePort()) });
      await corral.waitFor(/^\{.*"line":"hello from 1"/);
      await corral.waitFor(/^\{.*"line":"hello from 0"/);
      const ready = JSON.parse((await corral.waitForErr(/"event":"ready"/))[0]!) as Record<string, unknown>;
      assert.equal(ready['app'], 'chatty');
      assert.equal(ready['workers'], 2);
      assert.match(String(ready['time']), /^\d{4}-\d\d-\d\dT/);
      const line = JSON.parse(corral.lines.find((text) => text.includes('"hello from 0"'))!) as Record<string, unknown>;
      assert.deepEqual({ slot: line['slot'], stream: line['stream'] }, { slot: 0, stream: 'stdout' });
      await corral.waitForErr(/"stream":"stderr","line":"warning from 1"/);
      corral.child.kill('SIGTERM');
      assert.equal((await exitOf(corral)).code, 0);
      // Text: each worker line prefixed with its slot.
      const text = start([app, '-i', '1'], { PORT: String(await freePort()) });
      await text.waitFor(/^\[0\] hello from 0$/);
      await text.waitForErr(/^\[0\] warning from 0$/);
      await text.waitForErr(/^\d{4}-\d\d-\d\dT[\d:.]+Z corral\[chatty\] ready: 1 worker/);
      text.child.kill('SIGTERM');
      assert.equal((await exitOf(text)).code, 0);
    } finally {
      rmSync(config);
    }
  });
});

describe('lifecycle hooks', () => {
  test("--ready manual waits for the app's ready() call", { timeout: 30_000 }, async () => {
    const app = write('manual.cjs', `
const { ready } = require(${JSON.stringify(WORKER_CJS)});
const http = require('node:http');
const server = http.createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), () => {
  // Warm up: answer one request of its own before taking traffic, then say so.
  console.log('listening, warming up');
  http.get({ port: server.address().port, host: '127.0.0.1', agent: false }, (res) => {
    res.resume().on('end', () => { console.log('calling ready'); ready(); });
  });
});
`);
    const corral = start([app, '-i', '1', '--ready', 'manual'], { PORT: String(await freePort()) });
    await corral.waitForErr(/ready: 1 worker/);
    assert.ok(corral.lines.includes('calling ready'), 'the cluster became ready only after ready()');
    corral.child.kill('SIGTERM');
    assert.equal((await exitOf(corral)).code, 0);
  });

  test("--ready manual takes PM2's process.send('ready'), which a --primary module's 'message' listener still hears", { timeout: 40_000 }, async () => {
    const app = write('pm2-ready.cjs', `
require('node:http').createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), () => {
  console.log('sending ready');
  process.send('ready');
});
`);
    const primary = write('hears.cjs', `
require('node:cluster').on('message', (worker, message) => console.log('primary heard', JSON.stringify(message), 'from worker', worker.id));
`);
    // A start timeout far beyond the wait below: only the app's message can make it ready in time.
    const corral = start([app, '-i', '1', '--ready', 'manual', '--start-timeout', '120000', '--primary', primary], { PORT: String(await freePort()) });
    await corral.waitForErr(/ready: 1 worker/, 1, 25_000);
    await corral.waitFor(/^primary heard "ready" from worker 1$/);
    await corral.waitFor(/^sending ready$/);
    corral.child.kill('SIGTERM');
    assert.equal((await exitOf(corral)).code, 0);
  });

  test('a failing onShutdown hook is reported and makes the exit code 1', { timeout: 30_000 }, async () => {
    const app = write('bad-hook.cjs', `
const { onShutdown } = require(${JSON.stringify(WORKER_CJS)});
onShutdown(async () => { throw new Error('could not flush'); });
require('node:http').createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT));
`);
    const corral = start([app, '-i', '1'], { PORT: String(await freePort()) });
    await corral.waitForErr(/ready: 1 worker/);
    corral.child.kill('SIGTERM');
    assert.equal((await exitOf(corral)).code, 1);
    assert.match(corral.stderr(), /an onShutdown hook failed: Error: could not flush/);
    assert.match(corral.stderr(), /stopped; worker \d+ \(slot 0, pid \d+\) exited with code 1/);
  });

  test('without corral, corral/worker is harmless: ready() does nothing, hooks never run, slot is undefined', () => {
    const script = `
const { ready, onShutdown, slot } = require(${JSON.stringify(WORKER_CJS)});
ready();
const remove = onShutdown(() => console.log('hook ran'));
console.log(JSON.stringify({ slot: slot ?? null, remove: typeof remove }));
`;
    const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { slot: null, remove: 'function' });
  });
});
