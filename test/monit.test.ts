// `corral monit`: under tmux (a real terminal) it shows every worker, follows a SIGKILLed one's
// replacement with the event, and quits on q, giving the screen back; NO_COLOR turns colours off;
// not on a terminal it prints key=value lines and ends with the app it watches.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, test } from 'node:test';
import { monitView } from './helpers/internals.js';
import { freePort } from './helpers/net-client.js';
import { exitOf, killPrograms, runCommand, startProgram } from './helpers/program.js';
import { requireTool } from './helpers/tools.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const APP = fileURLToPath(new URL('../../test/fixtures/observability/counter-app.cjs', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-monit-'));
const env = { CORRAL_RUN_DIR: path.join(dir, 'run'), CORRAL_LOG_DIR: path.join(dir, 'logs'), NODE_OPTIONS: '' };
/** A tmux server of this test's own, so that nothing of the user's sessions is touched. */
const TMUX_SOCKET = `corral-test-${process.pid}`;
const tmux = (...args: string[]) => spawnSync('tmux', ['-L', TMUX_SOCKET, ...args], { encoding: 'utf8' });
// The tool is checked once, before any test: without it, each would fail the same way.
before(() => requireTool('tmux', 'tmux', "the terminal view of 'corral monit'"));
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  tmux('kill-server');
  await killPrograms();
});

async function startApp(name: string): Promise<number[]> {
  const port = await freePort();
  const app = startProgram(BIN, ['start', APP, '--name', name, '-i', '2'], { cwd: dir, env: { ...env, PORT: String(port) } });
  await app.waitForErr(/ready: 2 workers/);
  const status = JSON.parse((await runCommand(BIN, ['status', name, '--json'], { cwd: dir, env })).stdout) as { slots: { worker: { pid: number } }[] };
  return status.slots.map((slot) => slot.worker.pid);
}

/** The pane's text (with `escapes`, its colour codes too), once `ready` holds for it; tmux has no events, so it is read until then. */
async function paneUntil(ready: (screen: string) => boolean, what: string, escapes = false, timeout = 20_000): Promise<string> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const screen = tmux('capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', 'monit').stdout;
    if (ready(screen)) return screen;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}; the screen:\n${screen}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function monitInTmux(args: string, extraEnv = ''): void {
  requireTool('tmux', 'tmux', "the terminal view of 'corral monit'");
  const envs = Object.entries(env).map(([key, value]) => `${key}='${value}'`).join(' ');
  const command = `env ${envs} ${extraEnv} '${process.execPath}' '${BIN}' monit ${args}; echo "MONIT-EXIT $?"; sleep 600`;
  const started = tmux('new-session', '-d', '-s', 'monit', '-x', '200', '-y', '40', command);
  assert.equal(started.status, 0, started.stderr);
}

describe('corral monit', () => {
  test('on a terminal: every worker, a killed one replaced with the event, colours, q quits', { timeout: 90_000 }, async () => {
    const pids = await startApp('monit-api');
    monitInTmux('monit-api');
    const first = await paneUntil((screen) => pids.every((pid) => screen.includes(String(pid))), 'both workers\' pids');
    assert.match(first, /^monit-api {2}running · 2\/2 ready · generation 1 · round-robin/m);
    assert.match(first, /SLOT\s+PID\s+STATE\s+GEN\s+UPTIME\s+CPU\s+MEMORY\s+HEAP\s+LOOP\s+CONNS\s+REQ\/S\s+REQUESTS\s+RESTARTS/);
    assert.match(first, /q quit/);
    // Colours on a terminal: the ready state in green.
    await paneUntil((screen) => screen.includes('\x1b[32mready'), 'the green ready state', true);
    process.kill(pids[0]!, 'SIGKILL');
    const replaced = await paneUntil((screen) => new RegExp(`slot \\d: pid ${pids[0]} → \\d+ \\(killed, SIGKILL\\)`).test(screen) && !new RegExp(`^\\d\\s+${pids[0]}\\s`, 'm').test(screen),
      'the replacement and its event');
    assert.match(replaced, /2\/2 ready|1\/2 ready/);
    tmux('send-keys', '-t', 'monit', 'q');
    const quit = await paneUntil((screen) => screen.includes('MONIT-EXIT'), 'monit to quit');
    assert.match(quit, /MONIT-EXIT 0/);
    assert.doesNotMatch(quit, /SLOT\s+PID/, 'the screen is given back as it was');
  });

  test('NO_COLOR turns colours off; Ctrl-C quits too', { timeout: 60_000 }, async () => {
    const pids = await startApp('monit-plain');
    monitInTmux('monit-plain', 'NO_COLOR=1');
    const screen = await paneUntil((text) => pids.every((pid) => text.includes(String(pid))), 'both workers\' pids', true);
    // eslint-disable-next-line no-control-regex -- a colour code starts with ESC
    assert.doesNotMatch(screen, /\x1b\[3\dm/, 'no colour codes');
    tmux('send-keys', '-t', 'monit', 'C-c');
    assert.match(await paneUntil((text) => text.includes('MONIT-EXIT'), 'monit to quit'), /MONIT-EXIT 0/);
  });

  test('not on a terminal: key=value lines each interval, until the app it watches stops', { timeout: 60_000 }, async () => {
    const pids = await startApp('monit-pipe');
    const monit = startProgram(BIN, ['monit', 'monit-pipe', '--interval', '200'], { cwd: dir, env });
    for (const pid of pids) await monit.waitFor(new RegExp(`^\\S+ monit-pipe slot=\\d state=ready pid=${pid} generation=1 cpu=\\S+ rss=\\d+`));
    await monit.waitFor(/ requests=\d+ rps=\d+\.\d restarts=0$/);
    assert.ok(!monit.lines.some((line) => line.includes('\x1b[')), 'no terminal codes in a pipe');
    const stop = await runCommand(BIN, ['stop', 'monit-pipe'], { cwd: dir, env });
    assert.equal(stop.status, 0, stop.stderr);
    assert.equal((await exitOf(monit, 20_000)).code, 0);
    assert.match(monit.lines.at(-1) ?? '', /monit-pipe not running$/);
  });

  test('bad usage and an app that does not run are refused with the fix', async () => {
    const interval = await runCommand(BIN, ['monit', '--interval', '50'], { cwd: dir, env });
    assert.equal(interval.status, 2);
    assert.match(interval.stderr, /--interval takes a whole number of ms, at least 200; got '50'/);
    const missing = await runCommand(BIN, ['monit', 'nothing-here'], { cwd: dir, env });
    assert.equal(missing.status, 3);
    assert.match(missing.stderr, /no app named 'nothing-here' is running/);
  });

  test('the CPU bar and the colour choice', () => {
    assert.equal(monitView.cpuBar(100, 10), '██████████');
    assert.equal(monitView.cpuBar(0, 4), '    ');
    assert.equal(monitView.cpuBar(55, 10), '█████▌    ');
    assert.equal(monitView.cpuBar(null, 3), '   ');
    const tty = { isTTY: true } as NodeJS.WriteStream;
    assert.equal(monitView.wantsColor(tty, {}), true);
    assert.equal(monitView.wantsColor(tty, { NO_COLOR: '1' }), false);
    assert.equal(monitView.wantsColor(tty, { NO_COLOR: '' }), true, 'an empty NO_COLOR is not set (no-color.org)');
    assert.equal(monitView.wantsColor({ isTTY: false } as NodeJS.WriteStream, {}), false);
  });
});
