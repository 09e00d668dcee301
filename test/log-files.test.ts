// Log files are not trusted by name (issue 25): corral, often root, appends lines the app chooses,
// so a symlink or hard link planted at `<name>.log`, a file another user made or can read, and a
// log directory that is a symlink, another user's or writable by others are refused with the path
// and the fix, never followed or repaired; the file corral creates is 0600 in a 0700 directory.
// reopen() (logrotate's postrotate) and rotation open their new file the same way.
// These tests run as root: "another user" is uid 65534 (chown).
import assert from 'node:assert/strict';
import {
  chmodSync, chownSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { logFile } from './helpers/internals.js';
import { exitOf, killPrograms, runCommand, startProgram } from './helpers/program.js';

const { RotatingLogFile } = logFile;
type LogFile = InstanceType<typeof RotatingLogFile>;

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const root = mkdtempSync(path.join(os.tmpdir(), 'corral-log-files-'));
after(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => killPrograms());

const OTHER_UID = 65534;
let count = 0;
/** A fresh private directory for one test. */
function fresh(label: string): string {
  count += 1;
  const dir = path.join(root, `${label}-${count}`);
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

/** A root-only file standing for /etc/shadow: what a planted link points at. */
function secretIn(dir: string): { file: string; text: string } {
  const file = path.join(dir, 'secret');
  const text = 'root:only:never-written-by-corral\n';
  writeFileSync(file, text, { mode: 0o600 });
  return { file, text };
}

/** The file, and every warning it gave (retries after a failure come soon, for the tests' sake). */
function open(file: string, limits: { maxSize?: number; maxFiles?: number } = {}): { log: LogFile; errors: string[] } {
  const errors: string[] = [];
  const log = new RotatingLogFile(file, {
    maxSize: limits.maxSize ?? 1024 * 1024, maxFiles: limits.maxFiles ?? 3, onWarning: (message) => errors.push(message), timing: { retryFirst: 10 },
  });
  return { log, errors };
}

const refused = (message: RegExp) => ({ code: 'CORRAL_ERR_LOG_FILE', name: 'LogFileError', message });
const modeOf = (file: string): number => statSync(file).mode & 0o777;

describe('the log file', () => {
  test('a symlink planted at <name>.log is refused, and what it points at is untouched (also when it points at nothing yet)', () => {
    const dir = fresh('symlink');
    const { file: target, text } = secretIn(dir);
    const logs = path.join(dir, 'logs');
    mkdirSync(logs, { mode: 0o700 });
    const file = path.join(logs, 'app.log');
    symlinkSync(target, file);
    assert.throws(() => open(file), refused(new RegExp(`^the log file ${file} is a symbolic link \\(to ${target}\\): corral did not make it, .*Remove it, and check who can write to ${logs}\\.$`)));
    assert.equal(readFileSync(target, 'utf8'), text);
    assert.equal(modeOf(target), 0o600);
    // A dangling link: O_CREAT alone would create its target.
    const nowhere = path.join(dir, 'would-be-created');
    const dangling = path.join(logs, 'other.log');
    symlinkSync(nowhere, dangling);
    assert.throws(() => open(dangling), refused(/is a symbolic link/));
    assert.equal(existsSync(nowhere), false);
  });

  test('a file open to other users (0644) is refused with the chmod fix; so is another user\'s, a hard-linked one, and a directory in its place', () => {
    const dir = fresh('files');
    const readable = path.join(dir, 'readable.log');
    writeFileSync(readable, 'before\n');
    chmodSync(readable, 0o644);
    assert.throws(() => open(readable), refused(new RegExp(`^the log file ${readable} is open to other users \\(mode 644\\).*Remove it .*'chmod 600 ${readable}'`)));
    assert.equal(modeOf(readable), 0o644, 'refused, not repaired');

    const theirs = path.join(dir, 'theirs.log');
    writeFileSync(theirs, 'theirs\n', { mode: 0o600 });
    chownSync(theirs, OTHER_UID, OTHER_UID);
    assert.throws(() => open(theirs), refused(new RegExp(`^the log file ${theirs} belongs to another user \\(uid ${OTHER_UID}; you are uid ${process.getuid!()}\\).*Remove it`)));
    assert.equal(statSync(theirs).uid, OTHER_UID);

    const { file: target, text } = secretIn(dir);
    const linked = path.join(dir, 'linked.log');
    linkSync(target, linked);
    assert.throws(() => open(linked), refused(new RegExp(`^the log file ${linked} has 2 hard links: .*Remove it`)));
    assert.equal(readFileSync(target, 'utf8'), text);

    const directory = path.join(dir, 'directory.log');
    mkdirSync(directory);
    assert.throws(() => open(directory), refused(new RegExp(`^the log file ${directory} is not a regular file \\(it is a directory\\)\\. Remove it`)));
  });

  test('a private file of this user is appended to; a new one is created 0600', async () => {
    const dir = fresh('own');
    const existing = path.join(dir, 'existing.log');
    writeFileSync(existing, 'first\n', { mode: 0o600 });
    const { log, errors } = open(existing);
    log.write('second\n');
    await log.close();
    assert.equal(readFileSync(existing, 'utf8'), 'first\nsecond\n');
    const created = path.join(dir, 'created.log');
    const made = open(created);
    made.log.write('hello\n');
    await made.log.close();
    assert.equal(readFileSync(created, 'utf8'), 'hello\n');
    assert.equal(modeOf(created), 0o600);
    assert.deepEqual([...errors, ...made.errors], []);
  });
});

describe('the log directory', () => {
  test('a symlink, a directory writable by others (0777) and another user\'s directory are refused, with the fix', () => {
    const dir = fresh('dirs');
    const real = path.join(dir, 'real');
    mkdirSync(real, { mode: 0o700 });
    const link = path.join(dir, 'link');
    symlinkSync(real, link);
    assert.throws(() => open(path.join(link, 'app.log')),
      refused(new RegExp(`^the log directory ${link} is a symbolic link \\(to ${real}\\): .*Set CORRAL_LOG_DIR to the directory itself`)));
    assert.equal(existsSync(path.join(real, 'app.log')), false);

    const open777 = path.join(dir, 'open');
    mkdirSync(open777);
    chmodSync(open777, 0o777);
    assert.throws(() => open(path.join(open777, 'app.log')),
      refused(new RegExp(`^the log directory ${open777} can be written by other users \\(mode 777\\).*'chmod 700 ${open777}'.*or set CORRAL_LOG_DIR`)));
    assert.equal(modeOf(open777), 0o777, 'refused, not repaired');
    assert.equal(existsSync(path.join(open777, 'app.log')), false);

    const theirs = path.join(dir, 'theirs');
    mkdirSync(theirs, { mode: 0o700 });
    chownSync(theirs, OTHER_UID, OTHER_UID);
    assert.throws(() => open(path.join(theirs, 'app.log')),
      refused(new RegExp(`^the log directory ${theirs} belongs to another user \\(uid ${OTHER_UID}; you are uid ${process.getuid!()}\\).*Set CORRAL_LOG_DIR to a directory of your own`)));
    assert.equal(existsSync(path.join(theirs, 'app.log')), false);
  });

  test('a 0755 directory of this user (systemd\'s LogsDirectory=) is used; a missing one is created 0700, parents too', async () => {
    const dir = fresh('dir-ok');
    const shared = path.join(dir, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o755);
    const { log, errors } = open(path.join(shared, 'app.log'));
    log.write('line\n');
    await log.close();
    assert.equal(readFileSync(path.join(shared, 'app.log'), 'utf8'), 'line\n');
    assert.equal(modeOf(path.join(shared, 'app.log')), 0o600);

    const missing = path.join(dir, 'state', 'corral');
    const made = open(path.join(missing, 'app.log'));
    await made.log.close();
    assert.equal(modeOf(missing), 0o700);
    assert.equal(modeOf(path.dirname(missing)), 0o700);
    assert.equal(modeOf(path.join(missing, 'app.log')), 0o600);
    assert.deepEqual([...errors, ...made.errors], []);
  });
});

describe('reopen() and rotation', () => {
  test('reopen() after logrotate renamed the file: new lines go to a new 0600 file at the same path, the old one keeps the old lines (with those that waited)', async () => {
    const dir = fresh('reopen-renamed');
    const file = path.join(dir, 'app.log');
    const { log, errors } = open(file);
    log.write('old 1\n');
    await log.flush();
    renameSync(file, `${file}-20260101`);
    log.write('old 2 (waited for the disk)\n');
    log.reopen();
    log.write('new 1\n');
    await log.close();
    assert.equal(readFileSync(`${file}-20260101`, 'utf8'), 'old 1\nold 2 (waited for the disk)\n');
    assert.equal(readFileSync(file, 'utf8'), 'new 1\n');
    assert.equal(modeOf(file), 0o600);
    assert.deepEqual(errors, []);
  });

  test('reopen() after the file was deleted creates it again; the same path, 0600, only the new lines', async () => {
    const dir = fresh('reopen-deleted');
    const file = path.join(dir, 'app.log');
    const { log, errors } = open(file);
    log.write('old\n');
    await log.flush();
    unlinkSync(file);
    log.reopen();
    log.write('new\n');
    await log.close();
    assert.equal(readFileSync(file, 'utf8'), 'new\n');
    assert.equal(modeOf(file), 0o600);
    assert.equal(statSync(file).nlink, 1);
    assert.deepEqual(errors, []);
    // Closed: a late reopen (a signal during the stop) creates nothing.
    unlinkSync(file);
    log.reopen();
    await log.flush();
    assert.equal(existsSync(file), false);
  });

  test('reopen() onto a planted symlink is refused and said once, never thrown or followed; lines wait, and go to the file once a retry can open it', async () => {
    const dir = fresh('reopen-refused');
    const { file: target, text } = secretIn(dir);
    const file = path.join(dir, 'app.log');
    const { log, errors } = open(file);
    log.write('before\n');
    await log.flush();
    renameSync(file, `${file}.old`);
    symlinkSync(target, file);
    log.reopen();
    log.write('waited\n');
    await log.flush();
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, new RegExp(`^the log file ${file} is a symbolic link \\(to ${target}\\).*Lines wait up to 8\\.0 MiB`));
    assert.equal(readFileSync(target, 'utf8'), text);
    unlinkSync(file);
    log.write('after\n');
    await log.close();
    assert.equal(readFileSync(file, 'utf8'), 'waited\nafter\n');
    assert.equal(readFileSync(`${file}.old`, 'utf8'), 'before\n');
    assert.equal(readFileSync(target, 'utf8'), text);
    assert.equal(errors.length, 1, errors.join('\n'));
  });

  test('rotation still shifts the files, and the new file is created through the same checks (0600; refused once the directory is opened to others)', async () => {
    const dir = fresh('rotation');
    const file = path.join(dir, 'app.log');
    const { log, errors } = open(file, { maxSize: 64, maxFiles: 2 });
    const line = (n: number): string => `line ${n} ${'x'.repeat(30)}\n`;
    for (let n = 1; n <= 5; n += 1) {
      log.write(line(n));
      await log.flush();
    }
    // 38 bytes a line, 64 at most a file: each line rotates the one before it out.
    assert.equal(readFileSync(file, 'utf8'), line(5));
    assert.equal(readFileSync(`${file}.1`, 'utf8'), line(4));
    assert.equal(readFileSync(`${file}.2`, 'utf8'), line(3));
    assert.equal(existsSync(`${file}.3`), false);
    for (const name of [file, `${file}.1`, `${file}.2`]) assert.equal(modeOf(name), 0o600, name);
    assert.equal(statSync(file).nlink, 1);
    assert.deepEqual(errors, []);
    // The directory opened to others while the app runs: the next rotation does not create a file there.
    chmodSync(dir, 0o777);
    log.write(line(6));
    await log.flush();
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, new RegExp(`^the log directory ${dir} can be written by other users \\(mode 777\\)`));
    assert.equal(existsSync(file), false, 'no file created in a directory others can write');
    assert.equal(readFileSync(`${file}.1`, 'utf8'), line(5));
    await log.close();
    assert.equal(existsSync(file), false);
    assert.match(errors.at(-1)!, new RegExp(`^1 line \\(38 bytes\\) could not be written to ${file} before corral exited, because the log directory ${dir} can be written`));
    chmodSync(dir, 0o700);
  });
});

describe('corral start refuses an untrusted log file (exit 2) and starts nothing', () => {
  const APP_DIR = fresh('cli');
  const APP = path.join(APP_DIR, 'app.cjs');
  writeFileSync(APP, "require('node:http').createServer((req, res) => res.end('ok')).listen(0, '127.0.0.1');\n");

  /** A run and a log directory of their own; whatever a test left running there is stopped after it. */
  const envs: Record<string, string>[] = [];
  function isolated(label: string): { env: Record<string, string>; logs: string } {
    const dir = fresh(label);
    const run = path.join(dir, 'run');
    const logs = path.join(dir, 'logs');
    mkdirSync(run, { mode: 0o700 });
    mkdirSync(logs, { mode: 0o700 });
    const env = { CORRAL_RUN_DIR: run, CORRAL_LOG_DIR: logs, NODE_OPTIONS: '' };
    envs.push(env);
    return { env, logs };
  }
  afterEach(async () => {
    for (const env of envs.splice(0)) await runCommand(BIN, ['stop', 'all'], { cwd: APP_DIR, env });
  });

  test('corral start -d with a symlink planted at <name>.log: exit 2 naming the link and the fix; the target is untouched', { timeout: 30_000 }, async () => {
    const { env, logs } = isolated('cli-detached');
    const { file: target, text } = secretIn(path.dirname(logs));
    const file = path.join(logs, 'planted.log');
    symlinkSync(target, file);
    const start = await runCommand(BIN, ['start', APP, '-i', '1', '--name', 'planted', '-d'], { cwd: APP_DIR, env });
    assert.equal(start.status, 2, start.stdout + start.stderr);
    assert.match(start.stderr, new RegExp(`^corral: the log file ${file} is a symbolic link \\(to ${target}\\): corral did not make it.*Remove it`));
    assert.equal(start.stdout, '');
    assert.equal(readFileSync(target, 'utf8'), text);
    const list = await runCommand(BIN, ['list', '--json'], { cwd: APP_DIR, env });
    assert.deepEqual((JSON.parse(list.stdout) as { apps: unknown[] }).apps, [], 'nothing started in the background');
  });

  test('corral start --log-file in the foreground with a 0644 file, or a log directory open to others: exit 2 with the chmod fix', { timeout: 30_000 }, async () => {
    const { env, logs } = isolated('cli-foreground');
    const file = path.join(logs, 'fg.log');
    writeFileSync(file, 'before\n');
    chmodSync(file, 0o644);
    const app = startProgram(BIN, ['start', APP, '-i', '1', '--name', 'fg', '--log-file'], { cwd: APP_DIR, env });
    assert.equal((await exitOf(app)).code, 2);
    assert.match(app.stderr(), new RegExp(`^corral: the log file ${file} is open to other users \\(mode 644\\).*'chmod 600 ${file}'`));
    assert.equal(readFileSync(file, 'utf8'), 'before\n');

    chmodSync(logs, 0o777);
    const detached = await runCommand(BIN, ['start', APP, '-i', '1', '--name', 'open-dir', '-d'], { cwd: APP_DIR, env });
    assert.equal(detached.status, 2, detached.stderr);
    assert.match(detached.stderr, new RegExp(`^corral: the log directory ${logs} can be written by other users \\(mode 777\\).*'chmod 700 ${logs}'`));
    assert.equal(existsSync(path.join(logs, 'open-dir.log')), false);
  });

  test('corral start -d in a missing log directory creates it 0700 and the log file 0600', { timeout: 30_000 }, async () => {
    const { env, logs } = isolated('cli-created');
    rmSync(logs, { recursive: true });
    const start = await runCommand(BIN, ['start', APP, '-i', '1', '--name', 'created', '-d'], { cwd: APP_DIR, env });
    assert.equal(start.status, 0, start.stderr);
    const stop = await runCommand(BIN, ['stop', 'created'], { cwd: APP_DIR, env });
    assert.equal(stop.status, 0, stop.stderr);
    const file = path.join(logs, 'created.log');
    assert.equal(modeOf(logs), 0o700);
    assert.equal(modeOf(file), 0o600);
    assert.equal(statSync(file).nlink, 1);
    assert.match(readFileSync(file, 'utf8'), /corral\[created\] ready: 1 worker/);
  });
});
