/**
 * Where control sockets live: one directory per user, mode 0700, so that only its owner (and
 * root) can reach the sockets in it. `$CORRAL_RUN_DIR` when set (systemd's RuntimeDirectory, or
 * tests), else `$XDG_RUNTIME_DIR/corral`, else `<tmpdir>/corral-<uid>`. A directory that exists
 * but belongs to another user, or that others can open, is refused rather than trusted.
 */
import { chmodSync, lstatSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ControlError } from './errors.js';

/** Unix socket paths are limited to about 107 bytes (sun_path). */
const MAX_SOCKET_PATH = 107;

export function runDirectory(env: NodeJS.ProcessEnv = process.env): string {
  if (env['CORRAL_RUN_DIR']) return path.resolve(env['CORRAL_RUN_DIR']);
  if (env['XDG_RUNTIME_DIR']) return path.join(env['XDG_RUNTIME_DIR'], 'corral');
  return path.join(os.tmpdir(), `corral-${process.getuid?.() ?? os.userInfo().username}`);
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
    // Ours but open to others (made by hand, or by an old umask): close it.
    chmodSync(dir, 0o700);
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
