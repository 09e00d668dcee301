// The app's own stop signal handler runs to its end (issue 26): a worker that corral drains
// (`corral stop`, reload, scale-down, a health recycle) gets its --kill-signal once its servers
// stop accepting, if the app listens for it, and the process ends when the app lets it; a real
// SIGTERM to the process group (systemd, Ctrl-C) is the app's to handle as well. corral never
// calls process.exit() under the app's handler. Real processes: only they have signals.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { freePort, getFresh } from './helpers/net-client.js';
import { exitOf, killPrograms, runCommand, startProgram } from './helpers/program.js';
import { isolation, marksIn } from './helpers/isolated-app.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const WORKER_API = fileURLToPath(new URL('../../dist/worker/index.cjs', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-app-signal-'));
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => killPrograms());

/** A run directory of the test's own (0700), and a file the app's handlers append their marks to. */
const isolated = isolation(dir);


// What production apps do on SIGTERM: stop the server, then close a database pool (300 ms here),
// write down that they finished, and exit. `?hold` answers after 200 ms: in flight at the stop.
const HANDLER_APP = path.join(dir, 'handler.cjs');
writeFileSync(HANDLER_APP, `'use strict';
const fs = require('node:fs');
const server = require('node:http').createServer((req, res) => {
  if (req.url === '/hold') {
    console.log('holding a request');
    setTimeout(() => res.end('held ' + process.pid), 200);
  }
  else res.end('ok ' + process.pid);
}).listen(Number(process.env.PORT), '127.0.0.1');
const signal = process.env.APP_SIGNAL || 'SIGTERM';
// Taken at startup, as shutdown helpers do: the prototype's close, bound to the server.
const boundClose = process.env.BOUND_CLOSE ? require('node:util').promisify(server.close.bind(server)) : undefined;
process.on(signal, (received) => {
  if (process.env.SAY_HANDLER) console.log('handler running ' + process.pid);
  const closeServer = (callback) => (boundClose ? boundClose().then(() => callback(), callback) : server.close(callback));
  closeServer((error) => setTimeout(() => {
    // As apps written for a signal that comes first (Kubernetes, PM2) do.
    if (error && process.env.CLOSE_STRICT) {
      fs.appendFileSync(process.env.MARKS, process.pid + ' close failed: ' + error.code + '\\n');
      process.exit(1);
    }
    fs.appendFileSync(process.env.MARKS, process.pid + ' ' + received + ' slot ' + process.env.CORRAL_SLOT + '\\n');
    if (process.env.REraise) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(Number(process.env.EXIT_CODE || 0));
  }, 300));
});
`);

describe("the app's own stop signal handler", () => {
  test('runs to its end once per worker on reload, scale-down, a recycle and corral stop; in-flight requests finish', { timeout: 90_000 }, async () => {
    const { env, marks } = isolated();
    const port = await freePort();
    const corral = startProgram(BIN, ['start', HANDLER_APP, '-i', '2', '--name', 'handler', '--max-requests', '40', '--max-requests-jitter', '0'],
      { cwd: dir, env: { ...env, PORT: String(port) } });
    await corral.waitForErr(/ready: 2 workers/, 1, 30_000);

    const reload = await runCommand(BIN, ['reload', 'handler'], { cwd: dir, env });
    assert.equal(reload.status, 0, reload.stdout + reload.stderr);
    assert.equal(marksIn(marks).length, 2, `each old worker's handler finished before the reload did: ${marksIn(marks).join('; ')}`);

    const scale = await runCommand(BIN, ['scale', 'handler', '1'], { cwd: dir, env });
    assert.equal(scale.status, 0, scale.stdout + scale.stderr);
    assert.equal(marksIn(marks).length, 3, 'the removed worker ran its handler');

    // 40 requests: the one worker left is recycled (a replacement serves first), and its handler runs.
    for (let request = 0; request < 40; request += 1) await (await fetch(`http://127.0.0.1:${port}/`)).text();
    await corral.waitForErr(/drains: its replacement serves the slot/, 1, 30_000);
    // The stop waits for every worker, the recycled one still draining included.
    const inFlight = getFresh(port, '/hold').then((answer) => answer.body);
    inFlight.catch(() => {}); // Awaited below, after the stop.
    await corral.waitFor(/holding a request/, 1, 30_000);
    const stop = await runCommand(BIN, ['stop', 'handler'], { cwd: dir, env });
    assert.equal(stop.status, 0, stop.stdout + stop.stderr);
    assert.match(stop.stdout, /stopped cleanly/);
    assert.match(await inFlight, /^held \d+$/, 'the request in flight at the stop was answered');
    assert.deepEqual((await exitOf(corral, 30_000)).code, 0);
    const lines = marksIn(marks);
    assert.equal(lines.length, 5, `reload 2, scale-down 1, recycle 1, stop 1: ${lines.join('; ')}`);
    assert.equal(new Set(lines.map((line) => line.split(' ')[0])).size, 5, 'once per worker');
    for (const line of lines) assert.match(line, / SIGTERM slot \d$/);
  });

  test('runs to its end on a SIGTERM to the process group (systemd, docker stop), and the app exits 0', { timeout: 60_000 }, async () => {
    const { env, marks } = isolated();
    const corral = startProgram(BIN, ['start', HANDLER_APP, '-i', '2', '--name', 'group'],
      { cwd: dir, env: { ...env, PORT: String(await freePort()) }, detached: true });
    await corral.waitForErr(/ready: 2 workers/, 1, 30_000);
    process.kill(-corral.child.pid!, 'SIGTERM');
    assert.equal((await exitOf(corral, 30_000)).code, 0, corral.stderr());
    assert.equal(marksIn(marks).length, 2, `both workers' handlers finished: ${corral.stderr()}`);
  });

  test("a Ctrl-C (SIGINT to the group) reaches an app that handles only SIGTERM as its --kill-signal", { timeout: 60_000 }, async () => {
    const { env, marks } = isolated();
    const corral = startProgram(BIN, ['start', HANDLER_APP, '-i', '2', '--name', 'ctrl-c'],
      { cwd: dir, env: { ...env, PORT: String(await freePort()) }, detached: true });
    await corral.waitForErr(/ready: 2 workers/, 1, 30_000);
    process.kill(-corral.child.pid!, 'SIGINT');
    assert.equal((await exitOf(corral, 30_000)).code, 0, corral.stderr());
    assert.deepEqual(marksIn(marks).map((line) => line.split(' ')[1]), ['SIGTERM', 'SIGTERM'], corral.stderr());
  });

  test('a Ctrl-C that reaches a worker after its app was given SIGTERM (the primary\'s word to drain came first) does not cut the handler short', { timeout: 60_000 }, async () => {
    const { env, marks } = isolated();
    const corral = startProgram(BIN, ['start', HANDLER_APP, '-i', '1', '--name', 'late-sigint'],
      { cwd: dir, env: { ...env, PORT: String(await freePort()), SAY_HANDLER: '1' } });
    await corral.waitForErr(/ready: 1 worker/, 1, 30_000);
    const stop = runCommand(BIN, ['stop', 'late-sigint'], { cwd: dir, env });
    const [line] = await corral.waitFor(/^handler running \d+$/, 1, 30_000);
    // The handler runs (300 ms of closing its pool to go): the SIGINT of the same Ctrl-C arrives.
    process.kill(Number(line!.split(' ')[2]), 'SIGINT');
    const stopped = await stop;
    assert.equal(stopped.status, 0, stopped.stdout + stopped.stderr);
    assert.match(stopped.stdout, /stopped cleanly/);
    assert.deepEqual(marksIn(marks).map((mark) => mark.split(' ')[1]), ['SIGTERM'], 'the handler finished');
  });

  test('an app that re-raises its signal once done dies of it, and the stop is still clean', { timeout: 60_000 }, async () => {
    const { env, marks } = isolated();
    const corral = startProgram(BIN, ['start', HANDLER_APP, '-i', '2', '--name', 'reraise'],
      { cwd: dir, env: { ...env, PORT: String(await freePort()), REraise: '1' } });
    await corral.waitForErr(/ready: 2 workers/, 1, 30_000);
    const stop = await runCommand(BIN, ['stop', 'reraise'], { cwd: dir, env });
    assert.equal(stop.status, 0, stop.stdout + stop.stderr);
    assert.match(stop.stdout, /stopped cleanly/);
    assert.equal(marksIn(marks).length, 2);
  });

  for (const bound of [false, true]) test(`the app's server.close(callback)${bound ? ', taken at startup (promisify(server.close.bind(server))),' : ''} in its handler calls back with no error, as when the signal comes first (no ERR_SERVER_NOT_RUNNING for the server corral closed)`, { timeout: 60_000 }, async () => {
    const { env, marks } = isolated();
    const port = await freePort();
    const name = bound ? 'strict-bound' : 'strict';
    const corral = startProgram(BIN, ['start', HANDLER_APP, '-i', '2', '--name', name],
      { cwd: dir, env: { ...env, PORT: String(port), CLOSE_STRICT: '1', ...(bound ? { BOUND_CLOSE: '1' } : {}) }, detached: true });
    await corral.waitForErr(/ready: 2 workers/, 1, 30_000);
    const reload = await runCommand(BIN, ['reload', name], { cwd: dir, env });
    assert.equal(reload.status, 0, reload.stdout + reload.stderr);
    // A SIGTERM to the process group reaches corral's runtime first: it closes the servers, then the app's handler runs.
    process.kill(-corral.child.pid!, 'SIGTERM');
    assert.equal((await exitOf(corral, 30_000)).code, 0, corral.stderr());
    const lines = marksIn(marks);
    assert.equal(lines.length, 4, lines.join('\n'));
    for (const line of lines) assert.match(line, / SIGTERM slot \d$/);
  });

  test("an app that exits with 128 + its signal's number once done (Next.js's exit(143) on SIGTERM) died of it: the stop is clean", { timeout: 60_000 }, async () => {
    const { env, marks } = isolated();
    const corral = startProgram(BIN, ['start', HANDLER_APP, '-i', '2', '--name', 'exit143'],
      { cwd: dir, env: { ...env, PORT: String(await freePort()), EXIT_CODE: '143' } });
    await corral.waitForErr(/ready: 2 workers/, 1, 30_000);
    const stop = await runCommand(BIN, ['stop', 'exit143'], { cwd: dir, env });
    assert.equal(stop.status, 0, stop.stdout + stop.stderr);
    assert.match(stop.stdout, /stopped cleanly/);
    assert.equal((await exitOf(corral, 30_000)).code, 0, corral.stderr());
    assert.equal(marksIn(marks).length, 2);
  });

  test('an exit code of 128 + a signal that is not the stop signal (SIGKILL: 137) is not a clean stop', { timeout: 60_000 }, async () => {
    const { env } = isolated();
    const corral = startProgram(BIN, ['start', HANDLER_APP, '-i', '1', '--name', 'exit137'],
      { cwd: dir, env: { ...env, PORT: String(await freePort()), EXIT_CODE: '137' } });
    await corral.waitForErr(/ready: 1 worker/, 1, 30_000);
    const stop = await runCommand(BIN, ['stop', 'exit137'], { cwd: dir, env });
    assert.doesNotMatch(stop.stdout, /stopped cleanly/);
    assert.equal((await exitOf(corral, 30_000)).code, 1, corral.stderr());
  });

  test("a PM2-style queue consumer gets --kill-signal SIGINT and finishes the job it is on", { timeout: 60_000 }, async () => {
    const { env, marks } = isolated();
    // No port: a job every 400 ms until SIGINT; the job under way then finishes, and it exits.
    const consumer = path.join(dir, 'consumer.cjs');
    writeFileSync(consumer, `'use strict';
const fs = require('node:fs');
let stopping = false;
let job = 0;
const work = () => {
  job += 1;
  fs.appendFileSync(process.env.MARKS, 'start ' + process.pid + ' ' + job + '\\n');
  setTimeout(() => {
    fs.appendFileSync(process.env.MARKS, 'done ' + process.pid + ' ' + job + '\\n');
    if (stopping) process.exit(0);
    else work();
  }, 400);
};
work();
process.on('SIGINT', () => { stopping = true; });
`);
    const corral = startProgram(BIN, ['start', consumer, '-i', '2', '--name', 'consumer', '--ready', 'online', '--kill-signal', 'SIGINT'],
      { cwd: dir, env });
    await corral.waitForErr(/ready: 2 workers/, 1, 30_000);
    const stop = await runCommand(BIN, ['stop', 'consumer'], { cwd: dir, env });
    assert.equal(stop.status, 0, stop.stdout + stop.stderr);
    assert.match(stop.stdout, /stopped cleanly/);
    const lines = marksIn(marks);
    const started = lines.filter((line) => line.startsWith('start ')).map((line) => line.slice(6));
    const done = new Set(lines.filter((line) => line.startsWith('done ')).map((line) => line.slice(5)));
    assert.deepEqual(started.filter((job) => !done.has(job)), [], `every job started was finished:\n${lines.join('\n')}`);
  });

  test('--kill-signal none drains and exits as before, without the signal; a listener that never exits (OpenTelemetry\'s agent, with a timer running) does not hold the stop until the deadline', { timeout: 60_000 }, async () => {
    const { env, marks } = isolated();
    const none = startProgram(BIN, ['start', HANDLER_APP, '-i', '1', '--name', 'none', '--kill-signal', 'none'],
      { cwd: dir, env: { ...env, PORT: String(await freePort()) } });
    await none.waitForErr(/ready: 1 worker/, 1, 30_000);
    const stopNone = await runCommand(BIN, ['stop', 'none'], { cwd: dir, env });
    assert.match(stopNone.stdout, /stopped cleanly/);
    assert.deepEqual(marksIn(marks), [], 'the handler was not called');

    // Its listener only logs (as a library's that flushes and returns), and a timer (a database
    // pool) keeps it alive: corral ends it once its servers have closed and a grace has passed.
    const stubborn = path.join(dir, 'stubborn.cjs');
    writeFileSync(stubborn, `'use strict';
require('node:http').createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
setInterval(() => {}, 1000);
process.on('SIGTERM', () => console.log('SIGTERM: flushed'));
`);
    const corral = startProgram(BIN, ['start', stubborn, '-i', '2', '--name', 'stubborn', '--shutdown-timeout', '60000'],
      { cwd: dir, env: { ...env, PORT: String(await freePort()) } });
    await corral.waitForErr(/ready: 2 workers/, 1, 30_000);
    const reload = await runCommand(BIN, ['reload', 'stubborn'], { cwd: dir, env });
    assert.equal(reload.status, 0, reload.stdout + reload.stderr);
    assert.doesNotMatch(reload.stdout + reload.stderr, /SIGKILL/);
    const stop = await runCommand(BIN, ['stop', 'stubborn'], { cwd: dir, env });
    assert.equal(stop.status, 0, stop.stdout + stop.stderr);
    assert.match(stop.stdout, /stopped cleanly/);
    assert.equal(corral.lines.filter((line) => line === 'SIGTERM: flushed').length, 4, corral.lines.join('\n'));
  });

  test('a request in flight when the signal is due is answered first, even by a handler that exits at once', { timeout: 60_000 }, async () => {
    const { env } = isolated();
    const hasty = path.join(dir, 'hasty.cjs');
    writeFileSync(hasty, `'use strict';
require('node:http').createServer((req, res) => {
  if (req.url === '/slow') { console.log('slow request'); setTimeout(() => res.end('slow done'), 1500); }
  else res.end('ok');
}).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`);
    const port = await freePort();
    const corral = startProgram(BIN, ['start', hasty, '-i', '1', '--name', 'hasty'], { cwd: dir, env: { ...env, PORT: String(port) } });
    await corral.waitForErr(/ready: 1 worker/, 1, 30_000);
    const slow = getFresh(port, '/slow').then((answer) => answer.body);
    slow.catch(() => {}); // Awaited below.
    await corral.waitFor(/slow request/, 1, 30_000);
    const reload = await runCommand(BIN, ['reload', 'hasty'], { cwd: dir, env });
    assert.equal(reload.status, 0, reload.stdout + reload.stderr);
    assert.equal(await slow, 'slow done');
  });

  test("what the app started is ended when it dies of its re-raised signal; its handler may still send messages; an outside signal during the drain is not given twice", { timeout: 60_000 }, async () => {
    const { env, marks } = isolated();
    const app = path.join(dir, 'spawner.cjs');
    writeFileSync(app, `'use strict';
const fs = require('node:fs');
const child = require('node:child_process').spawn('sleep', ['3737'], { stdio: 'ignore' });
fs.appendFileSync(process.env.MARKS, 'child ' + child.pid + '\\nworker ' + process.pid + '\\n');
const server = require('node:http').createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
require(${JSON.stringify(WORKER_API)}).onShutdown(() => new Promise((resolve) => setTimeout(resolve, 600)));
process.on('SIGTERM', function handler() {
  fs.appendFileSync(process.env.MARKS, 'handler ' + process.pid + '\\n');
  server.close(() => {
    process.send({ bye: process.pid });
    process.removeListener('SIGTERM', handler);
    process.kill(process.pid, 'SIGTERM');
  });
});
`);
    const corral = startProgram(BIN, ['start', app, '-i', '1', '--name', 'spawner'],
      { cwd: dir, env: { ...env, PORT: String(await freePort()) } });
    await corral.waitForErr(/ready: 1 worker/, 1, 30_000);
    const child = Number(marksIn(marks).find((line) => line.startsWith('child '))?.split(' ')[1]);
    const worker = Number(marksIn(marks).find((line) => line.startsWith('worker '))?.split(' ')[1]);
    const stopping = runCommand(BIN, ['stop', 'spawner'], { cwd: dir, env });
    // While its onShutdown hook runs (600 ms), a SIGTERM from outside: the app's handler has it then.
    await corral.waitForErr(/corral stop: shutting down gracefully/, 1, 30_000);
    assert.ok(Number.isSafeInteger(worker) && worker > 0, marksIn(marks).join('; '));
    process.kill(worker, 'SIGTERM');
    const stop = await stopping;
    assert.equal(stop.status, 0, stop.stdout + stop.stderr);
    assert.match(stop.stdout, /stopped cleanly/);
    assert.equal(marksIn(marks).filter((line) => line.startsWith('handler ')).length, 1, marksIn(marks).join('; '));
    assert.ok(!existsSync(`/proc/${child}`) || /^State:\s+Z/m.test(readFileSync(`/proc/${child}/status`, 'utf8')), `the app's child ${child} outlived it`);
  });

  test('--kill-signal takes SIGINT, INT or sigint; SIGKILL and unknown names are refused naming the flag', async () => {
    const { env } = isolated();
    const killed = await runCommand(BIN, ['start', HANDLER_APP, '--kill-signal', 'SIGKILL'], { cwd: dir, env });
    assert.equal(killed.status, 2);
    assert.match(killed.stderr, /--kill-signal/);
    assert.match(killed.stderr, /cannot handle SIGKILL/);
    const unknown = await runCommand(BIN, ['start', HANDLER_APP, '--kill-signal', 'TERMINATE'], { cwd: dir, env });
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /--kill-signal.*SIGTERM, SIGINT/);
  });
});
