// A detached app's output under load (issue 25): a worker that writes as fast as it can waits for
// the primary (its stdout blocks while the primary's pipe is paused) instead of queueing gigabytes
// in its own memory, and stops on time; the detached primary's own stdout and stderr never point
// at a rotated or deleted log file; `corral logs -f` prints every line once, in order, across
// many rotations between two of its looks, and no file grows past --log-max-size.
// Real processes: only they have a worker's stdout pipe, a detached primary and a follower.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { freePort } from './helpers/net-client.js';
import { exitOf, killPrograms, runCommand, startProgram } from './helpers/program.js';

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

describe('a detached primary\'s own output, and a log file removed under it', () => {
  // GET /say?n=N&pad=P logs N lines of P bytes, then answers.
  const SAY = path.join(dir, 'say.cjs');
  writeFileSync(SAY, `'use strict';
require('node:http').createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const n = Number(url.searchParams.get('n') ?? 1);
  for (let i = 0; i < n; i += 1) console.log(url.searchParams.get('text') + ' ' + i + ' ' + 'p'.repeat(Number(url.searchParams.get('pad') ?? 0)));
  res.end('ok');
}).listen(Number(process.env.PORT), '127.0.0.1');
`);

  test('its stdout and stderr are <name>.primary.out, never a rotated-away log file; a removed log file is made again, saying what went with it, and corral logs reads it', { timeout: 60_000 }, async () => {
    const env = isolated('removed');
    const logs = env['CORRAL_LOG_DIR']!;
    const port = await freePort();
    const start = await runCommand(BIN, ['start', SAY, '-i', '1', '--name', 'gone', '-d', '--log-max-size', '64K', '--log-max-files', '1'],
      { cwd: dir, env: { ...env, PORT: String(port) } });
    assert.equal(start.status, 0, start.stderr);
    const pid = primaryPid(start.stdout);
    const own = path.join(logs, 'gone.primary.out');
    const descriptors = (): string[] => [1, 2].map((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`));
    assert.deepEqual(descriptors(), [own, own]);
    // 300 KB: rotated past --log-max-files several times.
    await (await fetch(`http://127.0.0.1:${port}/say?n=300&pad=1000&text=bulk`)).text();
    const file = path.join(logs, 'gone.log');
    await fileWhen(file, (text) => text.includes('bulk 299 '));
    assert.deepEqual(descriptors(), [own, own], 'still a file with a name, not a deleted one');
    assert.ok(!existsSync(`${file}.2`));

    unlinkSync(file);
    // The primary looks at its path at most every 2 s, before it writes: keep writing until a new file is there.
    const deadline = Date.now() + 20_000;
    let text = '';
    for (let ping = 0; !/ping\d+ 0 $/m.test(text.split('was removed while corral wrote it')[1] ?? ''); ping += 1) {
      assert.ok(Date.now() < deadline, `no new ${file} within 20 s; it holds:\n${text}`);
      await (await fetch(`http://127.0.0.1:${port}/say?text=ping${ping}&n=1`)).text();
      await new Promise((resolve) => setTimeout(resolve, 100));
      text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    }
    assert.match(text, new RegExp(`^\\S+Z corral\\[gone\\] WARN the log file ${file} was removed while corral wrote it; a new one is written from now on\\. Up to \\d+ lines?`, 'm'));
    const last = await runCommand(BIN, ['logs', 'gone', '-n', '3'], { cwd: dir, env });
    assert.equal(last.status, 0, last.stderr);
    assert.match(last.stdout, /\[slot 0 pid \d+ stdout\] ping\d+ 0 \n$/);
    // The operator is told too, where the primary's stderr goes.
    assert.match(readFileSync(own, 'utf8'), new RegExp(`corral\\[gone\\] WARN the log file ${file} was removed while corral wrote it`));
    const stop = await runCommand(BIN, ['stop', 'gone'], { cwd: dir, env });
    assert.equal(stop.status, 0, stop.stderr);
    await whenGone(pid);
  });
});

describe('corral logs -f under many rotations', () => {
  // GET /go writes LINES numbered lines, 200 at a time, as fast as its stdout takes them.
  const WRITER = path.join(dir, 'writer.cjs');
  writeFileSync(WRITER, `'use strict';
require('node:http').createServer((req, res) => {
  res.end('ok');
  const lines = Number(process.env.LINES);
  let n = 0;
  const tick = () => {
    let text = '';
    for (const end = Math.min(n + 200, lines); n < end; n += 1) text += 'line ' + n + ' ' + 'x'.repeat(80) + '\\n';
    process.stdout.write(text);
    if (n < lines) setImmediate(tick);
  };
  tick();
}).listen(Number(process.env.PORT), '127.0.0.1');
`);

  test('prints every line exactly once, in order, across several rotations between two of its looks; no file grows past --log-max-size', { timeout: 120_000 }, async () => {
    const env = isolated('follow');
    const port = await freePort();
    const lines = 30_000;
    // 30,000 lines of about 140 bytes are some 66 files of 64K: with 99 kept, none is rotated away
    // before the follower reads it however far behind a busy machine puts it (that loss is said,
    // and is not what this test is about); several rotations still pass between two of its looks.
    const start = await runCommand(BIN, ['start', WRITER, '-i', '1', '--name', 'writer', '-d', '--log-max-size', '64K', '--log-max-files', '99'],
      { cwd: dir, env: { ...env, PORT: String(port), LINES: String(lines) } });
    assert.equal(start.status, 0, start.stderr);
    const follow = startProgram(BIN, ['logs', 'writer', '-f', '-n', '1'], { cwd: dir, env });
    await follow.waitFor(/corral\[writer\] ready: 1 worker/); // The last line so far: it follows from there.
    const started = Date.now();
    await (await fetch(`http://127.0.0.1:${port}/go`)).text();
    await follow.waitFor(new RegExp(`\\] line ${lines - 1} x`), 1, 90_000);
    const seconds = (Date.now() - started) / 1000;
    follow.child.kill('SIGINT');
    assert.equal((await exitOf(follow)).code, 0);
    const printed = follow.lines.map((line) => /\[slot 0 pid \d+ stdout\] line (\d+) x+$/.exec(line)?.[1]).filter((n) => n !== undefined).map(Number);
    const missing = lines - new Set(printed).size;
    assert.equal(missing, 0, `${missing} of ${lines} lines were not printed (${seconds.toFixed(1)} s; stderr: ${follow.stderr()})`);
    assert.deepEqual(printed, Array.from({ length: lines }, (_, n) => n), 'each once, in order');
    const file = path.join(env['CORRAL_LOG_DIR']!, 'writer.log');
    const files = [file, ...Array.from({ length: 40 }, (_, index) => `${file}.${index + 1}`)].filter((name) => existsSync(name));
    assert.ok(files.length > 20, `${files.length} files: it rotated many times`);
    for (const name of files) assert.ok(statSync(name).size <= 64 * 1024, `${name}: ${statSync(name).size} bytes, over --log-max-size`);
  });
});
