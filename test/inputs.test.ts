// Bad input to the command line, each refused before anything forks with exit 2 and a message that
// names it as the user wrote it (the flag, the config key, the file) and the fix: env files that
// are not UTF-8 text, a config file whose exported Promise rejects, negative values after a flag,
// a scale below one worker, an admin port that cannot be opened. And the sockets that killed
// primaries leave behind: never taken for running apps, removed once provably dead.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { startOptions } from './helpers/internals.js';
import { freePort } from './helpers/net-client.js';
import { exitOf, killPrograms, runCommand, startProgram } from './helpers/program.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-inputs-'));
const RUN_DIR = path.join(dir, 'run');
const env = { CORRAL_RUN_DIR: RUN_DIR, CORRAL_LOG_DIR: path.join(dir, 'logs'), NODE_OPTIONS: '' };
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await killPrograms();
  // Detached apps a test left running, failed or not.
  await runCommand(BIN, ['stop', 'all'], { cwd: dir, env });
});

/** Serves the variable named by $SHOW; appends a line to $STARTED (when set) as it starts. */
const APP = path.join(dir, 'app.cjs');
writeFileSync(APP, `'use strict';
if (process.env.STARTED) require('node:fs').appendFileSync(process.env.STARTED, 'started\\n');
require('node:http').createServer((req, res) => res.end(String(process.env[process.env.SHOW ?? 'SHOW'])))
  .listen(Number(process.env.PORT), '127.0.0.1');
`);

function write(name: string, content: string | Buffer): string {
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return file;
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Runs `corral start` that must be refused: exit 2, its message, no stack trace, no start line, no worker. */
async function refusedStart(args: string[], extraEnv: Record<string, string> = {}): Promise<string> {
  const started = path.join(dir, `started-${Math.random().toString(36).slice(2)}`);
  const result = await runCommand(BIN, ['start', ...args], { cwd: dir, env: { ...env, PORT: String(await freePort()), STARTED: started, ...extraEnv } });
  assert.equal(result.status, 2, result.stderr);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  assert.doesNotMatch(result.stderr, /starting \d+ workers?/, 'no start line');
  assert.equal(existsSync(started), false, 'no worker started');
  return result.stderr;
}

describe('env files', () => {
  test('UTF-16 (with or without a byte order mark) or a NUL byte: exit 2 naming --env-file or envFile, the file and the fix', { timeout: 30_000 }, async () => {
    const text = 'A=1\nB=2\n';
    const cases: [string, RegExp][] = [
      [write('bom16.env', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')])),
        /is UTF-16 text \(it starts with a UTF-16 byte order mark\), and env files are read as UTF-8\. Save it as UTF-8 \(iconv -f UTF-16 -t UTF-8/],
      [write('bare16.env', Buffer.from(text, 'utf16le')), /looks like UTF-16 text \(a NUL byte beside each character\).*Save it as UTF-8/],
      [write('nul.env', Buffer.from('A=1\nB=x\0y\n')), /holds a NUL byte \(line 2\), which no environment variable can hold.*Remove the NUL bytes/],
    ];
    for (const [file, why] of cases) {
      const stderr = await refusedStart([APP, '--env-file', file]);
      assert.match(stderr, new RegExp(`^corral: --env-file: ${escape(file)} `));
      assert.match(stderr, why);
    }
    write('envfile.config.mjs', "export default { exec: './app.cjs', envFile: './nul.env' };\n");
    assert.match(await refusedStart(['envfile.config.mjs']), /^corral: envfile\.config\.mjs: envFile: .*nul\.env holds a NUL byte \(line 2\)/);
    // The same for a config's env: a NUL never reaches a fork.
    write('nul-env.config.mjs', "export default { exec: './app.cjs', env: { TOKEN: 'ab\\u0000cd' } };\n");
    assert.match(await refusedStart(['nul-env.config.mjs']),
      /^corral: nul-env\.config\.mjs: env\.TOKEN must be free of NUL characters, which no environment variable can hold, got 'ab\\0cd' \(string\)\. Remove them/);
  });

  test('a UTF-8 byte order mark (as Notepad writes) is not part of the first name', { timeout: 30_000 }, async () => {
    const file = write('bom8.env', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('GREETING=hello\n')]));
    const port = await freePort();
    const app = startProgram(BIN, ['start', APP, '-i', '1', '--name', 'bom8', '--env-file', file], { cwd: dir, env: { ...env, PORT: String(port), SHOW: 'GREETING' } });
    await app.waitForErr(/ready: 1 worker/);
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'hello');
    app.child.kill('SIGTERM');
    assert.equal((await exitOf(app)).code, 0);
  });
});

describe('a config file that exports a Promise', () => {
  test('is awaited: the app starts with what it resolves to', { timeout: 30_000 }, async () => {
    write('promised.config.mjs', "export default new Promise((resolve) => setTimeout(() => resolve({ name: 'promised', exec: './app.cjs', workers: 1 }), 50));\n");
    const app = startProgram(BIN, ['start', 'promised.config.mjs'], { cwd: dir, env: { ...env, PORT: String(await freePort()) } });
    await app.waitForErr(/corral\[promised\] ready: 1 worker/);
    app.child.kill('SIGTERM');
    assert.equal((await exitOf(app)).code, 0);
  });

  test('that rejects: exit 2 naming the file and the reason, with the fix (ESM and CommonJS)', { timeout: 30_000 }, async () => {
    write('rejected.config.mjs', "export default Promise.reject(new Error('the vault is sealed'));\n");
    assert.match(await refusedStart(['rejected.config.mjs']),
      /^corral: rejected\.config\.mjs exports a Promise, which rejected: the vault is sealed\. Make it resolve to the options \(export default \{ exec: '\.\/server\.js' \}\), or export them directly\.\n$/);
    write('rejected.config.cjs', "module.exports = (async () => { throw new Error('no secrets'); })();\n");
    assert.match(await refusedStart(['rejected.config.cjs']), /^corral: rejected\.config\.cjs exports a Promise, which rejected: no secrets\. Make it resolve/);
  });
});

describe('negative values', () => {
  test('after a flag that takes a value, a negative number is its value, refused by its own check (not "ambiguous")', { timeout: 30_000 }, async () => {
    const cases: [string[], RegExp][] = [
      [['--shutdown-timeout', '-1'], /^corral: --shutdown-timeout must be a finite number ≥ 0, got `-1` \(number\)\.\n$/],
      [['--max-memory', '-200M'], /^corral: --max-memory must be a size such as 200M.*got '-200M' \(string\)\.\n$/],
      [['--start-timeout', '-0.5'], /^corral: --start-timeout must be a finite number ≥ 0, got `-0\.5` \(number\)\.\n$/],
    ];
    for (const [flags, message] of cases) assert.match(await refusedStart([APP, ...flags]), message);
    const logs = await runCommand(BIN, ['logs', 'app', '-n', '-5'], { cwd: dir, env });
    assert.equal(logs.status, 2);
    assert.match(logs.stderr, /^corral logs: --lines takes a whole number ≥ 0, got '-5'\. For example -n 100\.\n$/);
  });

  test('-i -1 and --node-args with dashes still read as values; after -- they are the app\'s', async () => {
    const request = await startOptions.parseStart([APP, '-i', '-1', '--shutdown-timeout', '-1', '--node-args', '--max-old-space-size=64', '--', '-5'], dir);
    const options = request.options as unknown as Record<string, unknown>;
    assert.equal(options['workers'], -1);
    assert.equal(options['shutdownTimeout'], -1, 'read as the value, for createCluster() to refuse');
    assert.deepEqual(options['execArgv'], ['--max-old-space-size=64']);
    assert.deepEqual(options['args'], ['-5']);
  });
});

describe('corral scale', () => {
  test('below one worker, or above the most: exit 2 saying why, and what to ask for instead', { timeout: 30_000 }, async () => {
    const app = startProgram(BIN, ['start', APP, '-i', '2', '--name', 'scaled'], { cwd: dir, env: { ...env, PORT: String(await freePort()) } });
    await app.waitForErr(/ready: 2 workers/);
    const cases: [string, RegExp][] = [
      ['-5', /got '-5' \(string\)\. -5 from 2 workers would leave -3: a running cluster keeps at least 1 worker\. Scale down by -1 at most \(to 1 worker\); to run none, stop the app \(`corral stop`, or close\(\)\)\.\n$/],
      ['0', /got '0' \(string\)\. 0 workers: a running cluster keeps at least 1 worker\. Scale down by -1 at most/],
      ['+2000', /\+2000 from 2 workers would make 2002: a cluster runs 1024 workers at most\. Ask for 1024 at most \(\+1022\)\.\n$/],
    ];
    for (const [count, message] of cases) {
      const result = await runCommand(BIN, ['scale', 'scaled', count], { cwd: dir, env });
      assert.equal(result.status, 2, result.stderr);
      assert.match(result.stderr, /^corral: the count must be a worker count from 1 to 1024, or \+N \/ -N \(now 2\)/);
      assert.match(result.stderr, message);
    }
    const status = JSON.parse((await runCommand(BIN, ['status', 'scaled', '--json'], { cwd: dir, env })).stdout) as { workers: number };
    assert.equal(status.workers, 2);
    app.child.kill('SIGTERM');
    assert.equal((await exitOf(app)).code, 0);
  });
});

describe('an admin port that cannot be opened', () => {
  test('is the error, said first: exit 2 naming --admin or the config key, no start line, nothing forked', { timeout: 30_000 }, async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as net.AddressInfo).port;
      const said = new RegExp(`^\\S+ corral\\[app\\] ERROR --admin: The admin server cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use\\. ` +
        'Choose another admin address \\(--admin <\\[host:\\]port>\\), or 0 for any free port\\.\\n$');
      assert.match(await refusedStart([APP, '-i', '1', '--admin', String(port)]), said);
      write('admin.config.mjs', `export default { exec: './app.cjs', workers: 1, admin: ${port} };\n`);
      assert.match(await refusedStart(['admin.config.mjs']), /ERROR admin\.config\.mjs: admin: The admin server cannot listen on/);
    } finally {
      taken.close();
    }
  });
});

describe('the sockets of killed primaries', () => {
  /** Until `pid` is gone (or a zombie, which holds no socket any more), with a deadline. */
  async function whenGone(pid: number, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      const status = existsSync(`/proc/${pid}/status`) ? readFileSync(`/proc/${pid}/status`, 'utf8') : '';
      if (status === '' || /^State:\s+Z/m.test(status)) return;
      if (Date.now() > deadline) throw new Error(`pid ${pid} still runs after ${ms} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async function startDetached(name: string): Promise<number> {
    const result = await runCommand(BIN, ['start', APP, '-i', '1', '--name', name, '-d'], { cwd: dir, env: { ...env, PORT: String(await freePort()) } });
    assert.equal(result.status, 0, result.stderr);
    return Number(/primary pid (\d+)/.exec(result.stdout)?.[1]);
  }

  test('status <unknown> and list show only live apps; a SIGKILLed primary\'s socket is removed; a live or unanswering one, or a file not a socket, never is', { timeout: 60_000 }, async () => {
    const ghost = await startDetached('ghost');
    await startDetached('alive');
    process.kill(ghost, 'SIGKILL');
    await whenGone(ghost);
    const ghostSocket = path.join(RUN_DIR, 'ghost.sock');
    const aliveSocket = path.join(RUN_DIR, 'alive.sock');
    assert.ok(statSync(ghostSocket).isSocket(), 'the killed primary left its socket');
    // A socket that accepts and never answers (a primary too busy to): not provably dead.
    const hungSocket = path.join(RUN_DIR, 'hung.sock');
    const hung = net.createServer(() => {});
    await new Promise<void>((resolve) => hung.listen(hungSocket, resolve));
    const notSocket = write('run/plain.sock', 'not a socket\n');
    try {
      const status = await runCommand(BIN, ['status', 'nope'], { cwd: dir, env });
      assert.equal(status.status, 3, status.stderr);
      assert.match(status.stderr, /^corral: no app named 'nope' is running for this user\. Running: (alive, hung|hung, alive)\. Start one with 'corral start <script>'\.\n$/);
      assert.equal(existsSync(ghostSocket), false, 'the dead primary\'s socket is removed');
      const list = await runCommand(BIN, ['list', '--json'], { cwd: dir, env });
      assert.equal(list.status, 0, list.stderr);
      const apps = (JSON.parse(list.stdout) as { apps: { name: string; state: string }[] }).apps;
      assert.deepEqual(apps.map((app) => [app.name, app.state]), [['alive', 'running'], ['hung', 'not answering']]);
      assert.ok(statSync(aliveSocket).isSocket(), 'a live app\'s socket stays');
      assert.ok(statSync(hungSocket).isSocket(), 'a socket that did not answer in time stays');
      assert.equal(readFileSync(notSocket, 'utf8'), 'not a socket\n', 'a file that is not a socket stays');
    } finally {
      hung.close();
    }
    // A killed primary named on the command line: said as such, and its socket removed.
    const named = await startDetached('named');
    process.kill(named, 'SIGKILL');
    await whenGone(named);
    const result = await runCommand(BIN, ['status', 'named'], { cwd: dir, env });
    assert.equal(result.status, 3);
    assert.match(result.stderr, /^corral: nothing answers on .*named\.sock: the app is not running, its primary was killed\. Its stale control socket was removed\. Running: alive\./);
    assert.equal(existsSync(path.join(RUN_DIR, 'named.sock')), false);
  });
});
