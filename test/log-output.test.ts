// A detached app's output under load (issue 25): a worker that writes as fast as it can waits for
// the primary (its stdout blocks while the primary's pipe is paused) instead of queueing gigabytes
// in its own memory, and stops on time; the detached primary's own stdout and stderr never point
// at a rotated or deleted log file; `corral logs -f` prints every line once, in order, across
// many rotations between two of its looks, and no file grows past --log-max-size.
// Real processes: only they have a worker's stdout pipe, a detached primary and a follower.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { freePort } from './helpers/net-client.js';
import { killPrograms, runCommand } from './helpers/program.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-log-output-'));
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => killPrograms());

/** The environments detached apps were started in: whatever a test left running there is stopped after it, failed or not. */
const envs: Record<string, string>[] = [];
afterEach(async () => {
  for (const env of envs.splice(0)) await runCommand(BIN, ['stop', 'all'], { cwd: dir, env });
});

/** A run directory (0700) and a log directory of the test's own. */
function isolated(label: string): Record<string, string> {
  const run = path.join(dir, `${label}-run`);
  const logs = path.join(dir, `${label}-logs`);
  mkdirSync(run, { mode: 0o700 });
  mkdirSync(logs, { mode: 0o700 });
  const env = { CORRAL_RUN_DIR: run, CORRAL_LOG_DIR: logs, NODE_OPTIONS: '' };
  envs.push(env);
  return env;
}

const primaryPid = (stdout: string): number => Number(/primary pid (\d+)/.exec(stdout)?.[1]);

/** Resolves with the file's text once `done(text)` holds; no event says a file was written, so it is looked at every 20 ms until `ms`. */
async function fileWhen(file: string, done: (text: string) => boolean, ms = 30_000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    if (done(text)) return text;
    if (Date.now() > deadline) throw new Error(`${file} not as expected after ${ms} ms; it holds:\n${text.slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Resolves once `pid` has ended (gone, or a zombie nobody reaps yet); no event says it. */
async function whenGone(pid: number, ms = 15_000): Promise<void> {
  await fileWhen(`/proc/${pid}/status`, (status) => status === '' || /^State:\s+Z/m.test(status), ms);
}

describe('a worker that floods its stdout under -d', () => {
  // As fast as the stream takes it, in chunks through setImmediate (so that the worker's event
  // loop turns, as a busy server's does), until stopped; after REPORT_MS it reports the most it
  // had queued in its own memory so far and its peak RSS.
  const FLOOD = path.join(dir, 'flood.cjs');
  writeFileSync(FLOOD, `'use strict';
const fs = require('node:fs');
const chunk = ('x'.repeat(99) + '\\n').repeat(100);
require('node:http').createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1', () => {
  const reportAt = Date.now() + Number(process.env.REPORT_MS);
  let queued = 0;
  let reported = false;
  const tick = () => {
    for (let i = 0; i < 10; i += 1) process.stdout.write(chunk);
    queued = Math.max(queued, process.stdout.writableLength);
    if (!reported && Date.now() >= reportAt) {
      reported = true;
      fs.writeFileSync(process.env.REPORT + '.' + process.env.CORRAL_SLOT, JSON.stringify({ queued, maxRss: process.resourceUsage().maxRSS * 1024 }));
    }
    setImmediate(tick);
  };
  tick();
});
`);

  test('waits for the primary instead of queueing in its own memory (RSS stays flat), and corral stop ends it cleanly and soon', { timeout: 60_000 }, async () => {
    const env = isolated('flood');
    const report = path.join(dir, 'flood-report');
    const start = await runCommand(BIN, ['start', FLOOD, '-i', '2', '--name', 'flood', '-d', '--log-max-size', '8M', '--log-max-files', '1'],
      { cwd: dir, env: { ...env, PORT: String(await freePort()), REPORT_MS: '4000', REPORT: report } });
    assert.equal(start.status, 0, start.stderr);
    const reports = await Promise.all([0, 1].map(async (slot) => JSON.parse(await fileWhen(`${report}.${slot}`, (text) => text.endsWith('}'))) as { queued: number; maxRss: number }));
    for (const [slot, { queued, maxRss }] of reports.entries()) {
      // Without backpressure a worker queues what the primary has not read yet: hundreds of MiB in 4 s.
      assert.ok(queued <= 1024 * 1024, `slot ${slot} queued ${queued} bytes of output in its own memory`);
      assert.ok(maxRss < 120 * 1024 * 1024, `slot ${slot} peaked at ${Math.round(maxRss / 2 ** 20)} MiB RSS`);
    }
    // The stop comes in the middle of the flood: the drain is not held up by a backlog.
    const started = Date.now();
    const stop = await runCommand(BIN, ['stop', 'flood'], { cwd: dir, env });
    assert.equal(stop.status, 0, stop.stdout + stop.stderr);
    assert.match(stop.stdout, /stopped cleanly/);
    assert.ok(Date.now() - started < 5_000, `corral stop took ${Date.now() - started} ms`);
    await whenGone(primaryPid(start.stdout));
  });
});
