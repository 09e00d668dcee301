/**
 * The one way corral opens a log file for writing (RotatingLogFile, and the detached primary's own
 * stdout and stderr). corral often runs as root and writes lines the app chooses, so nothing is
 * trusted on its name: a symlink planted at `<name>.log` would have those lines appended to
 * whatever it points to, a hard link would have them written into another file, and a file
 * another user created first would let that user read every line.
 *
 * - The log directory must be a real directory (not a symlink) of this user that nobody else can
 *   write to; it is created with mode 0700 when missing.
 * - The file is created with O_CREAT|O_EXCL (mode 0600), so that nothing already there is used
 *   by accident; when it exists it is opened with O_NOFOLLOW (a symlink fails), and then checked
 *   on its descriptor (fstat: what is checked is what is written to): a regular file of this
 *   user, with no group or other permission bits, and no other name (one link).
 *
 * Anything else is refused with the path, what is wrong and the fix (LogFileError), never
 * repaired: a chmod or chown would not undo what another user could already do with it. As
 * control/run-dir.ts does for the run directory and the control sockets.
 *
 * openLogFile() is synchronous, for the start (nothing serves yet); openLogFileAsync() does the
 * same checks with asynchronous calls, for a running primary (rotation, reopening), whose event
 * loop must not wait on a stalled disk.
 */
import { close, closeSync, constants, fstat, fstatSync, lstatSync, mkdirSync, open, openSync, readlinkSync, type Stats } from 'node:fs';
import { lstat, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { LogFileError } from '../errors.js';

// O_NONBLOCK: a FIFO with no reader fails (ENXIO) rather than hanging the primary in open(); on a
// regular file it changes nothing. O_NOCTTY: a terminal device never becomes corral's terminal.
// O_NOFOLLOW and O_NOCTTY are missing on Windows (0 there: no such flag).
const EXISTING = constants.O_WRONLY | constants.O_APPEND | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0);
const CREATE = EXISTING | constants.O_CREAT | constants.O_EXCL;
/** Opens before giving up when the file keeps vanishing between two calls (a rotation by hand). */
const ATTEMPTS = 3;

const errorCode = (error: unknown): string => (error as NodeJS.ErrnoException).code ?? (error as Error).message;

export interface OpenedLogFile {
  readonly fd: number;
  /** Its size when opened (appends go after it). */
  readonly size: number;
  /** Its identity, to tell later whether its path still names it. */
  readonly ino: number;
  readonly dev: number;
}

const openAsync = promisify(open);
const fstatAsync = promisify(fstat);
const closeAsync = promisify(close);

/** Opens `file` for appending, creating it (0600) if missing, after checking its directory. Throws LogFileError. */
export function openLogFile(file: string): OpenedLogFile {
  ensureLogDirectory(path.dirname(file));
  for (let attempt = 1; ; attempt += 1) {
    const fd = openDescriptor(file, attempt < ATTEMPTS);
    if (fd === undefined) continue;
    let stat: Stats;
    try {
      stat = fstatSync(fd);
      // Removed between the open and the fstat: open again, or lines would go to a file with no name.
      if (stat.nlink === 0 && attempt < ATTEMPTS) {
        closeSync(fd);
        continue;
      }
      checkLogFile(file, stat);
    } catch (error) {
      closeSync(fd);
      throw error instanceof LogFileError ? error : cannotOpen(file, error);
    }
    return { fd, size: stat.size, ino: stat.ino, dev: stat.dev };
  }
}

/** As openLogFile, without blocking the event loop. Rejects with LogFileError. */
export async function openLogFileAsync(file: string): Promise<OpenedLogFile> {
  await ensureLogDirectoryAsync(path.dirname(file));
  for (let attempt = 1; ; attempt += 1) {
    const fd = await openDescriptorAsync(file, attempt < ATTEMPTS);
    if (fd === undefined) continue;
    let stat: Stats;
    try {
      stat = await fstatAsync(fd);
      if (stat.nlink === 0 && attempt < ATTEMPTS) {
        await closeAsync(fd);
        continue;
      }
      checkLogFile(file, stat);
    } catch (error) {
      await closeAsync(fd).catch(() => {});
      throw error instanceof LogFileError ? error : cannotOpen(file, error);
    }
    return { fd, size: stat.size, ino: stat.ino, dev: stat.dev };
  }
}

/** The descriptor, or undefined when the file vanished between two calls and `retry` allows another attempt. */
function openDescriptor(file: string, retry: boolean): number | undefined {
  try {
    return openSync(file, CREATE, 0o600);
  } catch (error) {
    if (errorCode(error) !== 'EEXIST') throw cannotOpen(file, error);
  }
  try {
    return openSync(file, EXISTING);
  } catch (error) {
    if (errorCode(error) === 'ENOENT' && retry) return undefined;
    throw openFailure(file, error, needsLstat(error) ? lstatOrUndefined(() => lstatSync(file)) : undefined);
  }
}

async function openDescriptorAsync(file: string, retry: boolean): Promise<number | undefined> {
  try {
    return await openAsync(file, CREATE, 0o600);
  } catch (error) {
    if (errorCode(error) !== 'EEXIST') throw cannotOpen(file, error);
  }
  try {
    return await openAsync(file, EXISTING);
  } catch (error) {
    if (errorCode(error) === 'ENOENT' && retry) return undefined;
    throw openFailure(file, error, needsLstat(error) ? await lstat(file).catch(() => undefined) : undefined);
  }
}

// ELOOP: a symlink (O_NOFOLLOW); ENXIO: a FIFO with no reader or a socket; EISDIR: a directory.
const needsLstat = (error: unknown): boolean => ['ELOOP', 'ENXIO', 'EISDIR'].includes(errorCode(error));

function lstatOrUndefined(call: () => Stats): Stats | undefined {
  try {
    return call();
  } catch {
    return undefined;
  }
}

/** What an open of an existing file that failed is told as: what is in its place when that is not a file. */
function openFailure(file: string, error: unknown, stat: Stats | undefined): LogFileError {
  return stat !== undefined && !stat.isFile() ? notAFile(file, stat) : cannotOpen(file, error);
}

/** Throws unless `stat` (of the open descriptor) is a regular file of this user, private, with one name. */
function checkLogFile(file: string, stat: Stats): void {
  const uid = process.getuid?.();
  if (!stat.isFile()) throw notAFile(file, stat);
  if (uid !== undefined && stat.uid !== uid) {
    throw new LogFileError(file, `the log file ${file} belongs to another user (uid ${stat.uid}; you are uid ${uid}), who could read every line ` +
      `written to it. corral did not make it, and will not write to it. Remove it (corral creates its own, mode 600), or set CORRAL_LOG_DIR to a directory of your own.`);
  }
  if ((stat.mode & 0o077) !== 0) {
    // Not chmod-ed here: a reader that opened it already would keep reading after a chmod.
    throw new LogFileError(file, `the log file ${file} is open to other users (mode ${(stat.mode & 0o777).toString(8)}), who could read the app's lines. ` +
      `Remove it (corral creates its own, mode 600), or 'chmod 600 ${file}' if nobody else has it open (a chmod does not stop a reader that already has).`);
  }
  if (stat.nlink === 0) {
    throw new LogFileError(file, `the log file ${file} was removed while corral opened it, again and again. Check what removes it, then start again.`);
  }
  if (stat.nlink > 1) {
    throw new LogFileError(file, `the log file ${file} has ${stat.nlink} hard links: it is also another file under another name, which its lines ` +
      `would be written into. corral did not make it so. Remove it (corral creates its own), and check who can write to ${path.dirname(file)}.`);
  }
}

function notAFile(file: string, stat: Stats): LogFileError {
  if (stat.isSymbolicLink()) {
    return new LogFileError(file, `the log file ${file} is a symbolic link (to ${linkTarget(file)}): corral did not make it, and will not write ` +
      `through it (the app's lines would land in whatever it points to). Remove it, and check who can write to ${path.dirname(file)}.`);
  }
  return new LogFileError(file, `the log file ${file} is not a regular file (it is ${kindOf(stat)}). Remove it, or set CORRAL_LOG_DIR to another place.`);
}

function cannotOpen(file: string, error: unknown): LogFileError {
  return new LogFileError(file, `the log file ${file} cannot be opened for writing (${errorCode(error)}). Check its permissions and the disk, ` +
    'or set CORRAL_LOG_DIR to a directory you can write.', error);
}

/**
 * Creates the log directory (mode 0700) if missing, and throws LogFileError unless it is a real
 * directory of this user that nobody else can write to.
 */
export function ensureLogDirectory(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throwUnlessExists(dir, error);
  }
  checkLogDirectory(dir);
}

async function ensureLogDirectoryAsync(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throwUnlessExists(dir, error);
  }
  let stat: Stats;
  try {
    stat = await lstat(dir);
  } catch (error) {
    throw unreadableDirectory(dir, error);
  }
  checkDirectoryStat(dir, stat);
}

function throwUnlessExists(dir: string, error: unknown): void {
  // EEXIST: something that is not a directory has its name (said below, as lstat sees it).
  if (errorCode(error) !== 'EEXIST') {
    throw new LogFileError(dir, `the log directory ${dir} cannot be created (${errorCode(error)}). Set CORRAL_LOG_DIR to a directory you can write.`, error);
  }
}

const unreadableDirectory = (dir: string, error: unknown): LogFileError =>
  new LogFileError(dir, `the log directory ${dir} cannot be read (${errorCode(error)}). Set CORRAL_LOG_DIR to a directory you can write.`, error);

/** Throws LogFileError unless `dir` is a directory (not a symlink) of this user that nobody else can write to. */
export function checkLogDirectory(dir: string): void {
  let stat: Stats;
  try {
    stat = lstatSync(dir);
  } catch (error) {
    throw unreadableDirectory(dir, error);
  }
  checkDirectoryStat(dir, stat);
}

function checkDirectoryStat(dir: string, stat: Stats): void {
  const uid = process.getuid?.();
  if (stat.isSymbolicLink()) {
    // Whoever can change the link chooses where the logs go; the real directory is checked if named.
    throw new LogFileError(dir, `the log directory ${dir} is a symbolic link (to ${linkTarget(dir)}): corral does not follow links to its logs. ` +
      'Set CORRAL_LOG_DIR to the directory itself, if it is yours, or replace the link with a directory.');
  }
  if (!stat.isDirectory()) {
    throw new LogFileError(dir, `the log directory ${dir} is not a directory (it is ${kindOf(stat)}). Remove it, or set CORRAL_LOG_DIR to another place.`);
  }
  if (uid !== undefined && stat.uid !== uid) {
    throw new LogFileError(dir, `the log directory ${dir} belongs to another user (uid ${stat.uid}; you are uid ${uid}), who could replace the log ` +
      'files in it. Set CORRAL_LOG_DIR to a directory of your own.');
  }
  // Writable by others: they could plant links and files under the names corral writes. Readable
  // by others is fine (a 0755 directory, as systemd's LogsDirectory= and /var/log are): they see
  // the names, but every file is 0600, checked when it is opened.
  if ((stat.mode & 0o022) !== 0) {
    throw new LogFileError(dir, `the log directory ${dir} can be written by other users (mode ${(stat.mode & 0o777).toString(8)}), who could plant ` +
      `links or files under the names of its logs. Check what is in it, then 'chmod 700 ${dir}' (or 'chmod go-w ${dir}'), or set CORRAL_LOG_DIR to a directory of your own.`);
  }
}

function linkTarget(file: string): string {
  try {
    return readlinkSync(file);
  } catch {
    return 'somewhere';
  }
}

function kindOf(stat: Stats): string {
  return stat.isDirectory() ? 'a directory' : stat.isSymbolicLink() ? 'a symbolic link' : stat.isFIFO() ? 'a FIFO'
    : stat.isSocket() ? 'a socket' : stat.isCharacterDevice() ? 'a character device' : stat.isBlockDevice() ? 'a block device' : 'not a file';
}
