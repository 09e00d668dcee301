// What must not take an app down or lose its data, each with real processes: the loss of
// corral's own output, slow readers and endless lines on --log-prefix, crash storms, signals at
// odd times, untrusted run directories, a drain's last output, abusive control clients, broken
// config files, huge IPC messages, orphans and grandchildren.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { createCluster } from 'corral';
import { crashStorm, guardOf, writeStormPrograms } from '../bench/crash-storm.js';
import { report, track, WORKER_FIXTURE } from './helpers/harness.js';
import { freePort } from './helpers/net-client.js';
import { exitOf, killPrograms, runCommand, startProgram, type Program } from './helpers/program.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const WORKER_API = fileURLToPath(new URL('../../dist/worker/index.cjs', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-reliability-'));
const RUN_DIR = path.join(dir, 'run');
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => killPrograms());

/** An HTTP app: GET / answers `<pid> <slot>`; `body` adds routes (`routes[path] = (req, res) => …`) and misbehaviour. */
function writeApp(name: string, body = ''): string {
  const file = path.join(dir, name);
  writeFileSync(file, `'use strict';
const http = require('node:http');
const { onShutdown, slot } = require(${JSON.stringify(WORKER_API)});
const routes = {};
${body}
http.createServer((req, res) => {
  const route = routes[req.url];
  if (route) return route(req, res);
  res.end(process.pid + ' ' + slot + '\\n');
}).listen(Number(process.env.PORT));
`);
  return file;
}

function startCorral(args: string[], env: Record<string, string> = {}, detached = false): Program {
  return startProgram(BIN, ['start', ...args], { cwd: dir, env: { NODE_OPTIONS: '', CORRAL_RUN_DIR: RUN_DIR, ...env }, detached });
}

const corralCommand = (...args: string[]) => runCommand(BIN, args, { cwd: dir, env: { CORRAL_RUN_DIR: RUN_DIR } });

/** The resident memory of a process, in MiB (Linux /proc). */
function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(match !== null, `no VmRSS for pid ${pid}`);
  return Number(match[1]) / 1024;
}

async function get(port: number, url = '/'): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${url}`);
  return { status: response.status, body: await response.text() };
}

describe("corral's own output", () => {
  for (const prefix of [false, true]) {
    test(`stdout and stderr closing under a running app${prefix ? ' (--log-prefix slot)' : ''}: the primary and its workers keep serving`, { timeout: 30_000 }, async () => {
      const app = writeApp(`epipe-${prefix}.cjs`, "routes['/log'] = (req, res) => { console.log('request'); console.error('to stderr'); res.end('logged\\n'); };");
      const port = await freePort();
      const name = `epipe-${prefix}`;
      const corral = startCorral([app, '-i', '2', '--name', name, ...(prefix ? ['--log-prefix', 'slot'] : [])], { PORT: String(port) });
      await corral.waitForErr(/ready: 2 workers/);
      // The reader goes away, as journald restarting or `| head` exiting does.
      corral.child.stdout!.destroy();
      corral.child.stderr!.destroy();
      for (let index = 0; index < 20; index += 1) assert.equal((await get(port, '/log')).body, 'logged\n');
      // corral logs the reload, and the workers' output goes on: all of it into closed pipes.
      const reload = await corralCommand('reload', name);
      assert.equal(reload.status, 0, reload.stderr);
      for (let index = 0; index < 20; index += 1) assert.equal((await get(port, '/log')).body, 'logged\n');
      const status = await corralCommand('status', name, '--json');
      assert.equal(status.status, 0, status.stderr);
      assert.equal((JSON.parse(status.stdout) as { generation: number }).generation, 2);
      const stop = await corralCommand('stop', name);
      assert.equal(stop.status, 0, stop.stderr);
      assert.equal((await exitOf(corral)).code, 0);
    });
  }

  test('stdout closing: what went there goes to stderr, and corral says so once', { timeout: 30_000 }, async () => {
    const app = writeApp('stdout-gone.cjs', "routes['/log'] = (req, res) => { console.log('line from', slot); res.end('logged\\n'); };");
    const port = await freePort();
    const corral = startCorral([app, '-i', '1', '--name', 'stdout-gone', '--log-prefix', 'slot'], { PORT: String(port) });
    await corral.waitForErr(/ready: 1 worker/);
    corral.child.stdout!.destroy();
    await get(port, '/log');
    await corral.waitForErr(/WARN stdout closed \(EPIPE\); from now on what went to stdout goes to stderr/);
    await get(port, '/log');
    await corral.waitForErr(/^\[0\] line from 0$/);
    corral.child.kill('SIGTERM');
    assert.equal((await exitOf(corral)).code, 0);
    assert.equal(corral.stderr().match(/stdout closed/g)?.length, 1);
  });
});

describe('--log-prefix', () => {
  test('a reader that stops: worker output is paused, the primary stays small, and every byte arrives afterwards', { timeout: 60_000 }, async () => {
    // 256 MiB in 1 MiB lines, written as fast as the worker can (ignoring backpressure).
    const app = writeApp('flood.cjs', `
routes['/flood'] = (req, res) => {
  const line = Buffer.alloc(1024 * 1024 - 1, 'x').toString() + '\\n';
  for (let index = 0; index < 256; index += 1) process.stdout.write(line);
  process.stdout.write('flood done\\n');
  res.end('flooding\\n');
};`);
    const port = await freePort();
    const corral = startCorral([app, '-i', '1', '--name', 'flood', '--log-prefix', 'slot'], { PORT: String(port) });
    await corral.waitForErr(/ready: 1 worker/);
    const primary = corral.child.pid!;
    const before = rssMiB(primary);
    const stdout = corral.child.stdout!;
    stdout.pause();
    await get(port, '/flood');
    await corral.waitForErr(/WARN worker output is written slower than the workers write it: their output is paused/);
    const whilePaused = rssMiB(primary);
    // Resume: everything comes, in order, cut into lines of at most 16 KiB.
    let bytes = 0;
    let peak = whilePaused;
    stdout.removeAllListeners('data');
    const done = new Promise<void>((resolve) => {
      let tail = '';
      stdout.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        tail = (tail + chunk.toString('latin1')).slice(-64);
        if (bytes % (16 * 1024 * 1024) < chunk.length) peak = Math.max(peak, rssMiB(primary));
        if (tail.includes('flood done\n')) resolve();
      });
    });
    stdout.resume();
    await done;
    // 256 MiB of x, cut into 16,384-character lines, each with its "[0] " prefix and newline.
    const lines = 256 * Math.ceil((1024 * 1024 - 1) / 16_384);
    assert.equal(bytes, 256 * (1024 * 1024 - 1) + lines * 5 + '[0] flood done\n'.length);
    assert.ok(whilePaused - before < 64, `primary RSS ${before.toFixed(0)} → ${whilePaused.toFixed(0)} MiB while paused`);
    assert.ok(peak - before < 96, `primary RSS peaked at ${peak.toFixed(0)} MiB (from ${before.toFixed(0)})`);
    corral.child.kill('SIGTERM');
    assert.equal((await exitOf(corral)).code, 0);
  });

  test('64 MiB without a newline: cut into 16 KiB lines in linear time, and the primary keeps answering', { timeout: 60_000 }, async () => {
    const app = writeApp('no-newline.cjs', `
routes['/spew'] = (req, res) => {
  const chunk = Buffer.alloc(64 * 1024, 'y').toString();
  let left = 1024;
  const next = () => {
    while (left > 0) {
      left -= 1;
      if (!process.stdout.write(chunk)) return process.stdout.once('drain', next);
    }
    process.stdout.write('\\nspew done\\n');
  };
  next();
  res.end('spewing\\n');
};`);
    const port = await freePort();
    const corral = startCorral([app, '-i', '1', '--name', 'no-newline', '--log-prefix', 'slot'], { PORT: String(port) });
    await corral.waitForErr(/ready: 1 worker/);
    await get(port, '/spew');
    const status = await corralCommand('status', 'no-newline');
    assert.equal(status.status, 0, status.stderr);
    await corral.waitFor(/^\[0\] spew done$/, 1, 20_000);
    const cut = corral.lines.filter((line) => line.startsWith('[0] y'));
    assert.equal(cut.length, 64 * 1024 * 1024 / 16_384);
    assert.ok(cut.every((line) => line.length === 16_384 + 4), 'every piece is 16,384 characters after its prefix');
    corral.child.kill('SIGTERM');
    assert.equal((await exitOf(corral)).code, 0);
  });
});

describe('a crash storm', () => {
  test('a random worker SIGKILLed every 200 ms under 64 keep-alive connections: no slot backs off, and corral fails no more requests than a bare node:cluster primary that reforks', { timeout: 60_000 }, async () => {
    const { app, nodeCluster: bare } = writeStormPrograms(dir);
    const storm = { interval: 200, duration: 6_000, connections: 64, keepAlive: true };
    const nodePort = await freePort();
    const node = startProgram(bare, [], { env: { PORT: String(nodePort) } });
    await node.waitFor(/^ready$/);
    const nodeResult = await crashStorm({ ...storm, port: nodePort, primaryPid: node.child.pid! });
    node.child.kill('SIGKILL');
    const port = await freePort();
    const corral = startCorral([app, '-i', '4', '--name', 'storm'], { PORT: String(port) });
    await corral.waitForErr(/ready: 4 workers/);
    const result = await crashStorm({ ...storm, port, primaryPid: corral.child.pid! });
    // Serving at once after the storm, with every kill refilled without a backoff.
    assert.equal((await get(port)).status, 200);
    assert.doesNotMatch(corral.stderr(), /crash-looping|restarting in [1-9]/);
    assert.ok(result.kills >= 25 && result.ok > 1_000, JSON.stringify(result));
    // Each kill fails the requests in flight on the killed worker's connections, under either
    // primary (64 connections over the serving workers: 16 with 4, 32 with 2): on 0.5.0 the same
    // storm failed 246,239 requests as every slot went dark. Which worker each kill hits is random,
    // so two runs of the storm differ by up to 2× each way (npm run bench prints the ratio over
    // rounds; CI once saw corral 482 against node:cluster 202 on Node 24, 2.4×, and 1× on the
    // lines before it). What must hold is the bound per kill, and no gross excess over node:cluster.
    const versus = `corral ${JSON.stringify(result)}, node:cluster ${JSON.stringify(nodeResult)}`;
    assert.ok(result.failed <= result.kills * 32, versus);
    assert.ok(result.failed <= 3 * nodeResult.failed + 100, versus);
    corral.child.kill('SIGTERM');
    await exitOf(corral);
  });
});

describe('reloads asked for during a reload', () => {
  /** An app that answers its version, and listens START_DELAY ms after it starts (a slow boot). */
  const versioned = (file: string, version: string, extra = ''): void => writeFileSync(file, `'use strict';
${extra}
const server = require('node:http').createServer((req, res) => res.end(${JSON.stringify(version)}));
setTimeout(() => server.listen(Number(process.env.PORT)), Number(process.env.START_DELAY));
`);

  test('two edits and two SIGHUPs, the second during the first reload: one more reload runs after it, and every worker ends on the newest code', { timeout: 60_000 }, async () => {
    const app = path.join(dir, 'hup-twice.cjs');
    versioned(app, 'v1');
    const port = await freePort();
    const corral = startCorral([app, '-i', '4', '--name', 'hup-twice'], { PORT: String(port), START_DELAY: '300' });
    await corral.waitForErr(/ready: 4 workers/);
    versioned(app, 'v2');
    corral.child.kill('SIGHUP');
    await corral.waitForErr(/rolling reload to generation 2/);
    versioned(app, 'v3');
    corral.child.kill('SIGHUP');
    corral.child.kill('SIGHUP'); // Any number of them make one reload.
    await corral.waitForErr(/reloaded: every worker runs generation 3/, 1, 40_000);
    assert.match(corral.stderr(), /reloaded: every worker runs generation 2/);
    assert.doesNotMatch(corral.stderr(), /generation 4/);
    const answers = await Promise.all(Array.from({ length: 8 }, async () => (await get(port)).body));
    assert.deepEqual(new Set(answers), new Set(['v3']));
    const status = JSON.parse((await corralCommand('status', 'hup-twice', '--json')).stdout) as {
      generation: number; reloading: number | null; slots: { worker: { generation: number } | null }[];
    };
    assert.equal(status.generation, 3);
    assert.equal(status.reloading, null);
    assert.deepEqual(status.slots.map((slot) => slot.worker?.generation), [3, 3, 3, 3]);
    corral.child.kill('SIGTERM');
    assert.equal((await exitOf(corral)).code, 0);
  });

  test('after a failed reload, status says the generation that serves, and the next reload gets a new number', { timeout: 60_000 }, async () => {
    const app = path.join(dir, 'failed-generation.cjs');
    versioned(app, 'v1');
    const port = await freePort();
    const corral = startCorral([app, '-i', '2', '--name', 'failed-generation'], { PORT: String(port), START_DELAY: '0' });
    await corral.waitForErr(/ready: 2 workers/);
    versioned(app, 'v2', "throw new Error('broken');");
    assert.equal((await corralCommand('reload', 'failed-generation')).status, 1);
    const status = JSON.parse((await corralCommand('status', 'failed-generation', '--json')).stdout) as {
      generation: number; slots: { worker: { generation: number } | null }[];
    };
    assert.equal(status.generation, 1);
    assert.deepEqual(status.slots.map((slot) => slot.worker?.generation), [1, 1]);
    versioned(app, 'v3');
    const reload = await corralCommand('reload', 'failed-generation');
    assert.match(reload.stdout, /every worker runs generation 3/);
    corral.child.kill('SIGTERM');
    assert.equal((await exitOf(corral)).code, 0);
  });
});

describe("a drain's last output", () => {
  for (const prefix of [false, true]) {
    test(`an onShutdown hook that writes 4 MiB: all of it arrives${prefix ? ' (--log-prefix slot)' : ''}`, { timeout: 30_000 }, async () => {
      const app = writeApp(`last-words-${prefix}.cjs`, `
onShutdown(() => {
  const line = Buffer.alloc(1023, 'z').toString() + '\\n';
  for (let index = 0; index < 4096; index += 1) process.stdout.write(line);
  process.stdout.write('last line\\n');
});`);
      const port = await freePort();
      const corral = startCorral([app, '-i', '1', '--name', `last-words-${prefix}`, ...(prefix ? ['--log-prefix', 'slot'] : [])], { PORT: String(port) });
      await corral.waitForErr(/ready: 1 worker/);
      corral.child.kill('SIGTERM');
      assert.equal((await exitOf(corral)).code, 0);
      const lines = corral.lines.filter((line) => /^(\[0\] )?z+$/.test(line));
      assert.equal(lines.length, 4096);
      assert.ok(lines.every((line) => line.endsWith('z'.repeat(1023))));
      assert.match(corral.lines.at(-1)!, /^(\[0\] )?last line$/);
    });
  }
});

describe('the control socket under abusive clients', () => {
  const connectControl = (name: string): Promise<net.Socket> => new Promise((resolve, reject) => {
    const socket = net.connect(path.join(RUN_DIR, `${name}.sock`), () => resolve(socket));
    socket.once('error', reject);
  });
  /** Sends a status request and resolves with the first reply line (rejects after `ms`). */
  const firstReply = (socket: net.Socket, ms: number): Promise<string> => new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no reply within ${ms} ms`)), ms);
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
      if (!text.includes('\n')) return;
      clearTimeout(timer);
      resolve(text.slice(0, text.indexOf('\n')));
    });
    // A refused connection may be closed before this write: its EPIPE is expected, its reply is in.
    socket.on('error', () => {});
    socket.write('{"v":1,"id":1,"command":"status"}\n');
  });
  /** Resolves with what the server sent once it closed the connection (or rejects after `ms`). */
  const closedBy = (socket: net.Socket, ms: number): Promise<string> => new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`the connection stayed open for ${ms} ms`)), ms);
    socket.setEncoding('utf8').on('data', (chunk: string) => { text += chunk; });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });

  test('20,000 pipelined requests from a client that never reads, 40 connections at once, and a line over 64 KiB in bytes: the primary stays small and keeps serving', { timeout: 60_000 }, async () => {
    const app = writeApp('control-abuse.cjs');
    const port = await freePort();
    const corral = startCorral([app, '-i', '2', '--name', 'control-abuse'], { PORT: String(port) });
    await corral.waitForErr(/ready: 2 workers/);
    const primary = corral.child.pid!;
    const before = rssMiB(primary);
    const flood = await connectControl('control-abuse');
    flood.pause();
    const requests = Array.from({ length: 20_000 }, (_, id) => `{"v":1,"id":${id},"command":"status"}\n`).join('');
    flood.write(requests);
    // Another client is answered meanwhile, and so is HTTP.
    const status = await corralCommand('status', 'control-abuse', '--json');
    assert.equal(status.status, 0, status.stderr);
    assert.equal((await get(port)).status, 200);
    const during = rssMiB(primary);
    assert.ok(during - before < 48, `primary RSS ${before.toFixed(0)} → ${during.toFixed(0)} MiB under the pipelined flood`);
    flood.destroy();

    // At most 32 connections: the others are refused at once with a reply that says so. (Which
    // of 40 concurrent connects arrive last is the kernel's choice, and the flood's connection may
    // not be counted out yet: so count answers, not positions.)
    const held = await Promise.all(Array.from({ length: 40 }, () => connectControl('control-abuse')));
    const replies = await Promise.all(held.map((socket) => firstReply(socket, 10_000)));
    const busy = replies.filter((reply) => /"code":"CORRAL_ERR_BUSY".*at most 32 connections/.test(reply));
    const answered = replies.filter((reply) => /"ok":true/.test(reply));
    assert.equal(busy.length + answered.length, 40, replies.join('\n'));
    assert.ok(answered.length <= 32 && busy.length >= 8, `${answered.length} answered, ${busy.length} refused`);
    assert.equal((await get(port)).status, 200);
    for (const socket of held) socket.destroy();

    // The line limit counts bytes: 30,000 three-byte characters are 90,000 bytes.
    const long = await connectControl('control-abuse');
    long.write(`{"v":1,"id":1,"command":"status","x":"${'€'.repeat(30_000)}"}\n`);
    assert.match(await closedBy(long, 5_000), /"code":"CORRAL_ERR_BAD_REQUEST".*at most 65536 bytes/);
    corral.child.kill('SIGTERM');
    assert.equal((await exitOf(corral)).code, 0);
  });

  test('a connection that sends nothing, or trickles part of a line, is closed after 10 s', { timeout: 30_000 }, async () => {
    const app = writeApp('control-idle.cjs');
    const corral = startCorral([app, '-i', '1', '--name', 'control-idle'], { PORT: String(await freePort()) });
    await corral.waitForErr(/ready: 1 worker/);
    const silent = await connectControl('control-idle');
    const trickle = await connectControl('control-idle');
    trickle.write('{"v":1,');
    const started = Date.now();
    await Promise.all([closedBy(silent, 15_000), closedBy(trickle, 15_000)]);
    assert.ok(Date.now() - started >= 9_000, 'not before the idle timeout');
    corral.child.kill('SIGTERM');
    assert.equal((await exitOf(corral)).code, 0);
  });
});

describe('the run directory and its sockets', () => {
  test('a socket that is a symlink, not a socket, or another user\'s is never talked to: status, stop and start refuse with the path', { timeout: 30_000 }, async () => {
    const runDir = path.join(dir, 'fake-run');
    mkdirSync(runDir, { mode: 0o700 });
    // A fake primary that answers every request with success.
    const fakeSocket = path.join(dir, 'fake-primary.sock');
    const fake = net.createServer((socket) => socket.on('data', () => socket.end('{"v":1,"id":1,"ok":true,"result":{"pid":1}}\n')));
    await new Promise<void>((resolve) => fake.listen(fakeSocket, resolve));
    const foreign = net.createServer();
    try {
      symlinkSync(fakeSocket, path.join(runDir, 'linked.sock'));
      writeFileSync(path.join(runDir, 'plain.sock'), '');
      const cases: [string, RegExp][] = [['linked', /is a symbolic link/], ['plain', /is not a socket/]];
      if (process.getuid?.() === 0) {
        // As root, a real socket that belongs to another user as well.
        await new Promise<void>((resolve) => foreign.listen(path.join(runDir, 'foreign.sock'), resolve));
        chownSync(path.join(runDir, 'foreign.sock'), 65534, 65534);
        cases.push(['foreign', /belongs to another user \(uid 65534; you are uid 0\)/]);
      }
      const env = { CORRAL_RUN_DIR: runDir };
      for (const [name, problem] of cases) {
        for (const command of [['status', name], ['stop', name]]) {
          const result = await runCommand(BIN, command, { cwd: dir, env });
          assert.equal(result.status, 5, `${command.join(' ')}: ${result.stderr}`);
          assert.match(result.stderr, new RegExp(`the control socket ${path.join(runDir, `${name}.sock`)} ${problem.source}.*Remove it`));
        }
        const start = await runCommand(BIN, ['start', writeApp(`fake-${name}.cjs`), '-i', '1', '--name', name], { cwd: dir, env: { ...env, PORT: '0' } });
        assert.equal(start.status, 5, start.stderr);
        assert.match(start.stderr, problem);
      }
    } finally {
      fake.close();
      foreign.close();
    }
  });

  test('a corral-<uid> directory in the shared tmpdir that is not private (another user may have made it) is passed over for ~/.corral/run', { timeout: 30_000 }, async () => {
    const tmp = path.join(dir, 'shared-tmp');
    const home = path.join(dir, 'home');
    mkdirSync(tmp);
    mkdirSync(home);
    const squatted = path.join(tmp, `corral-${process.getuid!()}`);
    mkdirSync(squatted);
    chmodSync(squatted, 0o777);
    const env = { TMPDIR: tmp, HOME: home, CORRAL_RUN_DIR: '', XDG_RUNTIME_DIR: '' };
    const port = await freePort();
    const corral = startProgram(BIN, ['start', writeApp('squatted.cjs'), '-i', '1', '--name', 'squatted'],
      { cwd: dir, env: { NODE_OPTIONS: '', PORT: String(port), ...env } });
    await corral.waitForErr(new RegExp(`ready: 1 worker in \\d+ ms; control socket ${path.join(home, '.corral', 'run', 'squatted.sock')}`));
    const status = await runCommand(BIN, ['status', 'squatted'], { cwd: dir, env });
    assert.equal(status.status, 0, status.stderr);
    assert.equal(statSync(path.join(home, '.corral', 'run')).mode & 0o777, 0o700);
    corral.child.kill('SIGTERM');
    assert.equal((await exitOf(corral)).code, 0);
  });
});

describe('config files that misbehave', () => {
  const configDir = (name: string, config: string): string => {
    const where = path.join(dir, `config-${name}`);
    mkdirSync(where);
    writeFileSync(path.join(where, 'corral.config.mjs'), config);
    writeFileSync(path.join(where, 'app.cjs'), "require('node:http').createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT));\n");
    return where;
  };
  const start = (where: string, env: Record<string, string> = {}) =>
    runCommand(BIN, ['start', 'app.cjs', '-i', '1'], { cwd: where, env: { CORRAL_RUN_DIR: RUN_DIR, PORT: '0', ...env } });

  test('a top-level await that never settles: exit 2 after 10 s with a message, not exit 0 in silence', { timeout: 30_000 }, async () => {
    const result = await start(configDir('never', 'export default await new Promise(() => {});\n'));
    assert.equal(result.status, 2);
    assert.match(result.stderr, /corral: corral\.config\.mjs did not finish loading within 10 s: .*an await that never settles/);
  });

  test('a getter that throws, and a thrown non-Error: exit 2 naming the key and the value', { timeout: 30_000 }, async () => {
    const getter = await start(configDir('getter', "export default { restart: { get minDelay() { throw new Error('not today'); } } };\n"));
    assert.equal(getter.status, 2, getter.stderr);
    assert.equal(getter.stderr, 'corral: corral.config.mjs: reading `restart.minDelay` threw not today. Give it a plain value.\n');
    const thrown = await start(configDir('thrown', 'throw { code: 42 };\n'));
    assert.equal(thrown.status, 2, thrown.stderr);
    assert.equal(thrown.stderr, 'corral: cannot load corral.config.mjs: { code: 42 } (not an Error)\n');
  });

  test('restart.minDelay near 2^31 - 1 with jitter: the backoff waits (capped at 2^31 - 1 ms), never overflowing to 1 ms', { timeout: 30_000 }, async () => {
    const where = configDir('overflow', 'export default { restart: { minDelay: 2147483000, maxDelay: 2147483000, jitter: 0.5 } };\n');
    writeFileSync(path.join(where, 'app.cjs'), `require('node:http').createServer().listen(Number(process.env.PORT), () => setTimeout(() => process.exit(3), 10));\n`);
    const corral = startProgram(BIN, ['start', 'app.cjs', '-i', '1', '--name', 'overflow'],
      { cwd: where, env: { NODE_OPTIONS: '', CORRAL_RUN_DIR: RUN_DIR, PORT: String(await freePort()) } });
    const [line] = await corral.waitForErr(/restarting in \d+ ms \(crash 2 in a row\)/);
    const delay = Number(/restarting in (\d+) ms/.exec(line!)![1]);
    assert.ok(delay > 1_000_000_000 && delay <= 2 ** 31 - 1, `delay ${delay}`);
    const status = JSON.parse((await corralCommand('status', 'overflow', '--json')).stdout) as { slots: { state: string }[] };
    assert.equal(status.slots[0]!.state, 'backoff');
    assert.doesNotMatch(corral.stderr(), /TimeoutOverflowWarning/);
    corral.child.kill('SIGTERM');
    await exitOf(corral);
  });
});

describe('what workers leave behind', () => {
  test("a worker's children (sleep 301) end with it on corral stop, and corral says so", { timeout: 30_000 }, async () => {
    const app = writeApp('spawns.cjs', "const child = require('node:child_process').spawn('sleep', ['301'], { stdio: 'ignore' }); console.log('child', child.pid);");
    const corral = startCorral([app, '-i', '2', '--name', 'spawns'], { PORT: String(await freePort()) });
    await corral.waitForErr(/ready: 2 workers/);
    const children = (await corral.waitFor(/^child \d+$/, 2)).map((line) => Number(line.split(' ')[1]));
    assert.ok(children.every((pid) => !gone(pid)));
    const stop = await corralCommand('stop', 'spawns');
    assert.equal(stop.status, 0, stop.stderr);
    await exitOf(corral);
    await Promise.all(children.map((pid) => whenGone(pid)));
    for (const pid of children) assert.match(corral.stderr(), new RegExp(`had left 1 process it started running \\(pid ${pid}\\); SIGKILLed them`));
  });

  test("a worker still draining at its deadline is SIGKILLed with its children, and corral says so", { timeout: 30_000 }, async () => {
    const app = writeApp('spawns-hang.cjs', `
const child = require('node:child_process').spawn('sleep', ['301'], { stdio: 'ignore' });
onShutdown(() => new Promise(() => {}));
console.log('child', child.pid, process.pid);`);
    const corral = startCorral([app, '-i', '1', '--name', 'spawns-hang', '--shutdown-timeout', '500'], { PORT: String(await freePort()) });
    await corral.waitForErr(/ready: 1 worker/);
    const [line] = await corral.waitFor(/^child \d+ \d+$/);
    const [, child, worker] = line!.split(' ').map(Number);
    corral.child.kill('SIGTERM');
    await exitOf(corral);
    await Promise.all([whenGone(child!), whenGone(worker!)]);
    assert.match(corral.stderr(), new RegExp(`had left 1 process it started running \\(pid ${child}\\); SIGKILLed them`));
  });
});

describe('the primary SIGKILLed', () => {
  test('workers whose event loop is blocked, and every worker\'s children, end within seconds; the port (shared) is free again', { timeout: 30_000 }, async () => {
    const app = writeApp('orphans.cjs', `
const child = require('node:child_process').spawn('sleep', ['301'], { stdio: 'ignore' });
process.on('SIGUSR2', () => { console.log('blocked', process.pid); for (;;); });
console.log('child', child.pid, process.pid);`);
    const port = await freePort();
    const corral = startCorral([app, '-i', '2', '--balancer', 'shared', '--name', 'orphans'], { PORT: String(port) });
    await corral.waitForErr(/ready: 2 workers/);
    const lines = await corral.waitFor(/^child \d+ \d+$/, 2);
    const children = lines.map((line) => Number(line.split(' ')[1]));
    const workers = lines.map((line) => Number(line.split(' ')[2]));
    const guard = guardOf(corral.child.pid!);
    assert.ok(guard !== undefined, 'the primary runs an orphan guard');
    try {
      for (const pid of workers) process.kill(pid, 'SIGUSR2');
      await corral.waitFor(/^blocked \d+$/, 2);
      corral.child.kill('SIGKILL');
      // Node's worker half never reads the closed channel of a blocked worker: only the guard ends them.
      await Promise.all([...workers, ...children, guard].map((pid) => whenGone(pid)));
    } finally {
      for (const pid of [...workers, ...children]) {
        try {
          process.kill(pid, 'SIGKILL'); // Only if the test failed with them still running.
        } catch {
          // Gone, as they should be.
        }
      }
    }
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, resolve));
    server.close();
  });
});

describe("the terminal's hangup", () => {
  const SESSION = fileURLToPath(new URL('../../test/fixtures/terminal-session.cjs', import.meta.url));

  /**
   * Starts corral in a terminal of its own (util-linux's `script` makes one), as in a shell; the
   * returned `hangup()` closes that terminal, as closing a terminal window or an ssh session does.
   */
  async function inTerminal(args: string[], env: Record<string, string>) {
    const which = spawnSync('script', ['--version'], { encoding: 'utf8' });
    assert.ok(which.error === undefined, "this test needs `script` (util-linux; Debian's bsdutils) to give corral a terminal: install it");
    const lines: string[] = [];
    const waiters = new Set<() => void>();
    const server = net.createServer((socket) => {
      let text = '';
      socket.setEncoding('utf8').on('data', (chunk: string) => {
        text += chunk;
        const parts = text.split('\n');
        text = parts.pop()!;
        lines.push(...parts);
        for (const waiter of waiters) waiter();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const terminal = startProgram('-qfec', [`${process.execPath} ${SESSION}; true`, '/dev/null'], {
      execPath: 'script',
      env: { ...env, REPORT_PORT: String((server.address() as net.AddressInfo).port), CORRAL_ARGS: JSON.stringify([BIN, 'start', ...args]) },
    });
    const line = (pattern: RegExp, ms = 20_000) => new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${pattern} from the terminal session within ${ms} ms; got ${lines.join(' | ')}`)), ms);
      const check = (): void => {
        const found = lines.find((candidate) => pattern.test(candidate));
        if (found === undefined) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(found);
      };
      waiters.add(check);
      check();
    });
    const pid = Number((await line(/^pid \d+$/)).split(' ')[1]);
    return {
      pid,
      line,
      hangup: () => terminal.child.kill('SIGKILL'),
      close: () => {
        server.close();
        try {
          process.kill(pid, 'SIGKILL'); // If the test failed with corral still running.
        } catch {
          // Gone, as it should be.
        }
      },
    };
  }

  test('output to the terminal: its hangup is not a reload; corral shuts down gracefully and every worker exits cleanly', { timeout: 60_000 }, async () => {
    const app = writeApp('hangup-tty.cjs');
    const session = await inTerminal([app, '-i', '2', '--name', 'hangup-tty'], { NODE_OPTIONS: '', CORRAL_RUN_DIR: RUN_DIR, PORT: String(await freePort()) });
    try {
      await waitForStatus('hangup-tty');
      session.hangup();
      assert.equal(await session.line(/^exit /), 'exit 0 null');
    } finally {
      session.close();
    }
  });

  test('output to a file (nohup … > app.log): its hangup is not a reload; corral keeps running, no worker dies, and says why', { timeout: 60_000 }, async () => {
    const app = writeApp('hangup-file.cjs');
    const log = path.join(dir, 'hangup-file.log');
    const port = await freePort();
    const session = await inTerminal([app, '-i', '2', '--name', 'hangup-file'],
      { NODE_OPTIONS: '', CORRAL_RUN_DIR: RUN_DIR, PORT: String(port), OUTPUT_FILE: log });
    try {
      await waitForStatus('hangup-file');
      session.hangup();
      // corral logs the hangup; the session then ends, and corral goes on.
      await waitForFile(log, /SIGHUP: the terminal closed: corral keeps running, its output goes elsewhere/);
      const status = JSON.parse((await corralCommand('status', 'hangup-file', '--json')).stdout) as {
        generation: number; slots: { restarts: number; state: string }[];
      };
      assert.equal(status.generation, 1, 'no reload');
      assert.deepEqual(status.slots.map((slot) => [slot.state, slot.restarts]), [['ready', 0], ['ready', 0]]);
      assert.equal((await get(port)).status, 200);
      const reload = await corralCommand('reload', 'hangup-file');
      assert.equal(reload.status, 0, 'an operator can still reload');
      assert.equal((await corralCommand('stop', 'hangup-file')).status, 0);
      assert.equal(await session.line(/^exit /), 'exit 0 null');
      assert.doesNotMatch(readFileSync(log, 'utf8'), /Assertion failed/);
    } finally {
      session.close();
    }
  });
});

/** Whether `pid` is gone (a zombie nobody reaped yet counts as gone). */
/**
 * Whether `pid` has ended: gone, or a zombie whose threads have all ended. A killed process's main
 * thread may be a zombie while its other threads (Node has several) still exit, and until the
 * last one has, its descriptors (a listening socket) are still open.
 */
function gone(pid: number): boolean {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return /^State:\s+Z/m.test(status) && readdirSync(`/proc/${pid}/task`).length <= 1;
  } catch {
    return true;
  }
}

/**
 * Resolves once `pid` is gone; rejects after `ms`. (No event tells a process that one it did not
 * start has ended, so this looks every 10 ms.)
 */
async function whenGone(pid: number, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!gone(pid)) {
    if (Date.now() > deadline) throw new Error(`pid ${pid} still runs after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resolves once `corral status name` answers (the app is up); rejects after `ms`. */
async function waitForStatus(name: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const status = await corralCommand('status', name);
    if (status.status === 0) return;
    if (Date.now() > deadline) throw new Error(`${name} did not come up within ${ms} ms: ${status.stderr}`);
  }
}

/** Resolves once `file` holds a line matching `pattern` (watching it); rejects after `ms`. */
async function waitForFile(file: string, pattern: RegExp, ms = 20_000): Promise<void> {
  const { watch } = await import('node:fs');
  await new Promise<void>((resolve, reject) => {
    const check = (): boolean => {
      let text = '';
      try { text = readFileSync(file, 'utf8'); } catch { /* not yet there */ }
      if (!pattern.test(text)) return false;
      clearTimeout(timer);
      watcher.close();
      resolve();
      return true;
    };
    const watcher = watch(path.dirname(file), () => check());
    const timer = setTimeout(() => {
      watcher.close();
      reject(new Error(`${file} has no ${pattern} after ${ms} ms: ${readFileSync(file, 'utf8')}`));
    }, ms);
    check();
  });
}

describe('huge IPC messages', () => {
  const MIB = 1024 * 1024;
  for (const serialization of ['json', 'advanced'] as const) {
    test(`maxMessageSize (${serialization}): a message over it is refused in the worker, its send says why, the primary warns once per burst and the worker serves on`, { timeout: 30_000 }, async () => {
      const cluster = createCluster({
        exec: WORKER_FIXTURE, workers: 1, serialization, maxMessageSize: MIB, readyWhen: 'online',
        env: { SCENARIO: 'send-sizes', SIZES: JSON.stringify([1000, 2 * MIB, 900 * 1024, 3 * MIB]) },
      });
      const received: number[] = [];
      const warnings: string[] = [];
      const onWarning = (warning: Error & { code?: string }): void => {
        if (warning.code === 'CORRAL_MESSAGE_TOO_LARGE') warnings.push(warning.message);
      };
      process.on('warning', onWarning);
      try {
        cluster.on('fork', (worker) => {
          track(worker);
          worker.on('message', (message) => {
            if (typeof message === 'string') received.push(message.length);
          });
        });
        await cluster.start();
        const worker = cluster.workers[0]!;
        const { outcomes } = await report(worker, 'sent') as unknown as { outcomes: string[] };
        assert.equal(outcomes.length, 4);
        assert.deepEqual([outcomes[0], outcomes[2]], ['sent', 'sent']);
        for (const refused of [outcomes[1]!, outcomes[3]!]) {
          assert.match(refused, /^CORRAL_ERR_MESSAGE_TOO_LARGE: corral refused to send a message of \d\.\d MiB: it is over maxMessageSize \(1\.0 MiB\)/);
        }
        // Only the messages under the limit reached the primary; the worker is still there.
        assert.deepEqual(received, [1000, 900 * 1024]);
        assert.equal(worker.isDead(), false);
        // Three refusals in one burst: one warning now, the other two counted (and told within 10 s).
        assert.equal(warnings.length, 1, warnings.join('\n'));
        assert.match(warnings[0]!, new RegExp(`^Worker ${worker.id} \\(slot 0\\) tried to send the primary a message of \\d+ bytes, over maxMessageSize \\(1048576 bytes\\)`));
      } finally {
        process.off('warning', onWarning);
        await cluster.close();
      }
    });
  }

  test('maxMessageSize is checked like every option', () => {
    for (const bad of [-1, 1.5, '64mb', Number.POSITIVE_INFINITY]) {
      assert.throws(() => createCluster({ exec: WORKER_FIXTURE, maxMessageSize: bad as number }),
        /Expected `maxMessageSize` to be a whole number of bytes ≥ 0 \(0: no limit\)/);
    }
  });
});

describe('too many workers', () => {
  test('scaling past 4 workers per CPU warns, answers in slot ranges, and starts the new workers in batches of 2 per CPU (at least 4)', { timeout: 60_000 }, async () => {
    const cpus = os.availableParallelism();
    const batch = Math.max(4, 2 * cpus);
    const target = 4 * cpus + 2;
    // Each worker says when it began and when it listens (300 ms later): a slow start.
    const app = writeApp('many.cjs', `
console.log('began', process.pid, Date.now());
const listen = require('node:net').Server.prototype.listen;
require('node:net').Server.prototype.listen = function (...args) {
  setTimeout(() => listen.apply(this, args).once('listening', () => console.log('listening', process.pid, Date.now())), 300);
  return this;
};`);
    const corral = startCorral([app, '-i', '2', '--name', 'many'], { PORT: String(await freePort()) });
    await corral.waitForErr(/ready: 2 workers/);
    const scale = await corralCommand('scale', 'many', String(target));
    assert.equal(scale.status, 0, scale.stderr);
    assert.equal(scale.stdout, `many: ${target} workers (added slots 2–${target - 1})\n`);
    assert.match(corral.stderr(), new RegExp(`CORRAL_MANY_WORKERS.*${target} workers on ${cpus} CPUs? is more than 4 per CPU`));
    // How many of the new workers were starting at once, from their own clocks.
    const began = new Map((await corral.waitFor(/^began /, target)).map((line) => [line.split(' ')[1], Number(line.split(' ')[2])]));
    const listening = (await corral.waitFor(/^listening /, target)).map((line) => [Number(line.split(' ')[2]), -1] as const);
    const events = [...[...began.values()].map((at) => [at, 1] as const), ...listening].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let starting = 0;
    let most = 0;
    for (const [, change] of events) most = Math.max(most, (starting += change));
    assert.ok(most <= batch, `${most} workers were starting at once; the batch is ${batch}`);
    assert.ok(most >= 2, 'workers did start side by side');
    corral.child.kill('SIGTERM');
    assert.equal((await exitOf(corral)).code, 0);
  });
});
