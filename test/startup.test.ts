// `corral startup systemd`: the unit it writes runs corral in the foreground the way systemd
// wants, and systemd's own checker accepts it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { runCommand } from './helpers/program.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const ENSURE_SYSTEMD = fileURLToPath(new URL('../../scripts/ensure-systemd.sh', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-startup-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const APP = path.join(dir, 'api.cjs');
writeFileSync(APP, "require('node:http').createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT ?? 8080));\n");

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
    // systemd's own checker (systemd-analyze, from Debian's systemd package: scripts/ensure-systemd.sh installs it).
    const ensure = spawnSync('bash', [ENSURE_SYSTEMD], { encoding: 'utf8' });
    assert.equal(ensure.status, 0, `this test needs systemd-analyze to verify the unit, and could not install it: ${ensure.stderr}`);
    const file = path.join(dir, 'corral-unit-api.service');
    writeFileSync(file, unit);
    const verify = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
    assert.equal(verify.status, 0, `systemd-analyze verify: ${verify.stderr}`);
    assert.doesNotMatch(verify.stderr, /corral-unit-api\.service/, verify.stderr);
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
      [['startup', 'systemd', APP, '-i', 'lots'], /--instances: Expected `workers` to be a whole number/],
    ] as const) {
      const bad = await runCommand(BIN, [...args], { cwd: dir });
      assert.equal(bad.status, 2, bad.stderr);
      assert.match(bad.stderr, message);
    }
  });
});
