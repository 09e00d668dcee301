// `corral startup systemd`: the unit it writes runs corral in the foreground the way systemd
// wants, and systemd's own checker accepts it. --env values (secrets) stay out of the unit and
// its command line: in a file of mode 0600 that EnvironmentFile= names, in systemd's syntax.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { startOptions } from './helpers/internals.js';
import { runCommand } from './helpers/program.js';
import { requireTool } from './helpers/tools.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-startup-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const APP = path.join(dir, 'api.cjs');
writeFileSync(APP, "require('node:http').createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT ?? 8080));\n");

/** systemd-analyze (from Debian's systemd package: `npm run setup:tools` installs it) accepts the unit file. */
function assertSystemdAccepts(file: string): void {
  requireTool('systemd-analyze', 'systemd', 'verifying the unit');
  const verify = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
  assert.equal(verify.status, 0, `systemd-analyze verify: ${verify.stderr}`);
  assert.doesNotMatch(verify.stderr, new RegExp(path.basename(file).replaceAll('.', '\\.')), verify.stderr);
}

describe('corral startup systemd', () => {
  test('prints a unit with absolute paths, a zero-downtime reload and a stop that lets the shutdown finish; systemd-analyze verify accepts it', { timeout: 180_000 }, async () => {
    const result = await runCommand(BIN, ['startup', 'systemd', 'api.cjs', '-i', '2', '--name', 'unit-api', '--shutdown-timeout', '20000', '--', '--verbose'], { cwd: dir });
    assert.equal(result.status, 0, result.stderr);
    const unit = result.stdout;
    assert.ok(unit.includes(`\nExecStart=${process.execPath} ${BIN} start ${APP} -i 2 --name unit-api --shutdown-timeout 20000 -- --verbose\n`), unit);
    assert.ok(unit.includes(`\nWorkingDirectory=${dir}\n`));
    assert.ok(unit.includes(`\nUser=${os.userInfo().username}\n`));
    assert.ok(unit.includes('\nExecReload=/bin/kill -HUP $MAINPID\n'));
    assert.ok(unit.includes('\nKillMode=mixed\n'));
    assert.ok(unit.includes('\nType=notify\nNotifyAccess=all\nWatchdogSec=30\n'), 'READY=1 and the watchdog through systemd-notify');
    assert.ok(unit.includes('\nTimeoutStopSec=25\n'), 'longer than corral\'s own 20 s deadline');
    assert.ok(unit.includes('\nRestart=on-failure\n'));
    assert.ok(unit.includes('\nWantedBy=multi-user.target\n'));
    assert.doesNotMatch(unit, /npx/);
    assert.doesNotMatch(unit, /EnvironmentFile=/, 'no --env, no file of values');
    const file = path.join(dir, 'corral-unit-api.service');
    writeFileSync(file, unit);
    assertSystemdAccepts(file);
  });

  test('--user --install writes a user unit and says the systemctl lines; bad requests are refused with the fix', async () => {
    const home = path.join(dir, 'home');
    mkdirSync(home, { recursive: true });
    const installed = await runCommand(BIN, ['startup', 'systemd', '--user', '--install', APP, '--name', 'mine'], { cwd: dir, env: { HOME: home } });
    assert.equal(installed.status, 0, installed.stderr);
    const file = path.join(home, '.config/systemd/user/corral-mine.service');
    assert.ok(existsSync(file));
    const unit = readFileSync(file, 'utf8');
    assert.doesNotMatch(unit, /^User=/m, 'a user unit runs as its user');
    assert.match(unit, /^WantedBy=default\.target$/m);
    assert.match(installed.stdout, /systemctl --user daemon-reload\n {2}systemctl --user enable --now corral-mine\.service\n/);
    assert.match(installed.stdout, /loginctl enable-linger/);
    for (const [args, message] of [
      [['startup', 'upstart', APP], /corral startup: 'upstart' is not supported: corral startup systemd <script>/],
      [['startup', 'systemd', APP, '-d'], /leave out -d: systemd runs corral in the foreground/],
      [['startup', 'systemd', APP, '-i', 'lots'], /--instances must be a whole number/],
    ] as const) {
      const bad = await runCommand(BIN, [...args], { cwd: dir });
      assert.equal(bad.status, 2, bad.stderr);
      assert.match(bad.stderr, message);
    }
  });
});

/** Values as secrets come: spaces, both quotes, `$`, `%` (a specifier in unit files), a backslash, a backtick, non-ASCII, a newline, a tab. */
const SECRETS = {
  TOKEN: 'hunter2 "quoted" \'single\' 5$ and $ %h %% back\\slash `tick` é',
  MULTI: 'line one\nline two\ttabbed',
  DOLLAR: '$HOME ${PATH}',
} as const;
/**
 * The same, in systemd's EnvironmentFile= syntax, written here by hand from systemd.exec(5), under
 * the names `corral start` takes them from: EnvironmentFile= sets its variables on the primary too,
 * where NODE_OPTIONS, PATH or CORRAL_LOG_DIR would change corral itself, and not the workers alone.
 */
const SECRET_LINES = [
  'CORRAL_ENV_TOKEN="hunter2 \\"quoted\\" \'single\' 5\\$ and \\$ %h %% back\\\\slash \\`tick\\` é"',
  'CORRAL_ENV_MULTI="line one\nline two\ttabbed"',
  'CORRAL_ENV_DOLLAR="\\$HOME \\${PATH}"',
  'CORRAL_ENV_FROM_SHELL="shell secret"',
];
const secretArgs = Object.entries(SECRETS).flatMap(([key, value]) => ['--env', `${key}=${value}`]);

/** Every secret, whole and in pieces, is absent from `text`. */
function assertNoSecret(text: string, where: string): void {
  for (const value of [...Object.values(SECRETS), 'shell secret', 'hunter2', 'line one', '${PATH}']) {
    assert.ok(!text.includes(value), `${where} holds the value ${JSON.stringify(value)}:\n${text}`);
  }
}

/**
 * How systemd itself reads such a file: its environment.d generator parses *.conf files with the
 * parser EnvironmentFile= uses (env-file.c) and prints each variable, shell-quoted. It then also
 * expands $NAME, which EnvironmentFile= does not: DOLLAR, with nothing else to show, is left out.
 */
function systemdReads(envFile: string): Map<string, string> {
  const generator = ['/usr/lib/systemd/user-environment-generators/30-systemd-environment-d-generator', '/lib/systemd/user-environment-generators/30-systemd-environment-d-generator']
    .find((file) => existsSync(file));
  assert.ok(generator !== undefined, "this test reads the file with systemd's environment.d generator (Debian's systemd package), which is missing");
  const config = mkdtempSync(path.join(dir, 'xdg-'));
  mkdirSync(path.join(config, 'environment.d'));
  const text = readFileSync(envFile, 'utf8').split(/\n(?=[A-Z_]+=)/).filter((line) => !line.startsWith('CORRAL_ENV_DOLLAR=')).join('\n');
  writeFileSync(path.join(config, 'environment.d', 'corral.conf'), text);
  const result = spawnSync(generator, [], { encoding: 'utf8', env: { XDG_CONFIG_HOME: config } });
  assert.equal(result.status, 0, result.stderr);
  const values = new Map<string, string>();
  for (const line of result.stdout.split('\n')) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (match === null) continue;
    const quoted = /^"(.*)"$/.exec(match[2]!);
    values.set(match[1]!, quoted === null ? match[2]! : quoted[1]!.replace(/\\(.)/g, (_all, char: string) => (char === 'n' ? '\n' : char === 't' ? '\t' : char)));
  }
  return values;
}

describe('corral startup systemd --env: the values stay out of the unit and its command line', () => {
  test('--user --install writes them to a file of mode 0600 that EnvironmentFile= names, in systemd\'s syntax; the unit (0644) and ExecStart hold names only', { timeout: 180_000 }, async () => {
    const home = path.join(dir, 'home-secrets');
    mkdirSync(home, { recursive: true });
    const installed = await runCommand(BIN, ['startup', 'systemd', '--user', '--install', APP, '--name', 'secret-api', ...secretArgs, '--env', 'FROM_SHELL', '-i', '2'],
      { cwd: dir, env: { HOME: home, FROM_SHELL: 'shell secret' } });
    assert.equal(installed.status, 0, installed.stderr);
    const envFile = path.join(home, '.config/corral/secret-api.env');
    const unitFile = path.join(home, '.config/systemd/user/corral-secret-api.service');
    assert.match(installed.stdout, new RegExp(`^wrote ${envFile} \\(mode 0600: CORRAL_ENV_TOKEN, CORRAL_ENV_MULTI, CORRAL_ENV_DOLLAR, CORRAL_ENV_FROM_SHELL\\)\\nwrote ${unitFile}\\n`));
    assertNoSecret(installed.stdout + installed.stderr, 'the output');

    const unit = readFileSync(unitFile, 'utf8');
    assertNoSecret(unit, 'the unit');
    assert.ok(unit.includes(`\nEnvironmentFile=${envFile}\n`), unit);
    assert.ok(unit.includes(`\nExecStart=${process.execPath} ${BIN} start ${APP} --name secret-api --env TOKEN --env MULTI --env DOLLAR --env FROM_SHELL -i 2\n`), unit);
    assert.equal(statSync(unitFile).mode & 0o777, 0o644);
    assertSystemdAccepts(unitFile);

    const stats = statSync(envFile);
    assert.equal(stats.mode & 0o777, 0o600, 'readable by its owner alone');
    assert.equal(stats.uid, process.getuid!(), 'owned by the user who ran corral startup');
    assert.equal(statSync(path.dirname(envFile)).mode & 0o777, 0o700);
    const text = readFileSync(envFile, 'utf8');
    assert.deepEqual(text.split(/\n(?=[A-Z_]+=)/).slice(1).map((line) => line.trimEnd()), SECRET_LINES, text);
    assert.deepEqual(text.split(/\n(?=[A-Z_]+=)/).slice(1).map((line) => line.split('=')[0]),
      ['CORRAL_ENV_TOKEN', 'CORRAL_ENV_MULTI', 'CORRAL_ENV_DOLLAR', 'CORRAL_ENV_FROM_SHELL'], 'prefixed names alone: none systemd would set on the primary as they are');
    const read = systemdReads(envFile);
    assert.deepEqual(['TOKEN', 'MULTI', 'FROM_SHELL'].filter((key) => read.has(key)), [], 'systemd reads none of them under its own name');
    assert.deepEqual([...['TOKEN', 'MULTI', 'FROM_SHELL'].map((key) => [key, read.get(`CORRAL_ENV_${key}`)])],
      [['TOKEN', SECRETS.TOKEN], ['MULTI', SECRETS.MULTI], ['FROM_SHELL', 'shell secret']], 'systemd reads back the values given');

    // Again, over a file left with mode 0644 and over a link planted at its name: a new file of
    // mode 0600 replaces both, and the link's target is never written.
    chmodSync(envFile, 0o644);
    const again = await runCommand(BIN, ['startup', 'systemd', '--user', '--install', APP, '--name', 'secret-api', '--env', 'TOKEN=second'], { cwd: dir, env: { HOME: home } });
    assert.equal(again.status, 0, again.stderr);
    assert.equal(statSync(envFile).mode & 0o777, 0o600);
    assert.match(readFileSync(envFile, 'utf8'), /\nCORRAL_ENV_TOKEN="second"\n$/);
    const decoy = path.join(dir, 'decoy');
    writeFileSync(decoy, 'untouched');
    rmSync(envFile);
    symlinkSync(decoy, envFile);
    const linked = await runCommand(BIN, ['startup', 'systemd', '--user', '--install', APP, '--name', 'secret-api', '--env', 'TOKEN=third'], { cwd: dir, env: { HOME: home } });
    assert.equal(linked.status, 0, linked.stderr);
    assert.equal(readFileSync(decoy, 'utf8'), 'untouched');
    assert.ok(!lstatSync(envFile).isSymbolicLink());
    assert.equal(statSync(envFile).mode & 0o777, 0o600);
    assert.match(readFileSync(envFile, 'utf8'), /\nCORRAL_ENV_TOKEN="third"\n$/);
  });

  test('printed, the unit names /etc/corral/<name>.env, and stderr says how to make it and which names go in, never the values; --env-file stays corral\'s', { timeout: 180_000 }, async () => {
    const envFile = path.join(dir, 'app.env');
    writeFileSync(envFile, 'FROM_FILE=1\n', { mode: 0o644 });
    chmodSync(envFile, 0o644);
    const printed = await runCommand(BIN, ['startup', 'systemd', APP, '--name', 'printed-api', ...secretArgs, '--env-file', 'app.env'], { cwd: dir });
    assert.equal(printed.status, 0, printed.stderr);
    const unit = printed.stdout;
    assertNoSecret(unit, 'the printed unit');
    assertNoSecret(printed.stderr, 'stderr');
    assert.ok(unit.includes('\nEnvironmentFile=/etc/corral/printed-api.env\n'), unit);
    assert.ok(unit.includes(`\nExecStart=${process.execPath} ${BIN} start ${APP} --name printed-api --env TOKEN --env MULTI --env DOLLAR --env-file app.env\n`), unit);
    assert.match(printed.stderr, /the unit reads the values of --env TOKEN, MULTI, DOLLAR from \/etc\/corral\/printed-api\.env \(EnvironmentFile=\); they are not printed/);
    assert.match(printed.stderr, /\n {2}sudo install -D -m 600 \/dev\/null \/etc\/corral\/printed-api\.env\n/);
    assert.match(printed.stderr, /a line CORRAL_ENV_KEY="value" for each of CORRAL_ENV_TOKEN, CORRAL_ENV_MULTI, CORRAL_ENV_DOLLAR \(/);
    assert.match(printed.stderr, /prefixed, as systemd sets the variables of EnvironmentFile= on corral's primary too.*NODE_OPTIONS.*corral start takes CORRAL_ENV_KEY out of its own environment and gives it to the workers alone, as KEY\..*Or add --install/s);
    assert.match(printed.stderr, new RegExp(`note: ${envFile} \\(--env-file\\), which corral reads at each start and reload, is open to every user \\(mode 0644\\): if it holds secrets, chmod 600`));
    const file = path.join(dir, 'corral-printed-api.service');
    writeFileSync(file, unit);
    assertSystemdAccepts(file);
    chmodSync(envFile, 0o600);
    const closed = await runCommand(BIN, ['startup', 'systemd', APP, '--name', 'printed-api', '--env-file', 'app.env'], { cwd: dir });
    assert.equal(closed.status, 0, closed.stderr);
    assert.equal(closed.stderr, '', 'no note on a file of mode 0600, and no file of values without --env');
    assert.doesNotMatch(closed.stdout, /EnvironmentFile=/);
    // A KEY that starts with CORRAL_ENV_ itself is prefixed as any other: --env CORRAL_ENV_X takes CORRAL_ENV_CORRAL_ENV_X first.
    const own = await runCommand(BIN, ['startup', 'systemd', APP, '--name', 'printed-api', '--env', 'CORRAL_ENV_X=1'], { cwd: dir });
    assert.equal(own.status, 0, own.stderr);
    assert.match(own.stdout, /\nExecStart=.* --name printed-api --env CORRAL_ENV_X\n/);
    assert.match(own.stderr, /for each of CORRAL_ENV_CORRAL_ENV_X \(/);
  });

  test('a name systemd would drop, or --env KEY could not take, is refused, naming it and not its value', async () => {
    const bad = await runCommand(BIN, ['startup', 'systemd', APP, '--env', 'my-key=topsecret'], { cwd: dir });
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /^corral startup: --env my-key=…: a unit passes on only variables named with letters, digits and underscores, not starting with a digit \(systemd's EnvironmentFile= drops other names, and --env KEY alone takes no other\)\. Rename the variable \(e\.g\. my_key\)\./);
    assert.doesNotMatch(bad.stderr + bad.stdout, /topsecret/);
    // A leading digit would be a good name once prefixed (CORRAL_ENV_1KEY), but ExecStart's --env 1KEY could not take it.
    const digit = await runCommand(BIN, ['startup', 'systemd', APP, '--env', '1KEY=topsecret'], { cwd: dir });
    assert.equal(digit.status, 2, digit.stderr);
    assert.match(digit.stderr, /^corral startup: --env 1KEY=…: a unit passes on only variables named .*\(e\.g\. _1KEY\)\./);
    assert.doesNotMatch(digit.stderr + digit.stdout, /topsecret/);
    const unset = await runCommand(BIN, ['startup', 'systemd', APP, '--env', 'CORRAL_TEST_NEVER_SET'], { cwd: dir });
    assert.equal(unset.status, 2, unset.stderr);
    assert.match(unset.stderr, /got 'CORRAL_TEST_NEVER_SET' \(string\), which is not set in corral's environment to pass on/);
  });

  test('--env KEY alone: the value CORRAL_ENV_KEY, or else KEY, has in corral\'s environment, still over the config file\'s env (what the unit\'s ExecStart relies on)', async () => {
    const project = mkdtempSync(path.join(dir, 'project-'));
    writeFileSync(path.join(project, 'api.cjs'), '');
    writeFileSync(path.join(project, 'corral.config.json'), JSON.stringify({ exec: './api.cjs', env: { CORRAL_TEST_TOKEN: 'from the config file', OTHER: 'kept' } }));
    assert.equal(process.env['CORRAL_TEST_TOKEN'], undefined, 'the test sets CORRAL_TEST_TOKEN itself');
    process.env['CORRAL_TEST_TOKEN'] = 'from the environment';
    try {
      const passed = await startOptions.parseStart(['--env', 'CORRAL_TEST_TOKEN'], project);
      assert.deepEqual(passed.options.env, { CORRAL_TEST_TOKEN: 'from the environment', OTHER: 'kept' });
      const given = await startOptions.parseStart(['--env', 'CORRAL_TEST_TOKEN=from the flag'], project);
      assert.deepEqual(given.options.env, { CORRAL_TEST_TOKEN: 'from the flag', OTHER: 'kept' });
      // The name a unit's EnvironmentFile= sets, CORRAL_ENV_<KEY>, comes first.
      process.env['CORRAL_ENV_CORRAL_TEST_TOKEN'] = 'from the unit\'s file';
      const prefixed = await startOptions.parseStart(['--env', 'CORRAL_TEST_TOKEN'], project);
      assert.deepEqual(prefixed.options.env, { CORRAL_TEST_TOKEN: 'from the unit\'s file', OTHER: 'kept' });
    } finally {
      delete process.env['CORRAL_TEST_TOKEN'];
      delete process.env['CORRAL_ENV_CORRAL_TEST_TOKEN'];
    }
    // The arguments of the unit: each --env KEY=VALUE left as --env KEY (the last of a name alone), the values taken out.
    const separated = startOptions.separateEnvValues(['api.cjs', '-i', '-1', '--env', 'A=1', '--env=B=2=3', '--name', 'n', '--env', 'A=9', '--watch=src', '--', '--env', 'X=1']);
    assert.deepEqual(separated.argv, ['api.cjs', '--instances=-1', '--env', 'B', '--name', 'n', '--env', 'A', '--watch=src', '--', '--env', 'X=1']);
    assert.deepEqual([...separated.env], [['B', '2=3'], ['A', '9']]);
  });
});
