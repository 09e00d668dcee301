// The primary's signals as operators send them by habit, and as anyone on the machine could:
// SIGUSR1 never opens Node's inspector (through which any local user could run code in the
// primary) and reopens the log file; SIGUSR2 never ends the app; a stop that overtakes a reload
// or a scaling drains cleanly, exits 0 and says what it cancelled, and the command that asked for
// the reload or the scaling exits 1 saying why; a replacement still starting when the stop came
// does not make the stop unclean, however it ends.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { freePort, getFresh } from './helpers/net-client.js';
import { exitOf, killPrograms, runCommand, startProgram, type Program } from './helpers/program.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const APP = fileURLToPath(new URL('../../test/fixtures/production/app.cjs', import.meta.url));
const AGENT = fileURLToPath(new URL('../../test/fixtures/production/agent-preload.cjs', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-signals-'));
const env = { CORRAL_RUN_DIR: path.join(dir, 'run'), CORRAL_LOG_DIR: path.join(dir, 'logs'), NODE_OPTIONS: '' };
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => killPrograms());

let names = 0;

/** `corral start` of the production fixture in the foreground, once it is ready. */
async function startApp(workers: number, appEnv: Record<string, string>, args: string[] = []): Promise<{ app: Program; name: string; port: number }> {
  const port = await freePort();
  const name = `signals-${process.pid}-${names += 1}`;
  const app = startProgram(BIN, ['start', APP, '-i', String(workers), '--name', name, ...args], {
    env: { ...env, PORT: String(port), ANNOUNCE: '1', ...appEnv },
  });
  await app.waitForErr(/ready: \d+ workers? in/, 1, 30_000);
  return { app, name, port };
}

/** Whether anything accepts connections at 127.0.0.1:`port`. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('SIGUSR1 and SIGUSR2', () => {
  test('SIGUSR1 opens no inspector in the primary: it reopens the log file, and the app serves on', { timeout: 60_000 }, async () => {
    const { app, port, name } = await startApp(2, {}, ['--log-file']);
    const logFile = path.join(env.CORRAL_LOG_DIR, `${name}.log`);
    const inspectorWasOpen = await accepts(9229);
    // As logrotate does: the file is moved away, then the primary is told to reopen.
    renameSync(logFile, `${logFile}.rotated`);
    process.kill(app.child.pid!, 'SIGUSR1');
    await app.waitForErr(/SIGUSR1: reopening the log file /);
    // Node's default would have said "Debugger listening on ws://127.0.0.1:9229/…" and listened.
    assert.doesNotMatch(app.stderr(), /Debugger listening/);
    if (!inspectorWasOpen) assert.equal(await accepts(9229), false, 'nothing listens on the inspector port');
    process.kill(app.child.pid!, 'SIGUSR1');
    await app.waitForErr(/SIGUSR1: /, 2);
    assert.equal(app.child.exitCode, null, 'the primary runs on');
    assert.equal((await getFresh(port)).status, 200);
    process.kill(app.child.pid!, 'SIGTERM');
    assert.deepEqual(await exitOf(app), { code: 0, signal: null });
    assert.doesNotMatch(app.stderr(), /Debugger listening/);
    // The moved file kept the lines before the signal; the new one at the same path, the rest.
    const moved = readFileSync(`${logFile}.rotated`, 'utf8');
    const fresh = readFileSync(logFile, 'utf8');
    assert.match(moved, /ready: 2 workers/);
    assert.doesNotMatch(moved, /stopped cleanly/);
    assert.match(fresh, /stopped cleanly/);
    assert.doesNotMatch(fresh, /ready: 2 workers/);
    assert.equal(statSync(logFile).mode & 0o777, 0o600);
  });

  test('SIGUSR2 does not end the app: requests in flight are answered and the stop is still clean', { timeout: 60_000 }, async () => {
    const { app, port } = await startApp(2, { REPLY_DELAY: '1500', LOG_REQUESTS: '1' });
    const answers = Array.from({ length: 4 }, () => getFresh(port));
    await app.waitForErr(/request received by/, 4);
    process.kill(app.child.pid!, 'SIGUSR2');
    await app.waitForErr(/SIGUSR2: upgrading corral's primary in place is not supported yet/);
    const replies = await Promise.all(answers);
    assert.deepEqual(replies.map((reply) => reply.status), [200, 200, 200, 200]);
    assert.equal(app.child.exitCode, null, 'the primary runs on');
    assert.equal((await getFresh(port)).status, 200, 'new connections are served');
    process.kill(app.child.pid!, 'SIGTERM');
    assert.deepEqual(await exitOf(app), { code: 0, signal: null });
  });
});

describe('a stop that overtakes an operation', () => {
  test('SIGTERM during a reload: the primary exits 0 saying it cancelled the reload; corral reload exits 1 saying why', { timeout: 60_000 }, async () => {
    const { app, name } = await startApp(2, { START_DELAY: '3000' });
    const reload = runCommand(BIN, ['reload', name], { env });
    // The reload's first new worker is loading (its listen is 3 s away): the stop comes now.
    await app.waitForErr(/rolling reload to generation 2/);
    await app.waitForErr(/worker starting/, 3);
    process.kill(app.child.pid!, 'SIGTERM');
    const [command, primary] = await Promise.all([reload, exitOf(app, 30_000)]);
    assert.deepEqual(primary, { code: 0, signal: null });
    assert.match(app.stderr(), /stopped cleanly; cancelled what the stop overtook: reload/);
    assert.doesNotMatch(app.stderr(), /createCluster\(\)|ERROR/);
    assert.equal(command.status, 1);
    assert.match(command.stderr, /The reload was cancelled: the app began to stop before it finished/);
  });

  test('SIGTERM during a scaling: the primary exits 0 saying it cancelled the scaling; corral scale exits 1, not as bad usage', { timeout: 60_000 }, async () => {
    const { app, name } = await startApp(1, { START_DELAY: '3000' });
    const scale = runCommand(BIN, ['scale', name, '3'], { env });
    // Both new workers are loading.
    await app.waitForErr(/worker starting/, 3);
    process.kill(app.child.pid!, 'SIGTERM');
    const [command, primary] = await Promise.all([scale, exitOf(app, 30_000)]);
    assert.deepEqual(primary, { code: 0, signal: null });
    assert.match(app.stderr(), /stopped cleanly; cancelled what the stop overtook: scale to 3 workers/);
    assert.doesNotMatch(app.stderr(), /scaled to 3/);
    assert.equal(command.status, 1);
    assert.match(command.stderr, /The scale was cancelled: the app began to stop before it finished/);
  });

  test('corral stop while a reload\'s replacement still loads a preload that handles SIGTERM (exit 143) before corral\'s runtime is in it: ' +
    'the stop is clean, exit 0, and its text and JSON agree', { timeout: 60_000 }, async () => {
    // An agent preloaded by NODE_OPTIONS (agent-preload.cjs) holds each new worker while the gate
    // file is missing. --kill-signal none: the serving worker drains without the signal, whose
    // handler here (the agent's) would end it with its own code; this is about the replacement.
    const gate = path.join(dir, 'agent-gate');
    writeFileSync(gate, '');
    const { app, name } = await startApp(1, {}, ['--env', `NODE_OPTIONS=--require ${AGENT}`, '--env', `AGENT_GATE=${gate}`, '--kill-signal', 'none']);
    rmSync(gate);
    const reload = runCommand(BIN, ['reload', name], { env });
    const [loading] = await app.waitForErr(/^agent loading \d+$/);
    const replacement = Number(loading!.split(' ')[2]);
    const stop = runCommand(BIN, ['stop', name, '--json'], { env });
    // The stop's SIGTERM went to the replacement along with this line (its runtime could not be
    // asked yet); it waits in the worker until the agent has loaded, and the agent's handler ends it.
    await app.waitForErr(/corral stop: shutting down gracefully/);
    writeFileSync(gate, '');
    const [stopped, reloaded, primary] = await Promise.all([stop, reload, exitOf(app, 30_000)]);
    const result = JSON.parse(stopped.stdout) as {
      clean: boolean; killed: unknown[]; failed: unknown[]; cancelled: string[];
      exits: { pid: number; code: number | null; signal: string | null; killed: boolean; starting: boolean }[];
    };
    const ended = result.exits.find((exit) => exit.pid === replacement);
    assert.deepEqual(ended && { code: ended.code, killed: ended.killed, starting: ended.starting }, { code: 143, killed: false, starting: true },
      `the replacement was ended by the agent's handler while still starting: ${stopped.stdout}`);
    assert.deepEqual({ clean: result.clean, killed: result.killed, failed: result.failed, cancelled: result.cancelled },
      { clean: true, killed: [], failed: [], cancelled: ['reload'] });
    assert.equal(stopped.status, 0, stopped.stderr);
    assert.deepEqual(primary, { code: 0, signal: null });
    assert.match(app.stderr(), /stopped cleanly; cancelled what the stop overtook: reload/);
    assert.doesNotMatch(app.stderr(), /SIGKILLed|non-zero/);
    assert.equal(reloaded.status, 1);
    assert.match(reloaded.stderr, /The reload was cancelled: the app began to stop before it finished/);
  });
});
