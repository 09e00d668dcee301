// The control socket of `corral start` and the commands that use it: status (table and JSON),
// reload, scale and stop; the socket's permissions, stale sockets, other users, and malformed
// requests.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, linkSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { freePort } from './helpers/net-client.js';
import { exitOf, killPrograms, runCommand, startProgram } from './helpers/program.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-control-'));
const runDir = path.join(dir, 'run');
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => killPrograms());

const APP = path.join(dir, 'api.cjs');
writeFileSync(APP, `require('node:http').createServer((req, res) => res.end(process.env.CORRAL_SLOT)).listen(Number(process.env.PORT));\n`);
const BROKEN = path.join(dir, 'broken-on-reload.cjs');

const env = { CORRAL_RUN_DIR: runDir, NODE_OPTIONS: '' };
const corral = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: dir, env: { ...process.env, ...env }, timeout: 30_000 });
/** As `corral`, without blocking the event loop (for commands that wait on the running primary). */
const corralAsync = (...args: string[]) => runCommand(BIN, args, { cwd: dir, env });

async function startApp(args: string[], port?: number) {
  const program = startProgram(BIN, ['start', ...args], { cwd: dir, env: { ...env, PORT: String(port ?? await freePort()) } });
  await program.waitForErr(/ready: \d+ workers?/);
  return program;
}

/**
 * A copy of node and of corral's CLI that another user can run: the checkout (and the node
 * binary CI installs into it) may sit under a directory only its owner can enter, as a clone
 * into `mktemp -d` does, and then user nobody could not load corral at all.
 */
function copyForAnotherUser(): { node: string; bin: string; remove: () => void } {
  const copy = mkdtempSync(path.join(os.tmpdir(), 'corral-other-user-'));
  chmodSync(copy, 0o755);
  const root = fileURLToPath(new URL('../../', import.meta.url));
  for (const part of ['bin', 'dist', 'package.json']) cpSync(path.join(root, part), path.join(copy, part), { recursive: true });
  const node = path.join(copy, 'node');
  try {
    linkSync(process.execPath, node);
  } catch {
    copyFileSync(process.execPath, node); // Another file system.
  }
  chmodSync(node, 0o755);
  return { node, bin: path.join(copy, 'bin/corral.cjs'), remove: () => rmSync(copy, { recursive: true, force: true }) };
}

/** One raw request line to a socket; resolves with the reply line. */
function rawRequest(socket: string, line: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const client = net.connect(socket, () => client.write(line));
    let buffered = '';
    client.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.includes('\n')) {
        client.end();
        resolve(JSON.parse(buffered.slice(0, buffered.indexOf('\n'))) as Record<string, unknown>);
      }
    });
    client.on('error', reject);
  });
}

describe('corral status, reload, scale, stop', () => {
  test('status prints every slot; --json gives the documented fields', { timeout: 30_000 }, async () => {
    const app = await startApp([APP, '-i', '2']);
    const table = await corralAsync('status');
    assert.equal(table.status, 0, table.stderr);
    const lines = table.stdout.trim().split('\n');
    assert.match(lines[0]!, /^api: running, 2 workers \(round-robin\), generation 1, primary pid \d+ \([\d.]+ MiB\), up \d+s$/);
    assert.equal(lines[1], 'health actions: none');
    assert.match(lines[2]!, /^SLOT\s+WORKER\s+PID\s+GEN\s+STATE\s+UPTIME\s+RESTARTS\s+MEMORY\s+HEAP\s+LOOP\s+CPU\s+LAST EXIT$/);
    // HEAP and LOOP come from the worker's runtime report: '-' until its first one.
    assert.match(lines[3]!, /^0\s+\d+\s+\d+\s+1\s+ready\s+\d+s\s+0\s+[\d.]+ MiB\s+([\d.]+ MiB|-)\s+(\d+ ms|-)\s+[\d.]+%\s+-$/);
    assert.equal(lines.length, 5);
    const json = JSON.parse((await corralAsync('status', 'api', '--json')).stdout) as Record<string, unknown> & { slots: Record<string, unknown>[] };
    assert.deepEqual(Object.keys(json).sort(), ['admin', 'at', 'balancer', 'generation', 'health', 'name', 'others', 'pid', 'primary', 'reloading', 'slots', 'startedAt', 'state', 'uptime', 'v', 'workers']);
    assert.equal(json['v'], 1);
    assert.deepEqual(Object.keys(json.slots[0]!).sort(), ['crashes', 'lastExit', 'restarts', 'slot', 'state', 'worker']);
    assert.deepEqual(Object.keys(json.slots[0]!['worker'] as object).sort(), ['cpu', 'generation', 'id', 'inspector', 'pid', 'rss', 'runtime', 'state', 'uptime']);
    assert.equal((json.slots[0]!['worker'] as { inspector: unknown }).inspector, null, 'no --inspect: no inspector');
    assert.ok(((json.slots[0]!['worker'] as { rss: number }).rss) > 10 * 1024 * 1024);
    const stop = await corralAsync('stop');
    assert.equal(stop.status, 0, stop.stderr);
    assert.equal(stop.stdout, 'api: stopped cleanly\n');
    assert.equal((await exitOf(app)).code, 0);
    const after = corral('status');
    assert.equal(after.status, 3);
    assert.match(after.stderr, /^corral: no corral app is running for this user\./);
  });

  test('reload waits for the new generation; scale adds and drains workers', { timeout: 30_000 }, async () => {
    const app = await startApp([APP, '-i', '2', '--name', 'web']);
    const reload = await corralAsync('reload', 'web');
    assert.equal(reload.status, 0, reload.stderr);
    assert.match(reload.stdout, /^web: reloaded; every worker runs generation 2 \(\d+ ms\)\n$/);
    const up = await corralAsync('scale', '+1');
    assert.equal(up.stdout, 'web: 3 workers (added slot 2)\n');
    const down = await corralAsync('scale', 'web', '1');
    assert.equal(down.stdout, 'web: 1 worker (drained and removed slots 1–2)\n');
    const bad = await corralAsync('scale', '-5');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /corral: the count must be a worker count from 1 to 1024, or \+N \/ -N \(now 1\), got '-5'/);
    const status = JSON.parse((await corralAsync('status', '--json')).stdout) as { workers: number; generation: number };
    assert.deepEqual({ workers: status.workers, generation: status.generation }, { workers: 1, generation: 2 });
    app.child.kill('SIGTERM');
    assert.equal((await exitOf(app)).code, 0);
  });

  test('a reload of broken code exits 1 with the new worker\'s exit code and stderr; the old workers keep serving', { timeout: 30_000 }, async () => {
    writeFileSync(BROKEN, APP_SOURCE_V1);
    const port = await freePort();
    const app = await startApp([BROKEN, '-i', '2'], port);
    writeFileSync(BROKEN, "console.error('loading config'); throw new Error('config missing: DATABASE_URL');\n");
    const reload = await corralAsync('reload');
    assert.equal(reload.status, 1);
    assert.match(reload.stderr, /^corral: The reload stopped: the worker for slot 0 \(pid \d+\) exited with code 1 before it was ready\. The failed replacement was removed; every slot keeps its old worker/);
    assert.match(reload.stderr, /Last lines of its stderr:\n {2}\| loading config\n {2}\| Uncaught Error: config missing: DATABASE_URL\n {2}\| {5}at /);
    const answer = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(await answer.text(), 'v1');
    app.child.kill('SIGTERM');
    assert.equal((await exitOf(app)).code, 0);
  });
});

const APP_SOURCE_V1 = "require('node:http').createServer((req, res) => res.end('v1')).listen(Number(process.env.PORT));\n";

describe('the control socket', () => {
  test('lives in a 0700 run directory with mode 0600; a second start of the name is refused', { timeout: 30_000 }, async () => {
    const app = await startApp([APP, '-i', '1']);
    assert.equal(statSync(runDir).mode & 0o777, 0o700);
    assert.equal(statSync(path.join(runDir, 'api.sock')).mode & 0o777, 0o600);
    const second = corral('start', APP, '-i', '1');
    assert.equal(second.status, 4);
    assert.match(second.stderr, /^corral: an app named 'api' is already running \(primary pid \d+\)\. Stop it with 'corral stop api'/);
    app.child.kill('SIGTERM');
    await exitOf(app);
  });

  test('a stale socket left by a killed primary is detected and replaced', { timeout: 30_000 }, async () => {
    const first = await startApp([APP, '-i', '1']);
    first.child.kill('SIGKILL');
    await exitOf(first);
    assert.ok(statSync(path.join(runDir, 'api.sock')).isSocket(), 'the killed primary left its socket');
    const stale = corral('status', 'api');
    assert.equal(stale.status, 3);
    assert.match(stale.stderr, /nothing answers on .*api\.sock: the app is not running/);
    const second = await startApp([APP, '-i', '1']);
    const status = await corralAsync('status', '--json');
    assert.equal((JSON.parse(status.stdout) as { pid: number }).pid, second.child.pid);
    second.child.kill('SIGTERM');
    await exitOf(second);
  });

  test('another user is refused (the client runs as nobody)', {
    timeout: 30_000,
    skip: process.getuid?.() !== 0 ? 'running a client as another user needs root' : false,
  }, async () => {
    const app = await startApp([APP, '-i', '1']);
    // Let nobody see the run directory (not into it): it belongs to root, so corral will not use it.
    chmodSync(dir, 0o755);
    const other = copyForAnotherUser();
    try {
      const asNobody = spawnSync(other.node, [other.bin, 'status'], {
        encoding: 'utf8', cwd: '/', uid: 65534, gid: 65534, env: { PATH: process.env['PATH'], CORRAL_RUN_DIR: runDir },
      });
      assert.equal(asNobody.status, 5, asNobody.stderr);
      assert.match(asNobody.stderr, /^corral: the run directory .* belongs to another user \(uid 0; you are uid 65534\)/);
      // And the kernel refuses a connection to the socket itself (0600, owned by root).
      const connect = spawnSync(other.node, ['-e', `require('net').connect(${JSON.stringify(path.join(runDir, 'api.sock'))}).on('error', (e) => { console.log(e.code); })`], {
        encoding: 'utf8', cwd: '/', uid: 65534, gid: 65534,
      });
      assert.equal(connect.stdout.trim(), 'EACCES', connect.stderr);
    } finally {
      other.remove();
    }
    app.child.kill('SIGTERM');
    await exitOf(app);
  });

  test('malformed requests get an error reply and the primary keeps running', { timeout: 30_000 }, async () => {
    const app = await startApp([APP, '-i', '1']);
    const socket = path.join(runDir, 'api.sock');
    assert.deepEqual(await rawRequest(socket, 'hello\n'), {
      v: 1, id: null, ok: false, error: { code: 'CORRAL_ERR_BAD_REQUEST', message: 'The request is not valid JSON: send one JSON object per line.' },
    });
    const wrongVersion = await rawRequest(socket, '{"v":2,"id":7,"command":"status"}\n');
    assert.equal((wrongVersion['error'] as { code: string }).code, 'CORRAL_ERR_PROTOCOL_VERSION');
    assert.equal(wrongVersion['id'], 7);
    const unknown = await rawRequest(socket, '{"v":1,"id":8,"command":"restart"}\n');
    assert.match((unknown['error'] as { message: string }).message, /Unknown command "restart"; the commands are status, reload, scale, stop, launch\./);
    const scale = await rawRequest(socket, '{"v":1,"id":9,"command":"scale"}\n');
    assert.match((scale['error'] as { message: string }).message, /scale needs `workers`/);
    const tooLong = await rawRequest(socket, `{"v":1,"id":10,"command":"status","pad":"${'x'.repeat(70_000)}"}\n`);
    assert.match((tooLong['error'] as { message: string }).message, /at most 65536 bytes/);
    const status = await corralAsync('status', '--json');
    assert.equal(status.status, 0);
    app.child.kill('SIGTERM');
    assert.equal((await exitOf(app)).code, 0);
  });

  test('a run directory open to others is refused, not repaired: its sockets may be anybody\'s', { timeout: 30_000 }, async () => {
    rmSync(runDir, { recursive: true, force: true });
    mkdirSync(runDir);
    chmodSync(runDir, 0o777);
    const start = await runCommand(BIN, ['start', APP, '-i', '1'], { cwd: dir, env: { CORRAL_RUN_DIR: runDir, PORT: '0' } });
    assert.equal(start.status, 5);
    assert.match(start.stderr, /the run directory .* is open to other users \(mode 777\).*chmod 700/);
    assert.equal(statSync(runDir).mode & 0o777, 0o777, 'left as it was');
    const status = corral('status');
    assert.equal(status.status, 5);
    rmSync(runDir, { recursive: true, force: true });
  });
});
