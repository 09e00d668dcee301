// Every app of a user at a glance: `corral list` finds apps in every run directory corral may
// use, whatever the environment of the shell that asks (a login shell has XDG_RUNTIME_DIR, cron
// does not), and a control socket whose primary is gone is not an app.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { freePort } from './helpers/net-client.js';
import { exitOf, killPrograms, runCommand, startProgram } from './helpers/program.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-apps-'));
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => killPrograms());

const APP = path.join(dir, 'api.cjs');
writeFileSync(APP, `require('node:http').createServer((req, res) => res.end(process.env.CORRAL_SLOT)).listen(Number(process.env.PORT), '127.0.0.1');\n`);

/**
 * The environment of one user's shells, kept inside the test's directory: its own temporary
 * directory and home (the run directories' fallbacks), and XDG_RUNTIME_DIR as a login shell has
 * it (`login: false`: as cron has it, unset).
 */
function userEnv(login: boolean): Record<string, string | undefined> {
  const tmp = path.join(dir, 'tmp');
  const home = path.join(dir, 'home');
  const xdg = path.join(dir, 'xdg-runtime');
  for (const made of [tmp, home, xdg]) mkdirSync(made, { recursive: true, mode: 0o700 });
  return { CORRAL_RUN_DIR: undefined, TMPDIR: tmp, HOME: home, XDG_RUNTIME_DIR: login ? xdg : undefined, NODE_OPTIONS: '' };
}

async function startApp(name: string, env: Record<string, string | undefined>, workers = 2) {
  const program = startProgram(BIN, ['start', APP, '-i', String(workers), '--name', name], { cwd: dir, env: { ...env, PORT: String(await freePort()) } });
  await program.waitForErr(new RegExp(`ready: ${workers} workers?`));
  return program;
}

interface Listed { name: string; pid: number; state: string; workers: { ready: number; configured: number }; memory: number; cpu: number; restarts: number; socket: string }

async function list(env: Record<string, string | undefined>): Promise<Listed[]> {
  const result = await runCommand(BIN, ['list', '--json'], { cwd: dir, env });
  assert.equal(result.status, 0, result.stderr);
  const json = JSON.parse(result.stdout) as { v: number; apps: Listed[] };
  assert.equal(json.v, 1);
  return json.apps;
}

describe('corral list', () => {
  test('lists every running app with its workers, memory, CPU and restarts; a killed primary\'s socket is not an app', { timeout: 40_000 }, async () => {
    const env = userEnv(true);
    const api = await startApp('list-api', env, 2);
    const web = await startApp('list-web', env, 1);
    const ghost = await startApp('list-ghost', env, 1);
    ghost.child.kill('SIGKILL'); // Its socket stays behind; its worker follows it (the orphan guard).
    await exitOf(ghost);
    const apps = (await list(env)).filter((app) => app.name.startsWith('list-'));
    assert.deepEqual(apps.map((app) => app.name), ['list-api', 'list-web']);
    const [first, second] = apps as [Listed, Listed];
    assert.equal(first.pid, api.child.pid);
    assert.equal(second.pid, web.child.pid);
    assert.deepEqual(first.workers, { ready: 2, configured: 2 });
    assert.equal(first.state, 'running');
    assert.ok(first.memory > 30 * 1024 * 1024, `memory ${first.memory}`);
    assert.equal(typeof first.cpu, 'number');
    assert.equal(first.restarts, 0);
    const table = await runCommand(BIN, ['ls'], { cwd: dir, env });
    assert.match(table.stdout, /^NAME\s+PID\s+STATE\s+WORKERS\s+UPTIME\s+MEMORY\s+CPU\s+RESTARTS$/m);
    assert.match(table.stdout, new RegExp(`^list-api\\s+${api.child.pid}\\s+running\\s+2/2\\s+\\d+s\\s+[\\d.]+ MiB\\s+[\\d.]+%\\s+0$`, 'm'));
    assert.doesNotMatch(table.stdout, /list-ghost/);
  });

  test('an app started without XDG_RUNTIME_DIR (as from cron) is found, stopped and not started twice from a login shell', { timeout: 40_000 }, async () => {
    const cron = userEnv(false);
    const shell = userEnv(true);
    const app = await startApp('from-cron', cron, 1);
    assert.ok((await list(shell)).some((listed) => listed.name === 'from-cron' && listed.pid === app.child.pid), 'listed from the shell');
    const status = await runCommand(BIN, ['status', 'from-cron', '--json'], { cwd: dir, env: shell });
    assert.equal(status.status, 0, status.stderr);
    // The same name from the shell, whose own run directory differs: refused, naming the other socket.
    const twice = await runCommand(BIN, ['start', APP, '--name', 'from-cron'], { cwd: dir, env: { ...shell, PORT: String(await freePort()) } });
    assert.equal(twice.status, 4, twice.stderr);
    assert.match(twice.stderr, /an app named 'from-cron' is already running \(primary pid \d+\), with its control socket .*corral-\d+\/from-cron\.sock/);
    const stop = await runCommand(BIN, ['stop', 'from-cron'], { cwd: dir, env: shell });
    assert.equal(stop.status, 0, stop.stderr);
    assert.equal((await exitOf(app)).code, 0);
    assert.ok(!(await list(shell)).some((listed) => listed.name === 'from-cron'));
  });

  test('with no app running, list says so and exits 0; CORRAL_RUN_DIR confines it to that directory', async () => {
    const own = path.join(dir, 'own-run');
    mkdirSync(own, { mode: 0o700 });
    const env = { ...userEnv(true), CORRAL_RUN_DIR: own };
    const result = await runCommand(BIN, ['list'], { cwd: dir, env });
    assert.equal(result.status, 0);
    assert.equal(result.stdout, "no corral app is running for this user. Start one with 'corral start <script>'.\n");
    assert.deepEqual(await list(env), []);
    const help = await runCommand(BIN, ['--help'], { cwd: dir });
    assert.match(help.stdout, /list, ls \[--json\]/);
  });
});
