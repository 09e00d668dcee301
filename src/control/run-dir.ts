/**
 * Where control sockets live: one directory per user, mode 0700, so that only its owner (and
 * root) can reach the sockets in it. `$CORRAL_RUN_DIR` when set (systemd's RuntimeDirectory, or
 * tests), else `$XDG_RUNTIME_DIR/corral` (the per-user runtime directory of a login session),
 * else `<tmpdir>/corral-<uid>`, unless something else already holds that name in the shared
 * temporary directory (another user can create it first), then `~/.corral/run`.
 *
 * Nothing is trusted on its name alone: a directory must be a real directory (not a symlink) of
 * this user that nobody else can enter, and a socket a real socket of this user; anything else is
 * refused with the path and the fix, never repaired (a chmod would hand over whatever another
 * user already put inside).
 */
import { lstatSync, mkdirSync, unlinkSync, type Stats } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ControlError } from './errors.js';

/** Unix socket paths are limited to about 107 bytes (sun_path). */
const MAX_SOCKET_PATH = 107;

export function runDirectory(env: NodeJS.ProcessEnv = process.env): string {
  if (env['CORRAL_RUN_DIR']) return path.resolve(env['CORRAL_RUN_DIR']);
  if (env['XDG_RUNTIME_DIR']) return path.join(env['XDG_RUNTIME_DIR'], 'corral');
  const shared = path.join(os.tmpdir(), `corral-${process.getuid?.() ?? os.userInfo().username}`);
  return ownPrivateDirectory(shared) !== false ? shared : path.join(os.homedir(), '.corral', 'run');
}

/**
 * Every run directory a primary of this user may have used, the one `runDirectory()` gives first:
 * where `corral status`, `list` and the rest look for apps. A shell has XDG_RUNTIME_DIR, cron and
 * `su` often do not, so an app started from one must be found from the other: the systemd
 * default `/run/user/<uid>` is searched even when the variable is unset, and so are the fallbacks.
 * `$CORRAL_RUN_DIR`, when set, is the only one (it is how tests and units keep apps apart).
 */
export function runDirectories(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env['CORRAL_RUN_DIR']) return [path.resolve(env['CORRAL_RUN_DIR'])];
  const uid = process.getuid?.();
  const candidates = [
    runDirectory(env),
    ...(env['XDG_RUNTIME_DIR'] ? [path.join(env['XDG_RUNTIME_DIR'], 'corral')] : []),
    ...(uid === undefined ? [] : [path.join('/run/user', String(uid), 'corral')]),
    path.join(os.tmpdir(), `corral-${uid ?? os.userInfo().username}`),
    path.join(os.homedir(), '.corral', 'run'),
  ];
  return [...new Set(candidates)];
}

/** undefined: nothing there; true: a private directory of this user; false: anything else. */
function ownPrivateDirectory(dir: string): boolean | undefined {
  let stat: Stats;
  try {
    stat = lstatSync(dir);
  } catch {
    return undefined;
  }
  const uid = process.getuid?.();
  return stat.isDirectory() && (uid === undefined || stat.uid === uid) && (stat.mode & 0o077) === 0;
}

/** Creates the directory if needed, and checks that it is this user's and private. */
export function ensureRunDirectory(dir: string = runDirectory()): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  checkRunDirectory(dir);
  return dir;
}

/** Throws unless `dir` is a directory of this user that nobody else can enter. */
export function checkRunDirectory(dir: string): void {
  const stat = lstatSync(dir);
  const uid = process.getuid?.();
  if (!stat.isDirectory()) {
    throw new ControlError('CORRAL_ERR_RUN_DIR', `the run directory ${dir} is not a directory. Remove it, or set CORRAL_RUN_DIR to another place.`);
  }
  if (uid !== undefined && stat.uid !== uid) {
    throw new ControlError('CORRAL_ERR_RUN_DIR', `the run directory ${dir} belongs to another user (uid ${stat.uid}; you are uid ${uid}). ` +
      "corral will not use another user's control sockets. Set CORRAL_RUN_DIR to a directory of your own.");
  }
  if ((stat.mode & 0o077) !== 0) {
    // Ours but open to others (made by hand, or by an old umask): whatever is in it may have been
    // put there by someone else, so it is not closed and used, but refused.
    throw new ControlError('CORRAL_ERR_RUN_DIR', `the run directory ${dir} is open to other users (mode ${(stat.mode & 0o777).toString(8)}), ` +
      `so its control sockets cannot be trusted. Check what is in it, then 'chmod 700 ${dir}' (or remove it), or set CORRAL_RUN_DIR to a private directory.`);
  }
}

/** Throws unless `file` is a socket of this user (not a symlink, not another user's); returns what it is. */
export function checkSocket(file: string): Stats {
  const stat = lstatSync(file);
  const uid = process.getuid?.();
  const problem = stat.isSymbolicLink() ? 'is a symbolic link'
    : !stat.isSocket() ? 'is not a socket'
      : uid !== undefined && stat.uid !== uid ? `belongs to another user (uid ${stat.uid}; you are uid ${uid})` : undefined;
  if (problem === undefined) return stat;
  throw new ControlError('CORRAL_ERR_RUN_DIR', `the control socket ${file} ${problem}: corral did not make it for you, and will not talk to it. ` +
    'Remove it, and check who can write to its directory.');
}

/**
 * Removes `file`, a control socket of this user (`seen`: checkSocket() before the connection) on
 * which a connection was refused: no primary listens there, as one SIGKILLed (or OOM-killed)
 * leaves it. Not if it is another file now: a primary starting under that name unlinks the dead
 * socket and binds a new one (another inode), which stays. Only the instant between the lstat and
 * the unlink below is left for such a start to fall into. Returns whether it was removed.
 */
export function removeDeadSocket(file: string, seen: Stats): boolean {
  const now = lstatSync(file, { throwIfNoEntry: false });
  if (now === undefined || now.ino !== seen.ino || now.dev !== seen.dev) return false;
  try {
    unlinkSync(file);
    return true;
  } catch {
    return false; // Gone already (another command removed it), or not ours to remove.
  }
}

export function socketPath(name: string, dir: string = runDirectory()): string {
  const file = path.join(dir, `${name}.sock`);
  if (Buffer.byteLength(file) > MAX_SOCKET_PATH) {
    throw new ControlError('CORRAL_ERR_SOCKET_PATH', `the control socket path ${file} is longer than ${MAX_SOCKET_PATH} bytes, the limit of Unix sockets. ` +
      'Use a shorter --name, or set CORRAL_RUN_DIR to a shorter directory.');
  }
  return file;
}
