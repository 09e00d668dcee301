// systemd's Type=notify: a real Unix datagram socket as NOTIFY_SOCKET (the test's own listener,
// in Python: Node has none) receives READY=1 with MAINPID once both workers are ready, watchdog
// pings at half of WATCHDOG_USEC, RELOADING=1 with MONOTONIC_USEC then READY=1 around a reload,
// pings that stop while a slot crash-loops, and STOPPING=1 on SIGTERM, in that order; the workers
// never see the socket.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, test } from 'node:test';
import { freePort } from './helpers/net-client.js';
import { exitOf, killPrograms, runCommand, startProgram, type Program } from './helpers/program.js';
import { requireTool } from './helpers/tools.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const APP = fileURLToPath(new URL('../../test/fixtures/production/app.cjs', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-notify-'));
const env = { CORRAL_RUN_DIR: path.join(dir, 'run'), CORRAL_LOG_DIR: path.join(dir, 'logs'), NODE_OPTIONS: '' };
/** Prints "listening", then each datagram it receives as one JSON string a line. */
const LISTENER = `import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    print(json.dumps(s.recv(65536).decode()), flush=True)
`;
before(() => {
  requireTool('systemd-notify', 'systemd', "corral's Type=notify messages (systemd's own systemd-notify sends them)");
  requireTool('python3', 'python3-minimal', 'the test\'s notify socket (a Unix datagram listener: Node has none)');
});
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => killPrograms());

/** The messages received so far, each as its fields. */
const messages = (listener: Program): Map<string, string>[] => listener.lines.filter((line) => line.startsWith('"')).map((line) =>
  new Map((JSON.parse(line) as string).split('\n').filter((field) => field !== '').map((field) => {
    const equals = field.indexOf('=');
    return [field.slice(0, equals), field.slice(equals + 1)] as [string, string];
  })));

test('READY=1, watchdog pings, RELOADING=1 and READY=1 around a reload, no pings while a slot crash-loops, STOPPING=1', { timeout: 90_000 }, async () => {
  const socket = path.join(dir, 'notify.sock');
  const script = path.join(dir, 'listener.py');
  writeFileSync(script, LISTENER);
  const listener = startProgram(script, [socket], { execPath: 'python3' });
  await listener.waitFor(/^listening$/);
  const port = await freePort();
  const crashFile = path.join(dir, 'crash-now');
  const app = startProgram(BIN, ['start', APP, '--name', 'notify', '-i', '2'], {
    cwd: dir,
    env: { ...env, PORT: String(port), CRASH_FILE: crashFile, NOTIFY_SOCKET: socket, WATCHDOG_USEC: '400000' },
  });
  await listener.waitFor(/READY=1/);
  const ready = messages(listener).find((fields) => fields.has('READY'))!;
  assert.equal(ready.get('MAINPID'), String(app.child.pid), 'MAINPID names the primary');
  assert.equal(ready.get('STATUS'), 'serving: 2/2 workers ready, generation 1');
  // Every 200 ms (half of WATCHDOG_USEC).
  await listener.waitFor(/WATCHDOG=1/, 3, 5_000);
  const workerEnv = await (await fetch(`http://127.0.0.1:${port}/env`, { headers: { connection: 'close' } })).json() as Record<string, unknown>;
  assert.deepEqual(workerEnv, { notifySocket: null, watchdogUsec: null }, 'the workers do not see the notify socket');
  const reload = await runCommand(BIN, ['reload', 'notify'], { cwd: dir, env });
  assert.equal(reload.status, 0, reload.stderr);
  await listener.waitFor(/READY=1/, 2);
  const afterReload = messages(listener);
  const reloading = afterReload.findIndex((fields) => fields.has('RELOADING'));
  assert.ok(reloading > 0);
  assert.match(afterReload[reloading]!.get('MONOTONIC_USEC') ?? '', /^\d+$/);
  assert.equal(afterReload[reloading]!.get('STATUS'), 'reloading to generation 2');
  const readyAgain = afterReload.findIndex((fields, index) => index > reloading && fields.has('READY'));
  assert.equal(afterReload[readyAgain]!.get('STATUS'), 'serving: 2/2 workers ready, generation 2');
  // A crash loop: the pings stop, so that systemd restarts the service.
  writeFileSync(crashFile, '');
  const status = JSON.parse((await runCommand(BIN, ['status', 'notify', '--json'], { cwd: dir, env })).stdout) as { slots: { worker: { pid: number } }[] };
  process.kill(status.slots[0]!.worker.pid, 'SIGKILL');
  await listener.waitFor(/STATUS=slot 0 is crash-looping/, 1, 30_000);
  const pingsAtCrashloop = listener.lines.filter((line) => line.includes('WATCHDOG=1')).length;
  // No event marks "no ping sent": watch five ping intervals go by.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  assert.ok(listener.lines.filter((line) => line.includes('WATCHDOG=1')).length <= pingsAtCrashloop + 1,
    'at most the ping already on its way when the slot began crash-looping');
  app.child.kill('SIGTERM');
  await listener.waitFor(/STOPPING=1/);
  assert.equal((await exitOf(app, 30_000)).code, 0);
  const kinds = messages(listener).map((fields) => ['READY', 'RELOADING', 'STOPPING'].find((kind) => fields.has(kind))).filter((kind) => kind !== undefined);
  assert.deepEqual(kinds, ['READY', 'RELOADING', 'READY', 'STOPPING']);
});
