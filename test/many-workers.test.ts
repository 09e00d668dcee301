// Many workers on one CPU: 40 workers of a small app pinned to one core start, answer `corral
// status` (RSS and CPU from their own reports, not /proc), and stop cleanly within the shutdown
// timeout, none judged hung while draining. (0.11.0 read all of /proc once per worker it
// SIGKILLed and in every draining worker: at 150 workers on one CPU its stop outlived a 10 s
// timeout and SIGKILLed 130 of them.)
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, test } from 'node:test';
import { freePort } from './helpers/net-client.js';
import { exitOf, killPrograms, runCommand, startProgram } from './helpers/program.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-many-'));
const env = { CORRAL_RUN_DIR: path.join(dir, 'run'), CORRAL_LOG_DIR: path.join(dir, 'logs'), NODE_OPTIONS: '' };
const APP = path.join(dir, 'app.cjs');
writeFileSync(APP, "require('node:http').createServer((request, response) => response.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');\n");
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => killPrograms());

test('40 workers on one CPU: status from their reports, and a clean stop with none judged hung', { timeout: 180_000 }, async () => {
  const port = await freePort();
  // taskset (util-linux) pins the primary, and so every worker it forks, to one CPU.
  const corral = startProgram(BIN, ['start', APP, '-i', '40', '--name', 'many', '--shutdown-timeout', '10000'],
    { env: { ...env, PORT: String(port) }, execPath: '/usr/bin/taskset', execArgv: ['-c', '0', process.execPath] });
  await corral.waitForErr(/ready: 40 workers/, 1, 150_000);
  const status = await runCommand(BIN, ['status', 'many', '--json'], { env });
  assert.equal(status.status, 0, status.stderr);
  const report = JSON.parse(status.stdout) as { slots: { worker: { rss: number | null; cpu: number | null } | null }[] };
  assert.equal(report.slots.length, 40);
  assert.ok(report.slots.every((slot) => slot.worker !== null && slot.worker.rss !== null && slot.worker.cpu !== null), 'every worker has RSS and CPU');
  corral.child.kill('SIGTERM');
  assert.deepEqual(await exitOf(corral, 60_000), { code: 0, signal: null });
  assert.match(corral.stderr(), /stopped cleanly/);
  assert.doesNotMatch(corral.stderr(), /hung|SIGKILL/);
});
