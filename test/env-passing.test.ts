// `--env KEY` alone and CORRAL_ENV_<KEY>: how a unit of `corral startup systemd` hands its --env
// values to `corral start` (through EnvironmentFile=, which sets them in the primary's own
// environment too). Under the prefixed names they reach the workers as KEY and nothing else:
// the primary's own Node (NODE_OPTIONS), its log directory or PATH stay what the unit says, and
// neither the workers nor the primary's code see the CORRAL_ENV_* variables. Real processes: a
// worker and a --primary module write what they see to a file before the app is ready.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { exitOf, killPrograms, runCommand, startProgram } from './helpers/program.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const root = mkdtempSync(path.join(os.tmpdir(), 'corral-env-passing-'));
after(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => killPrograms());

/** What a process saw: its environment, how it was started, and its heap limit. */
interface Seen {
  readonly pid: number;
  readonly env: Record<string, string>;
  readonly execArgv: string[];
  readonly heapLimit: number;
}

// Written synchronously before listen(): once corral says the worker is ready, the file is there.
const SEE = `const see = (file) => require('node:fs').writeFileSync(file, JSON.stringify({
  pid: process.pid, env: process.env, execArgv: process.execArgv, heapLimit: require('node:v8').getHeapStatistics().heap_size_limit,
}));\n`;
const APP = path.join(root, 'app.cjs');
writeFileSync(APP, `${SEE}see(process.argv[2] + '/worker.json');\n` +
  "require('node:http').createServer((req, res) => res.end('ok')).listen(0, '127.0.0.1');\n");
const PRIMARY = path.join(root, 'primary.cjs');
writeFileSync(PRIMARY, `${SEE}see(process.env.SEEN_DIR + '/primary.json');\n`);

let count = 0;
/** A run directory, a log directory and a directory for what the processes saw, private to one test. */
function isolated(label: string): { env: Record<string, string>; seen: string } {
  count += 1;
  const dir = path.join(root, `${label}-${count}`);
  const seen = path.join(dir, 'seen');
  for (const sub of [dir, path.join(dir, 'run'), path.join(dir, 'logs'), seen]) mkdirSync(sub, { mode: 0o700 });
  // NODE_OPTIONS empty: whatever the test runner was given stays out of corral.
  return { env: { CORRAL_RUN_DIR: path.join(dir, 'run'), CORRAL_LOG_DIR: path.join(dir, 'logs'), NODE_OPTIONS: '', SEEN_DIR: seen }, seen };
}

const read = (file: string): Seen => JSON.parse(readFileSync(file, 'utf8')) as Seen;
const prefixed = (seen: Seen): string[] => Object.keys(seen.env).filter((key) => key.startsWith('CORRAL_ENV_'));

describe('--env KEY alone takes CORRAL_ENV_KEY, else KEY, for the workers alone', () => {
  test('CORRAL_ENV_SECRET and CORRAL_ENV_NODE_OPTIONS reach the workers as SECRET and NODE_OPTIONS, also after a reload; the primary keeps its own', { timeout: 60_000 }, async () => {
    const { env, seen } = isolated('prefixed');
    const app = startProgram(BIN, ['start', APP, '-i', '1', '--name', 'prefixed', '--primary', PRIMARY, '--env', 'SECRET', '--env', 'NODE_OPTIONS', '--', seen], {
      cwd: root,
      // SECRET is also set without the prefix, as a shell may have it: the prefixed value wins.
      // CORRAL_ENV_FORGOTTEN: a line of a unit's file whose --env is missing from ExecStart.
      env: { ...env, CORRAL_ENV_SECRET: 's3cret', CORRAL_ENV_NODE_OPTIONS: '--max-old-space-size=100', SECRET: 'the shell\'s', CORRAL_ENV_FORGOTTEN: 'lost' },
    });
    await app.waitForErr(/corral\[prefixed\] ready: 1 worker/);
    assert.match(app.stderr(), /WARN CORRAL_ENV_FORGOTTEN is set, but no --env FORGOTTEN alone takes it: no worker gets its value/);
    assert.doesNotMatch(app.stderr(), /WARN CORRAL_ENV_(SECRET|NODE_OPTIONS)/, 'the ones --env took are not said');
    const worker = read(path.join(seen, 'worker.json'));
    assert.equal(worker.env['SECRET'], 's3cret');
    assert.equal(worker.env['NODE_OPTIONS'], '--max-old-space-size=100');
    // heap_size_limit counts the young generation as well, which newer V8s make larger (Node 24:
    // 292 MiB for --max-old-space-size=100); Node's default is 2 GiB or more.
    assert.ok(worker.heapLimit <= 512 * 2 ** 20, `the worker's Node took NODE_OPTIONS (heap limit ${worker.heapLimit})`);
    assert.equal(worker.env['CORRAL_ENV_SECRET'], undefined);
    assert.equal(worker.env['FORGOTTEN'], undefined);
    assert.deepEqual(prefixed(worker), [], 'no CORRAL_ENV_* variable reaches a worker');

    const primary = read(path.join(seen, 'primary.json'));
    assert.equal(primary.env['NODE_OPTIONS'], '', "the primary's NODE_OPTIONS is the one it was started with");
    assert.ok(!primary.execArgv.some((arg) => arg.includes('max-old-space-size')), primary.execArgv.join(' '));
    assert.ok(primary.heapLimit > worker.heapLimit, `the primary's heap limit (${primary.heapLimit}) is Node's default, not the workers' ${worker.heapLimit}`);
    assert.equal(primary.env['SECRET'], 'the shell\'s', "the primary's own SECRET is untouched: --env is for the workers");
    assert.deepEqual(prefixed(primary), [], "the primary's code sees no CORRAL_ENV_* variable either");

    // A reload reads the options again (flag-parsers.ts): the values taken at the start still hold.
    const reload = await runCommand(BIN, ['reload', 'prefixed'], { cwd: root, env });
    assert.equal(reload.status, 0, reload.stderr);
    const reloaded = read(path.join(seen, 'worker.json'));
    assert.notEqual(reloaded.pid, worker.pid, 'a new worker wrote the file');
    assert.equal(reloaded.env['SECRET'], 's3cret');
    assert.equal(reloaded.env['NODE_OPTIONS'], '--max-old-space-size=100');
    assert.deepEqual(prefixed(reloaded), []);

    // Run in the foreground, as a unit runs it: `corral restart` leaves its restarts to systemd.
    const restart = await runCommand(BIN, ['restart', 'prefixed'], { cwd: root, env });
    assert.equal(restart.status, 2, restart.stderr);
    assert.match(restart.stderr, /'prefixed' runs in the foreground/);

    app.child.kill('SIGTERM');
    assert.equal((await exitOf(app)).code, 0, app.stderr());
  });

  test('--env SECRET with SECRET alone set passes it on, as docker run -e does; a KEY that starts with CORRAL_ENV_ is looked up the same way; neither set is refused', { timeout: 60_000 }, async () => {
    const { env, seen } = isolated('plain');
    const app = startProgram(BIN, ['start', APP, '-i', '1', '--name', 'plain', '--env', 'SECRET', '--env', 'CORRAL_ENV_TWICE', '--env', 'CORRAL_ENV_ONCE', '--', seen], {
      cwd: root,
      // The worker's CORRAL_ENV_TWICE comes from CORRAL_ENV_CORRAL_ENV_TWICE, as any KEY from
      // CORRAL_ENV_KEY; CORRAL_ENV_ONCE, with no such variable, from CORRAL_ENV_ONCE itself.
      env: { ...env, SECRET: 'plain secret', CORRAL_ENV_CORRAL_ENV_TWICE: 'twice', CORRAL_ENV_ONCE: 'once' },
    });
    await app.waitForErr(/corral\[plain\] ready: 1 worker/);
    const worker = read(path.join(seen, 'worker.json'));
    assert.equal(worker.env['SECRET'], 'plain secret');
    assert.deepEqual(prefixed(worker).sort(), ['CORRAL_ENV_ONCE', 'CORRAL_ENV_TWICE'], 'the variables --env named, and not CORRAL_ENV_CORRAL_ENV_TWICE');
    assert.equal(worker.env['CORRAL_ENV_TWICE'], 'twice');
    assert.equal(worker.env['CORRAL_ENV_ONCE'], 'once');
    assert.doesNotMatch(app.stderr(), /WARN/, 'every CORRAL_ENV_* variable was taken by an --env');
    app.child.kill('SIGTERM');
    assert.equal((await exitOf(app)).code, 0, app.stderr());

    const unset = await runCommand(BIN, ['start', APP, '-i', '1', '--name', 'unset', '--env', 'CORRAL_TEST_NEVER_SET', '--', seen], { cwd: root, env });
    assert.equal(unset.status, 2, unset.stderr);
    assert.match(unset.stderr, /got 'CORRAL_TEST_NEVER_SET' \(string\), which is not set in corral's environment to pass on, nor is CORRAL_ENV_CORRAL_TEST_NEVER_SET\./);
  });

  test('corral start -d and corral restart: the detached primary and the restarted one take CORRAL_ENV_SECRET as the first did', { timeout: 60_000 }, async () => {
    const { env, seen } = isolated('detached');
    try {
      const start = await runCommand(BIN, ['start', APP, '-i', '1', '--name', 'detached', '-d', '--primary', PRIMARY, '--env', 'SECRET', '--', seen],
        { cwd: root, env: { ...env, CORRAL_ENV_SECRET: 's3cret' } });
      assert.equal(start.status, 0, start.stderr);
      const worker = read(path.join(seen, 'worker.json'));
      assert.equal(worker.env['SECRET'], 's3cret');
      assert.deepEqual(prefixed(worker), []);
      assert.deepEqual(prefixed(read(path.join(seen, 'primary.json'))), []);

      // Restarted from the environment it was started with (control `launch`), CORRAL_ENV_SECRET included.
      const restart = await runCommand(BIN, ['restart', 'detached'], { cwd: root, env });
      assert.equal(restart.status, 0, restart.stderr);
      const again = read(path.join(seen, 'worker.json'));
      assert.notEqual(again.pid, worker.pid, 'a new worker wrote the file');
      assert.equal(again.env['SECRET'], 's3cret');
      assert.deepEqual(prefixed(again), []);
      assert.deepEqual(prefixed(read(path.join(seen, 'primary.json'))), []);
    } finally {
      const stop = await runCommand(BIN, ['stop', 'all'], { cwd: root, env });
      assert.equal(stop.status, 0, stop.stderr);
    }
  });
});
