// Writing the log file never holds the primary (issue 25): writes are asynchronous, one at a time;
// a disk that stalls lets the writers go after a while, and lines past a bound are dropped and
// counted, then said in the file once it answers; a full disk (a real tmpfs) is retried until it
// has room again, not given up for good; a removed or moved file is noticed and opened again; and
// no file grows past maxSize. In-process: a write function stands in for a disk that never
// answers, and the full disk is a small tmpfs (the tests run as root).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, write, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { logFile } from './helpers/internals.js';

const { RotatingLogFile, MAX_WAITING } = logFile;
type Options = ConstructorParameters<typeof RotatingLogFile>[1];
type WriteFunction = NonNullable<Options['writeFunction']>;

const root = mkdtempSync(path.join(os.tmpdir(), 'corral-log-writer-'));
after(() => rmSync(root, { recursive: true, force: true }));
let count = 0;
function fresh(label: string): string {
  count += 1;
  const dir = path.join(root, `${label}-${count}`);
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

/** 100 bytes, numbered. */
const line = (n: number): string => `line ${String(n).padStart(7, '0')} ${'x'.repeat(86)}\n`;
const numbers = (text: string): number[] => text.split('\n').filter((entry) => entry.startsWith('line ')).map((entry) => Number(entry.slice(5, 12)));
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, index) => from + index);

/** Resolves with the first warning that matches, or fails after `ms`. */
function warningLike(warnings: string[], listeners: (() => void)[], pattern: RegExp, ms = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no warning like ${pattern} within ${ms} ms; warnings:\n${warnings.join('\n')}`)), ms);
    const check = (): void => {
      const found = warnings.find((warning) => pattern.test(warning));
      if (found === undefined) return;
      clearTimeout(timer);
      resolve(found);
    };
    listeners.push(check);
    check();
  });
}

/** A log file whose warnings are kept and can be waited for. */
function open(file: string, options: Partial<Options> = {}) {
  const warnings: string[] = [];
  const listeners: (() => void)[] = [];
  const log = new RotatingLogFile(file, {
    maxSize: 64 * 1024 * 1024, maxFiles: 2,
    onWarning: (message) => {
      warnings.push(message);
      for (const listener of listeners) listener();
    },
    ...options,
  });
  return { log, warnings, when: (pattern: RegExp) => warningLike(warnings, listeners, pattern) };
}

describe('a disk that stalls', () => {
  test('the event loop keeps turning; one write is in flight; paused writers are let go after stallAfter; past the bound lines are dropped and counted, and the file says so once the disk answers', async () => {
    const file = path.join(fresh('stall'), 'app.log');
    const held: (() => void)[] = [];
    let stalled = true;
    const writeFunction: WriteFunction = (fd, buffer, offset, length, position, callback) => {
      if (stalled) held.push(() => write(fd, buffer, offset, length, position, callback));
      else write(fd, buffer, offset, length, position, callback);
    };
    const { log, warnings } = open(file, { writeFunction, timing: { stallAfter: 200 } });
    let n = 0;
    while (log.write(line(n))) n += 1;
    n += 1;
    // Over the high-water mark: writers wait, but not forever.
    let turns = 0;
    let spinning = true;
    const spin = (): void => {
      turns += 1;
      if (spinning) setImmediate(spin);
    };
    spin();
    const started = Date.now();
    await new Promise<void>((resolve) => log.whenWritable(resolve));
    spinning = false;
    assert.ok(Date.now() - started >= 150, `let go after ${Date.now() - started} ms, before the disk counted as stalled`);
    assert.ok(turns > 20, `the event loop turned ${turns} times while the write was held`);
    assert.equal(held.length, 1, 'one write in flight at a time');
    assert.match(warnings[0] ?? '', new RegExp(`^writing ${file} stalled \\(the disk did not answer for 200 ms\\): the app no longer waits for it; lines wait up to 8\\.0 MiB, then are dropped`));
    // Stalled: nobody is asked to wait, and what is past the bound is dropped.
    for (let more = 0; more < 100_000; more += 1, n += 1) assert.equal(log.write(line(n)), true);
    const total = n;
    stalled = false;
    for (const go of held.splice(0)) go();
    await log.close();
    const text = readFileSync(file, 'utf8');
    const kept = numbers(text);
    assert.equal(kept.length, Math.floor(MAX_WAITING / 100), 'lines up to the bound were kept');
    assert.deepEqual(kept, range(0, kept.length), 'in order, none torn');
    const dropped = total - kept.length;
    const notice = new RegExp(`^\\S+Z corral WARN ${dropped} lines \\(${(dropped * 100 / 2 ** 20).toFixed(1)} MiB\\) from \\S+Z to \\S+Z were dropped, not written, ` +
      `because writing ${file} stalled \\(the disk did not answer for 200 ms\\)$`);
    assert.match(text.trimEnd().split('\n').at(-1)!, notice, 'the last line says what is missing before it');
    assert.ok(warnings.some((warning) => warning.startsWith(`the log file ${file} is written again; ${dropped} lines`)), warnings.join('\n'));
  });

  test('close() waits for a write that never ends only closeTimeout ms, and says what could not be written', async () => {
    const file = path.join(fresh('stall-close'), 'app.log');
    const { log, warnings } = open(file, { writeFunction: () => {}, timing: { stallAfter: 50, closeTimeout: 300 } });
    for (let n = 0; n < 10; n += 1) log.write(line(n));
    await log.flush(); // Resolves once the disk counts as stalled.
    const started = Date.now();
    await log.close();
    assert.ok(Date.now() - started < 2_000, `close took ${Date.now() - started} ms`);
    assert.match(warnings.at(-1)!, new RegExp(`^10 lines \\(1000 bytes\\) could not be written to ${file} before corral exited, because writing ${file} stalled`));
  });
});

describe('rotation', () => {
  test('cuts a batch at a line boundary: no file grows past maxSize, except one holding a single longer line; every line once, in order', async () => {
    const file = path.join(fresh('boundary'), 'app.log');
    const maxSize = 4096;
    const { log, warnings } = open(file, { maxSize, maxFiles: 99 });
    const lines: string[] = [];
    for (let n = 0; n < 400; n += 1) lines.push(n === 200 ? `long ${'y'.repeat(6000)}\n` : `${n} ${'z'.repeat(n % 97)}\n`);
    for (const text of lines) log.write(text); // One turn of the loop: one batch, cut where the files end.
    await log.close();
    const files = readdirSync(path.dirname(file)).map((name) => path.join(path.dirname(file), name))
      .sort((a, b) => (Number(b.split('.log.')[1] ?? 0) - Number(a.split('.log.')[1] ?? 0)));
    assert.ok(files.length >= 6, `${files.length} files`);
    for (const name of files) {
      const text = readFileSync(name, 'utf8');
      if (text.startsWith('long ')) assert.equal(text, lines[200], 'the long line alone');
      else assert.ok(statSync(name).size <= maxSize, `${name}: ${statSync(name).size} bytes`);
      assert.ok(text.endsWith('\n'));
    }
    assert.equal(files.map((name) => readFileSync(name, 'utf8')).join(''), lines.join(''));
    assert.deepEqual(warnings, []);
  });
});

describe('flush() under a writer that never stops', () => {
  // A detached app's start waits for its ready line to be in the file: workers that flood their
  // output from the start must not hold it (the queue never empties while they write).
  test('resolves once the lines there when it was called are written, not when the queue is empty; what came later goes on', { timeout: 60_000 }, async () => {
    const file = path.join(fresh('flush-flood'), 'app.log');
    const { log } = open(file, { maxSize: 4 * 1024 * 1024, maxFiles: 1 });
    let n = 0;
    let flooding = true;
    // As a paused worker pipe does: write while the file takes more, then wait until it does.
    const flood = (): void => {
      while (flooding && log.write(line(n))) n += 1;
      if (flooding) log.whenWritable(() => setImmediate(flood));
    };
    flood();
    const before = n;
    // Several checks of the path and rotations happen under the flood: a notice may go first.
    log.write('ready line\n');
    await log.flush();
    const inFile = readFileSync(file, 'utf8') + (existsSync(`${file}.1`) ? readFileSync(`${file}.1`, 'utf8') : '');
    assert.match(inFile, /^ready line$/m, 'the line written before flush() is in the file when it resolves');
    assert.ok(n > before, 'the flood went on meanwhile');
    flooding = false;
    await log.close();
  });
});

describe('a log file removed or moved under the primary', () => {
  test('is noticed within checkEvery and opened again at its path; the new file says what went with a removed one', async () => {
    const file = path.join(fresh('removed'), 'app.log');
    const { log, warnings } = open(file, { timing: { checkEvery: 0 } });
    log.write(line(1));
    await log.flush();
    unlinkSync(file);
    log.write(line(2));
    await log.flush();
    assert.ok(existsSync(file), 'a new file at the path');
    const text = readFileSync(file, 'utf8');
    assert.match(text, new RegExp(`^\\S+Z corral WARN the log file ${file} was removed while corral wrote it; a new one is written from now on\\. ` +
      'Up to 1 line \\(100 bytes\\) written since \\S+Z went with the removed file\\.'));
    assert.deepEqual(numbers(text), [2]);
    assert.match(warnings[0] ?? '', /was removed while corral wrote it/);

    renameSync(file, `${file}.moved`);
    log.write(line(3));
    await log.close();
    assert.deepEqual(numbers(readFileSync(`${file}.moved`, 'utf8')), [2], 'the moved file keeps its lines');
    assert.match(readFileSync(file, 'utf8'), /was moved or replaced while corral wrote it: the lines until now are in the moved file/);
    assert.deepEqual(numbers(readFileSync(file, 'utf8')), [3]);
  });
});

describe('a full disk (a 256 KiB tmpfs)', () => {
  test('is said once, retried after a backoff rather than given up, and once it has room the waiting lines are written and the lines dropped are said', { timeout: 60_000 }, async () => {
    const dir = fresh('enospc');
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', dir], { encoding: 'utf8' });
    assert.equal(mounted.status, 0, `this test needs root to mount a small tmpfs (a disk that fills up) at ${dir}: mount said ` +
      `${mounted.error?.message ?? mounted.stderr.trim()}. Run it as root (CI does), or in a container with CAP_SYS_ADMIN.`);
    let log: InstanceType<typeof RotatingLogFile> | undefined;
    try {
      const file = path.join(dir, 'app.log');
      const opened = open(file, { maxSize: 16 * 1024, maxFiles: 2, timing: { retryFirst: 20, retryMax: 200 } });
      log = opened.log;
      const { warnings, when } = opened;
      // Fill the disk (what fits is written, then ENOSPC).
      const filler = path.join(dir, 'filler');
      try {
        writeFileSync(filler, Buffer.alloc(300 * 1024));
      } catch (error) {
        assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
      }
      log.write(line(0));
      await log.flush();
      const full = await when(/cannot be written/);
      assert.match(full, new RegExp(`^the log file ${file} cannot be written: the disk is full \\(ENOSPC\\)\\. Lines wait up to 8\\.0 MiB, then are dropped and counted; ` +
        'writing is tried again every 0\\.2 s at most, .*Free space on that disk, or set CORRAL_LOG_DIR'));
      let n = 1;
      for (; n < 100_000; n += 1) log.write(line(n));
      const total = n;
      assert.equal(warnings.filter((warning) => /cannot be written/.test(warning)).length, 1, 'said once, however often it is retried');
      unlinkSync(filler);
      const resumed = await when(/is written again/);
      await log.close();
      const kept = Math.floor(MAX_WAITING / 100);
      const dropped = total - kept;
      assert.match(resumed, new RegExp(`^the log file ${file} is written again; ${dropped} lines \\(\\d+\\.\\d MiB\\) from \\S+Z to \\S+Z were dropped, not written, ` +
        `because the log file ${file} cannot be written: the disk is full \\(ENOSPC\\)$`));
      const text = readFileSync(file, 'utf8');
      const last = text.trimEnd().split('\n');
      assert.match(last.at(-1)!, new RegExp(`corral WARN ${dropped} lines .* were dropped, not written, because the log file ${file} cannot be written: the disk is full`));
      assert.equal(numbers(text).at(-1), kept - 1, 'the last line kept was written, after the disk had room');
    } finally {
      await log?.close();
      // Lazily if something still holds it: the mount must not outlive the test.
      if (spawnSync('umount', [dir]).status !== 0) spawnSync('umount', ['-l', dir]);
    }
  });
});
