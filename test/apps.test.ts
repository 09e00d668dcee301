// Every app of a user at a glance: `corral list` finds apps in every run directory corral may
// use, whatever the environment of the shell that asks (a login shell has XDG_RUNTIME_DIR, cron
// does not), and a control socket whose primary is gone is not an app.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { startOptions } from './helpers/internals.js';
import { startLoad } from './helpers/load.js';
import { freePort } from './helpers/net-client.js';
import { exitOf, killPrograms, runCommand, startProgram } from './helpers/program.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-apps-'));
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => killPrograms());

/** The environments detached apps were started in: whatever a test left running there is stopped after it, failed or not. */
const detachedEnvs = new Set<Record<string, string | undefined>>();
function detachedIn<T extends Record<string, string | undefined>>(env: T): T {
  detachedEnvs.add(env);
  return env;
}
afterEach(async () => {
  for (const env of detachedEnvs) await runCommand(BIN, ['stop', 'all'], { cwd: dir, env });
  detachedEnvs.clear();
});

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

/** Resolves once `pid` has ended (gone, or a zombie nobody reaps yet); rejects after `ms`. No event says it. */
async function whenGone(pid: number, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const status = existsSync(`/proc/${pid}/status`) ? readFileSync(`/proc/${pid}/status`, 'utf8') : '';
    if (status === '' || /^State:\s+Z/m.test(status)) return;
    if (Date.now() > deadline) throw new Error(`pid ${pid} still runs after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const primaryPid = (stdout: string): number => Number(/primary pid (\d+)/.exec(stdout)?.[1]);

describe('corral start -d and corral logs', () => {
  /** A run and a log directory of their own, so that nothing else running on the machine is seen. */
  function isolated(label: string): Record<string, string | undefined> {
    const run = path.join(dir, `${label}-run`);
    const logs = path.join(dir, `${label}-logs`);
    mkdirSync(run, { recursive: true, mode: 0o700 });
    return detachedIn({ CORRAL_RUN_DIR: run, CORRAL_LOG_DIR: logs, NODE_OPTIONS: '' });
  }

  /** Logs each request on stdout and its own start on stderr. */
  const CHATTY = path.join(dir, 'chatty.cjs');
  writeFileSync(CHATTY, `'use strict';
require('node:http').createServer((req, res) => {
  console.log('served ' + req.url + ' ' + 'x'.repeat(Number(process.env.PAD ?? 0)));
  res.end(String(process.pid));
}).listen(Number(process.env.PORT), '127.0.0.1', () => console.error('listening in slot ' + process.env.CORRAL_SLOT));
`);

  test('a detached app outlives the command that started it; its log file has corral\'s lines and every worker\'s, tagged; logs -n and -f read it while it serves', { timeout: 40_000 }, async () => {
    const env = isolated('detached');
    const port = await freePort();
    const start = await runCommand(BIN, ['start', CHATTY, '-i', '2', '--name', 'chatty', '-d'], { cwd: dir, env: { ...env, PORT: String(port) } });
    assert.equal(start.status, 0, start.stderr);
    assert.match(start.stdout, /primary pid \d+, 2 workers ready in \d+ ms/);
    const pid = primaryPid(start.stdout);
    assert.ok(pid > 0, start.stdout);
    assert.match(start.stdout, new RegExp(`logs: {3}corral logs chatty -f {3}\\(${env['CORRAL_LOG_DIR']!.replaceAll('/', '\\/')}\\/chatty\\.log\\)`));
    try {
      // The command has exited; the app serves on.
      assert.match(await (await fetch(`http://127.0.0.1:${port}/one`)).text(), /^\d+$/);
      // -f: the last lines, then what comes next; /one is among the first or the next (the primary
      // writes its file a moment after the worker answered).
      const follow = startProgram(BIN, ['logs', 'chatty', '-f', '-n', '50'], { cwd: dir, env });
      await follow.waitFor(/served \/one/);
      await fetch(`http://127.0.0.1:${port}/two`);
      const [followed] = await follow.waitFor(/served \/two/).catch((error: unknown) => {
        // Say what the file held, to tell a line not written from a line not followed.
        throw new Error(`${(error as Error).message}\nthe log file:\n${readFileSync(path.join(env['CORRAL_LOG_DIR']!, 'chatty.log'), 'utf8')}`);
      });
      assert.match(followed!, /^\S+Z \[slot [01] pid \d+ stdout\] served \/two $/);
      follow.child.kill('SIGINT');
      assert.equal((await exitOf(follow)).code, 0);
      const last = await runCommand(BIN, ['logs', '-n', '50'], { cwd: dir, env });
      assert.equal(last.status, 0, last.stderr);
      const lines = last.stdout.trimEnd().split('\n');
      assert.match(lines[0]!, /^\S+Z corral\[chatty\] starting 2 workers of .*chatty\.cjs/);
      assert.equal(lines.filter((line) => /^\S+Z \[slot [01] pid \d+ stderr\] listening in slot [01]$/.test(line)).length, 2);
      assert.ok(lines.some((line) => /\[slot [01] pid \d+ stdout\] served \/one $/.test(line)));
      const json = await runCommand(BIN, ['logs', 'chatty', '-n', '2', '--json'], { cwd: dir, env });
      const objects = json.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
      assert.equal(objects.length, 2);
      assert.deepEqual(Object.keys(objects.at(-1)!).sort(), ['line', 'pid', 'slot', 'stream', 'time']);
    } finally {
      const stop = await runCommand(BIN, ['stop', 'chatty'], { cwd: dir, env });
      assert.equal(stop.status, 0, stop.stderr);
      await whenGone(pid); // Its last lines are in the file once it has exited.
    }
    // Stopped: the log stays, with the end of it.
    const after = await runCommand(BIN, ['logs', 'chatty', '-n', '1'], { cwd: dir, env });
    assert.match(after.stdout, /corral\[chatty\] stopped cleanly\n$/);
  });

  test('the log file rotates at --log-max-size with every worker writing into it; --log-max-files are kept; no line is torn', { timeout: 40_000 }, async () => {
    const env = isolated('rotation');
    const port = await freePort();
    const start = await runCommand(BIN, ['start', CHATTY, '-i', '2', '--name', 'rotating', '-d', '--log-max-size', '64K', '--log-max-files', '2'],
      { cwd: dir, env: { ...env, PORT: String(port), PAD: '1000' } });
    assert.equal(start.status, 0, start.stderr);
    try {
      for (let request = 0; request < 400; request += 1) await fetch(`http://127.0.0.1:${port}/${request}`, { headers: { connection: 'close' } });
    } finally {
      await runCommand(BIN, ['stop', 'rotating'], { cwd: dir, env });
      await whenGone(primaryPid(start.stdout));
    }
    const file = path.join(env['CORRAL_LOG_DIR']!, 'rotating.log');
    const files = [file, `${file}.1`, `${file}.2`];
    assert.deepEqual(files.map((name) => existsSync(name)), [true, true, true]);
    assert.ok(!existsSync(`${file}.3`), 'only --log-max-files rotated files are kept');
    const slots = new Set<string>();
    for (const name of files) {
      const text = readFileSync(name, 'utf8');
      assert.ok(statSync(name).size <= 64 * 1024 + 8 * 1024, `${name}: ${statSync(name).size} bytes`);
      assert.ok(text.endsWith('\n'));
      for (const line of text.trimEnd().split('\n')) {
        assert.match(line, /^\S+Z (corral\[rotating\] .*|\[slot [01] pid \d+ (stdout|stderr)\] (served \/\d+ x{1000}|listening in slot [01]))$/);
        slots.add(/\[slot ([01])/.exec(line)?.[1] ?? 'corral');
      }
    }
    assert.ok(slots.has('0') && slots.has('1'), 'both workers write into the same rotation');
    assert.match(readFileSync(file, 'utf8'), /served \/399 /);
  });

  test('in the foreground, --log-file writes the file while the terminal gets what it always gets; bad log limits are refused', { timeout: 30_000 }, async () => {
    const env = isolated('foreground');
    const port = await freePort();
    const app = startProgram(BIN, ['start', CHATTY, '-i', '1', '--name', 'fg', '--log-file'], { cwd: dir, env: { ...env, PORT: String(port) } });
    await app.waitForErr(/ready: 1 worker in \d+ ms; control socket .*; log file .*fg\.log$/);
    await fetch(`http://127.0.0.1:${port}/here`);
    // The terminal: the worker's line as it wrote it. The file: tagged.
    await app.waitFor(/^served \/here $/);
    app.child.kill('SIGTERM');
    assert.equal((await exitOf(app)).code, 0);
    const text = readFileSync(path.join(env['CORRAL_LOG_DIR']!, 'fg.log'), 'utf8');
    assert.match(text, /^\S+Z \[slot 0 pid \d+ stdout\] served \/here $/m);
    assert.match(text, /corral\[fg\] stopped cleanly\n$/);
    for (const [flag, value, message] of [
      ['--log-max-size', '1K', /--log-max-size: expected at least 64K/],
      ['--log-max-size', 'big', /--log-max-size: Expected `logMaxSize` to be a size such as 200M/],
      ['--log-max-files', '0', /--log-max-files: expected a whole number of files from 1 to 99, got `0`/],
    ] as const) {
      const bad = await runCommand(BIN, ['start', CHATTY, '--log-file', flag, value], { cwd: dir, env });
      assert.equal(bad.status, 2, bad.stderr);
      assert.match(bad.stderr, message);
    }
  });

  test('an app that throws on start: corral start -d exits 1 with the error once, and leaves nothing running', { timeout: 30_000 }, async () => {
    const env = isolated('throwing');
    const app = path.join(dir, 'throws.cjs');
    writeFileSync(app, "throw new Error('no database at start');\n");
    const start = await runCommand(BIN, ['start', app, '-i', '2', '--name', 'throws', '-d'], { cwd: dir, env });
    assert.equal(start.status, 1);
    assert.equal(start.stdout, '');
    assert.match(start.stderr, /^The cluster could not start: the worker for slot \d \(pid \d+\) exited with code 1 before it was ready/);
    assert.equal(start.stderr.split('Uncaught Error: no database at start').length - 1, 1, start.stderr);
    assert.deepEqual(await list(env), []);
    // A usage error is said at once, before anything starts in the background.
    const bad = await runCommand(BIN, ['start', app, '-d', '--instances', 'lots'], { cwd: dir, env });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /Expected `workers` to be a whole number/);
  });
});

describe('restart, and every app at once', () => {
  test('restart starts a detached app again as it was started; reload all and stop all act on every app; --json gives the results', { timeout: 60_000 }, async () => {
    const env = detachedIn({ CORRAL_RUN_DIR: path.join(dir, 'all-run'), CORRAL_LOG_DIR: path.join(dir, 'all-logs'), NODE_OPTIONS: '' });
    mkdirSync(env.CORRAL_RUN_DIR, { recursive: true, mode: 0o700 });
    const ports = [await freePort(), await freePort()];
    // Started from another directory, with a variable of its own: the restart keeps both.
    const elsewhere = path.join(dir, 'elsewhere');
    mkdirSync(elsewhere, { recursive: true });
    for (const [index, name] of ['first', 'second'].entries()) {
      const start = await runCommand(BIN, ['start', APP, '-i', '1', '--name', name, '-d'], { cwd: elsewhere, env: { ...env, PORT: String(ports[index]) } });
      assert.equal(start.status, 0, start.stderr);
    }
    const before = await list(env);
    const restart = await runCommand(BIN, ['restart', 'first', '--json'], { cwd: dir, env });
    assert.equal(restart.status, 0, restart.stderr);
    const ready = JSON.parse(restart.stdout) as { name: string; pid: number; workers: number; logFile: string };
    assert.equal(ready.name, 'first');
    assert.notEqual(ready.pid, before.find((app) => app.name === 'first')!.pid, 'a new primary');
    assert.equal(await (await fetch(`http://127.0.0.1:${ports[0]!}/`)).text(), '0', 'serving again, on the port of its environment');
    const after = await list(env);
    assert.deepEqual(after.map((app) => [app.name, app.pid]), [['first', ready.pid], ['second', before.find((app) => app.name === 'second')!.pid]]);

    const reload = await runCommand(BIN, ['reload', 'all'], { cwd: dir, env });
    assert.equal(reload.status, 0, reload.stderr);
    assert.match(reload.stdout, /^first: reloaded; every worker runs generation 2 \(\d+ ms\)\nsecond: reloaded; every worker runs generation 2 \(\d+ ms\)\n$/);
    const stop = await runCommand(BIN, ['stop', 'all', '--json'], { cwd: dir, env });
    assert.equal(stop.status, 0, stop.stderr);
    const stopped = JSON.parse(stop.stdout) as { name: string; ok: boolean; result: { clean: boolean } }[];
    assert.deepEqual(stopped.map((entry) => [entry.name, entry.ok, entry.result.clean]), [['first', true, true], ['second', true, true]]);
    await Promise.all(after.map((app) => whenGone(app.pid)));
    assert.deepEqual(await list(env), []);
    const none = await runCommand(BIN, ['stop', 'all'], { cwd: dir, env });
    assert.deepEqual([none.status, none.stdout], [0, 'no corral app is running for this user.\n']);
  });

  test('a foreground app is not restarted by corral (what runs it owns that); the name all is kept for every app; help <command>', { timeout: 30_000 }, async () => {
    const env = { CORRAL_RUN_DIR: path.join(dir, 'fg-run'), NODE_OPTIONS: '' };
    mkdirSync(env.CORRAL_RUN_DIR, { recursive: true, mode: 0o700 });
    const app = startProgram(BIN, ['start', APP, '-i', '1', '--name', 'fg'], { cwd: dir, env: { ...env, PORT: String(await freePort()) } });
    await app.waitForErr(/ready: 1 worker/);
    const restart = await runCommand(BIN, ['restart', 'fg'], { cwd: dir, env });
    assert.equal(restart.status, 2);
    assert.match(restart.stderr, /'fg' runs in the foreground .* restart it there \(for example 'systemctl restart <unit>'\), or run 'corral reload fg'/);
    assert.ok(app.child.exitCode === null, 'still running');
    const named = await runCommand(BIN, ['start', APP, '--name', 'all'], { cwd: dir, env });
    assert.equal(named.status, 2);
    assert.match(named.stderr, /Expected `name` to be a name other than 'all'/);
    const help = await runCommand(BIN, ['help', 'restart'], { cwd: dir });
    assert.match(help.stdout, /^Usage: corral restart \[name\|all\] \[--json\]/);
    const unknown = await runCommand(BIN, ['help', 'resurrect'], { cwd: dir });
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /^corral: no command 'resurrect'/);
    app.child.kill('SIGTERM');
    await exitOf(app);
  });
});

describe('what PM2 users set', () => {
  test('--instance-var names the variable that carries the slot (none: no variable); --cwd sets the workers\' directory', { timeout: 30_000 }, async () => {
    // Whatever the environment of the test has, the workers' variables are corral's alone.
    const env = { CORRAL_RUN_DIR: path.join(dir, 'pm2-run'), NODE_OPTIONS: '', NODE_APP_INSTANCE: undefined, INSTANCE_ID: undefined };
    mkdirSync(env.CORRAL_RUN_DIR, { recursive: true, mode: 0o700 });
    const app = path.join(dir, 'env-reporter.cjs');
    writeFileSync(app, `require('node:http').createServer((req, res) => res.end(JSON.stringify({
  cwd: process.cwd(), pm2: process.env.NODE_APP_INSTANCE ?? null, own: process.env.INSTANCE_ID ?? null, slot: process.env.CORRAL_SLOT,
}))).listen(Number(process.env.PORT), '127.0.0.1');\n`);
    const workdir = path.join(dir, 'workdir');
    mkdirSync(workdir, { recursive: true });
    for (const [flag, expected] of [['INSTANCE_ID', { pm2: null, own: '0' }], ['none', { pm2: null, own: null }]] as const) {
      const port = await freePort();
      const corral = startProgram(BIN, ['start', app, '-i', '1', '--name', `var-${flag}`, '--instance-var', flag, '--cwd', 'workdir'],
        { cwd: dir, env: { ...env, PORT: String(port) } });
      await corral.waitForErr(/ready: 1 worker/);
      const seen = await (await fetch(`http://127.0.0.1:${port}/`)).json() as Record<string, unknown>;
      assert.deepEqual(seen, { cwd: workdir, slot: '0', ...expected }, corral.stderr());
      corral.child.kill('SIGTERM');
      await exitOf(corral);
    }
    const bad = await runCommand(BIN, ['start', app, '--instance-var', 'CORRAL_SLOT'], { cwd: dir, env });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--instance-var: Expected `instanceVar` to be an environment variable name such as NODE_APP_INSTANCE, or 'none'.*It may not be CORRAL_SLOT/);
  });
});

describe('a PM2 ecosystem file', () => {
  test('with two apps runs as it is: each app its own detached primary, PM2 keys translated, a profile for all; one app in the foreground with --only', { timeout: 60_000 }, async () => {
    const env = detachedIn({ CORRAL_RUN_DIR: path.join(dir, 'eco-run'), CORRAL_LOG_DIR: path.join(dir, 'eco-logs'), NODE_OPTIONS: '', NODE_APP_INSTANCE: undefined });
    mkdirSync(env.CORRAL_RUN_DIR, { recursive: true, mode: 0o700 });
    const project = path.join(dir, 'eco');
    mkdirSync(path.join(project, 'jobs'), { recursive: true });
    writeFileSync(path.join(project, 'api.cjs'), `require('node:http').createServer((req, res) => res.end(JSON.stringify({
  greeting: process.env.GREETING, instance: process.env.NODE_APP_INSTANCE, args: process.argv.slice(2), execArgv: process.execArgv,
}))).listen(Number(process.env.PORT), '127.0.0.1');\n`);
    writeFileSync(path.join(project, 'jobs', 'jobs.cjs'), `require('node:http').createServer((req, res) => res.end(JSON.stringify({
  cwd: process.cwd(), greeting: process.env.GREETING ?? null,
}))).listen(Number(process.env.PORT), '127.0.0.1');\n`);
    const [apiPort, jobsPort] = [await freePort(), await freePort()];
    // As PM2's documentation writes one: CommonJS, snake_case keys, numbers in env, a deploy section.
    writeFileSync(path.join(project, 'ecosystem.config.js'), `module.exports = {
  apps: [{
    name: 'eco-api', script: './api.cjs', instances: 2, exec_mode: 'cluster', port: ${apiPort}, args: '--mode fast',
    node_args: '--max-old-space-size=256', env: { GREETING: 'hello' }, env_production: { GREETING: 'production' },
    max_memory_restart: '300M', kill_timeout: 3000, kill_signal: 'SIGINT', listen_timeout: 8000, min_uptime: 2000, merge_logs: true, time: true,
  }, {
    name: 'eco-jobs', cwd: 'jobs', script: 'jobs.cjs', instances: 1, env: { PORT: ${jobsPort} },
  }],
  deploy: { production: { user: 'deploy', host: 'example.com' } },
};
`);
    const foreground = await runCommand(BIN, ['start', 'ecosystem.config.js'], { cwd: project, env });
    assert.equal(foreground.status, 2);
    assert.match(foreground.stderr, /^corral start: ecosystem\.config\.js holds 2 apps \(eco-api, eco-jobs\)\. Each runs as its own primary, so together they run in the background: corral start ecosystem\.config\.js -d\. To run one in the foreground: corral start ecosystem\.config\.js --only eco-api\./);

    const start = await runCommand(BIN, ['start', 'ecosystem.config.js', '-d', '--profile', 'production'], { cwd: project, env });
    assert.equal(start.status, 0, start.stderr);
    assert.match(start.stderr, /^corral: PM2 keys left out, as they change nothing here: deploy \(pm2 deploy's settings; corral does not deploy\); exec_mode \(/);
    assert.match(start.stdout, /^eco-api: running in the background: primary pid \d+, 2 workers ready in \d+ ms\n(.*\n){3}eco-jobs: running in the background: primary pid \d+, 1 worker ready/);
    const api = await (await fetch(`http://127.0.0.1:${apiPort}/`)).json() as Record<string, unknown>;
    assert.deepEqual(api, { greeting: 'production', instance: api['instance'], args: ['--mode', 'fast'], execArgv: api['execArgv'] });
    assert.ok(api['instance'] === '0' || api['instance'] === '1');
    assert.ok((api['execArgv'] as string[]).includes('--max-old-space-size=256'), String(api['execArgv']));
    // The profile applies to the apps that have its block; the other runs on its env, in its cwd.
    assert.deepEqual(await (await fetch(`http://127.0.0.1:${jobsPort}/`)).json(), { cwd: path.join(project, 'jobs'), greeting: null });
    assert.deepEqual((await list(env)).map((app) => [app.name, app.workers.configured]), [['eco-api', 2], ['eco-jobs', 1]]);
    const logs = await runCommand(BIN, ['logs', 'eco-api', '-n', '50'], { cwd: project, env });
    assert.match(logs.stdout, /PM2 keys left out, as they change nothing here: deploy \(pm2 deploy's settings; corral does not deploy\); exec_mode \(corral always runs an app as a cluster\); merge_logs \(.*\); time \(/);
    // Each PM2 key became the corral option of the same meaning.
    const { options } = await startOptions.parseStart(['ecosystem.config.js', '--only', 'eco-api', '--profile', 'production'], project);
    assert.deepEqual({ ...options }, {
      name: 'eco-api', exec: path.join(project, 'api.cjs'), workers: 2, args: ['--mode', 'fast'], execArgv: ['--max-old-space-size=256'],
      env: { GREETING: 'production', PORT: String(apiPort) }, maxMemory: '300M', shutdownTimeout: 3000, killSignal: 'SIGINT', startTimeout: 8000,
      restart: { minUptime: 2000 },
    });
    // restart starts it the way it was started: that one app of the file, with the profile.
    const restart = await runCommand(BIN, ['restart', 'eco-api'], { cwd: dir, env });
    assert.equal(restart.status, 0, restart.stderr);
    assert.equal((await (await fetch(`http://127.0.0.1:${apiPort}/`)).json() as Record<string, unknown>)['greeting'], 'production');
    const stop = await runCommand(BIN, ['stop', 'all'], { cwd: dir, env });
    assert.equal(stop.status, 0, stop.stderr);
    const running = await list(env);
    await Promise.all(running.map((app) => whenGone(app.pid)));

    // --only: one app, in the foreground.
    const one = startProgram(BIN, ['start', 'ecosystem.config.js', '--only', 'eco-jobs'], { cwd: project, env });
    await one.waitForErr(/ready: 1 worker/);
    assert.deepEqual(await (await fetch(`http://127.0.0.1:${jobsPort}/`)).json(), { cwd: path.join(project, 'jobs'), greeting: null });
    one.child.kill('SIGTERM');
    assert.equal((await exitOf(one)).code, 0);
  });

  test("wait_ready: true is --ready manual: the app's process.send('ready') makes it ready, as under PM2", { timeout: 40_000 }, async () => {
    const env = { CORRAL_RUN_DIR: path.join(dir, 'eco-ready-run'), NODE_OPTIONS: '' };
    mkdirSync(env.CORRAL_RUN_DIR, { recursive: true, mode: 0o700 });
    const project = path.join(dir, 'eco-ready');
    mkdirSync(project, { recursive: true });
    // As PM2's guide writes it: listen, then say ready (here after a warm-up, so that listening alone is not taken for it).
    writeFileSync(path.join(project, 'app.cjs'), `require('node:http').createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1', () => {
  setTimeout(() => { console.log('warm, sending ready'); process.send('ready'); }, 300);
});
`);
    writeFileSync(path.join(project, 'ecosystem.config.js'), `module.exports = { apps: [{ name: 'eco-ready', script: 'app.cjs', instances: 1, wait_ready: true, listen_timeout: 120000 }] };
`);
    const { options } = await startOptions.parseStart(['ecosystem.config.js'], project);
    assert.equal(options.readyWhen, 'manual');
    const corral = startProgram(BIN, ['start', 'ecosystem.config.js'], { cwd: project, env: { ...env, PORT: String(await freePort()) } });
    await corral.waitForErr(/starting 1 worker of .*ready when manual\)/);
    await corral.waitForErr(/ready: 1 worker/, 1, 25_000);
    await corral.waitFor(/^warm, sending ready$/);
    corral.child.kill('SIGTERM');
    assert.equal((await exitOf(corral)).code, 0);
  });

  test('PM2 keys corral cannot honour are refused with its equivalent; unknown keys, clashing names and a wrong --only are named', async () => {
    const env = detachedIn({ CORRAL_RUN_DIR: path.join(dir, 'eco-bad-run'), NODE_OPTIONS: '' });
    mkdirSync(env.CORRAL_RUN_DIR, { recursive: true, mode: 0o700 });
    const project = path.join(dir, 'eco-bad');
    mkdirSync(project, { recursive: true });
    writeFileSync(path.join(project, 'api.cjs'), '');
    const cases: [string, RegExp][] = [
      ["{ apps: [{ script: 'api.cjs', cron_restart: '0 0 * * *' }] }", /ecosystem\.config\.js: apps\[0\]: PM2's `cron_restart`: corral has no cron of its own: maxAge: '24h' replaces each worker .* 'corral reload <name>'/],
      ["{ apps: [{ script: 'api.cjs', out_file: './out.log' }] }", /PM2's `out_file`: corral writes one log file per app, <log dir>\/<name>\.log .* 'corral logs <name>'/],
      ["{ apps: [{ script: 'api.cjs', exec_mode: 'fork' }] }", /PM2's `exec_mode`: fork mode: corral runs every app as a cluster of workers\. For one process, set instances: 1/],
      ["{ apps: [{ script: 'api.cjs', wait_ready: 'yes' }] }", /PM2's `wait_ready`: expected true or false, got 'yes'.*true waits for the app's process\.send\('ready'\) \(readyWhen: 'manual'\)/],
      ["{ apps: [{ script: 'api.cjs', scirpt: 'api.cjs' }] }", /apps\[0\]: unknown key `scirpt`\. The known keys are .*and PM2's ecosystem keys/],
      ["{ apps: [{ script: 'api.cjs', exec: 'api.cjs' }] }", /apps\[0\]: PM2's `script` and `exec` both set exec: keep one\./],
      ["{ apps: [{ script: 'api.cjs' }, { script: './api.cjs' }] }", /apps\[0\] and .*apps\[1\] are both named api/],
      ["{ apps: [] }", /apps: expected a list of apps/],
      ["{ apps: [{ script: 'api.cjs' }], workers: 2 }", /`workers` beside `apps`: settings go into each app/],
    ];
    for (const [config, message] of cases) {
      writeFileSync(path.join(project, 'ecosystem.config.js'), `module.exports = ${config};\n`);
      const result = await runCommand(BIN, ['start', 'ecosystem.config.js', '-d'], { cwd: project, env });
      assert.equal(result.status, 2, `${config}: ${result.stderr}`);
      assert.match(result.stderr, message, config);
    }
    writeFileSync(path.join(project, 'ecosystem.config.js'), "module.exports = { apps: [{ name: 'a', script: 'api.cjs' }, { name: 'b', script: 'api.cjs' }] };\n");
    const only = await runCommand(BIN, ['start', 'ecosystem.config.js', '--only', 'c'], { cwd: project, env });
    assert.equal(only.status, 2);
    assert.match(only.stderr, /--only c: ecosystem\.config\.js has no app of that name \(its apps: a, b\)/);
    const systemd = await runCommand(BIN, ['startup', 'systemd', 'ecosystem.config.js'], { cwd: project, env });
    assert.equal(systemd.status, 2);
    assert.match(systemd.stderr, /a unit runs one app's primary\. Make one unit per app: corral startup systemd ecosystem\.config\.js --only a; corral startup systemd ecosystem\.config\.js --only b\./);
    assert.deepEqual(await list(env), [], 'nothing started');
  });
});

describe('corral start --watch', () => {
  test('a change to the app\'s files reloads it with no failed request under load and says what changed; node_modules is left out; Node\'s own --watch is refused', { timeout: 40_000 }, async () => {
    const env = { CORRAL_RUN_DIR: path.join(dir, 'watch-run'), NODE_OPTIONS: '' };
    mkdirSync(env.CORRAL_RUN_DIR, { recursive: true, mode: 0o700 });
    const watched = path.join(dir, 'watched');
    mkdirSync(path.join(watched, 'node_modules'), { recursive: true });
    const app = path.join(watched, 'app.cjs');
    const version = (text: string): string => `require('node:http').createServer((req, res) => res.end('${text}')).listen(Number(process.env.PORT), '127.0.0.1');\n`;
    writeFileSync(app, version('v1'));
    const port = await freePort();
    const corral = startProgram(BIN, ['start', app, '-i', '2', '--name', 'watched', '--watch=watched'], { cwd: dir, env: { ...env, PORT: String(port) } });
    await corral.waitForErr(/watching .*watched for changes/);
    const load = startLoad(port, { connections: 8, keepAlive: false });
    await load.moreResponses(200);
    writeFileSync(path.join(watched, 'node_modules', 'dependency.js'), '// changed\n');
    writeFileSync(app, version('v2'));
    const [changed] = await corral.waitForErr(/changed: .*; reloading$/);
    assert.match(changed!, /changed: watched\/app\.cjs; reloading$/);
    await corral.waitForErr(/reloaded: every worker runs generation 2/);
    await load.moreResponses(200);
    const result = await load.stop();
    assert.deepEqual({ non2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts }, { non2xx: 0, errors: 0, timeouts: 0 });
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'v2');
    corral.child.kill('SIGTERM');
    assert.equal((await exitOf(corral)).code, 0);
    const refused = await runCommand(BIN, ['start', app, '--node-args', '--watch'], { cwd: dir, env });
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /--node-args: Node's --watch restarts a worker's process .* Use 'corral start --watch' instead/);
  });
});

describe('environment files and profiles', () => {
  test('--env-file and a config profile make the workers\' environment; a reload reads them again and says which changes need a restart', { timeout: 40_000 }, async () => {
    const env = { CORRAL_RUN_DIR: path.join(dir, 'envfile-run'), NODE_OPTIONS: '' };
    mkdirSync(env.CORRAL_RUN_DIR, { recursive: true, mode: 0o700 });
    const project = path.join(dir, 'profiled');
    mkdirSync(project, { recursive: true });
    writeFileSync(path.join(project, 'app.cjs'), `require('node:http').createServer((req, res) => res.end(JSON.stringify({
  FROM_FILE: process.env.FROM_FILE, SHARED: process.env.SHARED, MODE: process.env.MODE, FLAG: process.env.FLAG,
}))).listen(Number(process.env.PORT), '127.0.0.1');\n`);
    const writeConfig = (workers: number, mode: string): void => writeFileSync(path.join(project, 'corral.config.mjs'),
      `export default { exec: './app.cjs', name: 'profiled', workers: ${workers}, envFile: ['./base.env'], env: { SHARED: 'from env', MODE: 'development' }, env_production: { MODE: '${mode}' } };\n`);
    writeConfig(1, 'production');
    writeFileSync(path.join(project, 'base.env'), '# comments and quotes, as Node reads them\nFROM_FILE="first"\nSHARED=from the file\n');
    const port = await freePort();
    const corral = startProgram(BIN, ['start', '--profile', 'production', '--env', 'FLAG=on'], { cwd: project, env: { ...env, PORT: String(port) } });
    await corral.waitForErr(/ready: 1 worker/);
    const served = async (): Promise<Record<string, string>> => (await (await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } })).json()) as Record<string, string>;
    // Lowest to highest: the env file, env, the profile, --env.
    assert.deepEqual(await served(), { FROM_FILE: 'first', SHARED: 'from env', MODE: 'production', FLAG: 'on' });
    writeFileSync(path.join(project, 'base.env'), 'FROM_FILE=second\n');
    writeConfig(2, 'live');
    const reload = await runCommand(BIN, ['reload', 'profiled'], { cwd: dir, env });
    assert.equal(reload.status, 0, reload.stderr);
    assert.match(reload.stdout, /^profiled: reloaded; every worker runs generation 2 \(\d+ ms\)\n {2}changed in the config since the start, applied only by a restart \('corral restart profiled'\): workers\n$/);
    assert.deepEqual(await served(), { FROM_FILE: 'second', SHARED: 'from env', MODE: 'live', FLAG: 'on' });
    await corral.waitForErr(/WARN changed since the start, and applied only by a restart .*: workers; this reload applies the new environment/);
    // A config that no longer reads fails the reload; the app runs on as it was.
    writeFileSync(path.join(project, 'corral.config.mjs'), 'export default { exec: ./broken };\n');
    const broken = await runCommand(BIN, ['reload', 'profiled'], { cwd: dir, env });
    assert.equal(broken.status, 1);
    assert.match(broken.stderr, /the config could not be read again, so nothing was reloaded and the app runs on unchanged: cannot load corral\.config\.mjs/);
    assert.equal((await served())['MODE'], 'live');
    corral.child.kill('SIGTERM');
    await exitOf(corral);
    const missing = await runCommand(BIN, ['start', '--profile', 'staging'], { cwd: project, env });
    assert.equal(missing.status, 2);
  });

  test('a profile the config does not have, and an env file that does not exist, are refused with what there is', async () => {
    const project = path.join(dir, 'profiles-bad');
    mkdirSync(project, { recursive: true });
    writeFileSync(path.join(project, 'app.cjs'), '\n');
    writeFileSync(path.join(project, 'corral.config.json'), JSON.stringify({ exec: './app.cjs', env_production: { A: '1' }, env_staging: { A: '2' } }));
    const env = { CORRAL_RUN_DIR: path.join(dir, 'profiles-bad-run'), NODE_OPTIONS: '' };
    const profile = await runCommand(BIN, ['start', '--profile', 'qa'], { cwd: project, env });
    assert.equal(profile.status, 2);
    assert.match(profile.stderr, /--profile: no env_qa block in the config file \(it has env_production, env_staging\)/);
    // Node itself looks for every --env-file in its arguments, after the script's name too, and
    // stops at a missing one before any code runs: its own message and exit code (9).
    const flag = await runCommand(BIN, ['start', '--env-file', 'nope.env'], { cwd: project, env });
    assert.equal(flag.status, 9);
    assert.match(flag.stderr, /nope\.env: not found/);
    // From the config file, corral's own message.
    writeFileSync(path.join(project, 'corral.config.json'), JSON.stringify({ exec: './app.cjs', envFile: 'nope.env' }));
    const file = await runCommand(BIN, ['start'], { cwd: project, env });
    assert.equal(file.status, 2);
    assert.match(file.stderr, /corral\.config\.json: envFile: cannot read .*nope\.env \(ENOENT\)/);
  });
});
