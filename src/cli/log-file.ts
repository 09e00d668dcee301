/**
 * An app's log file (`corral start -d`, `--log-file`): corral's own lines and every worker's,
 * tagged, in one file per app under the log directory, rotated by size, so that every worker's
 * output is in the same rotation (`<name>.log`, then `<name>.log.1` … `.<maxFiles>`, oldest last).
 *
 * Writes are gathered and written once per turn of the event loop (one system call for many
 * lines); while more than HIGH_WATER bytes wait, `write()` returns false, and worker output
 * passing through is paused until they are written (worker-output.ts), so a fast writer can
 * neither grow the primary nor lose lines. A failing disk (full, removed) is said once, then its
 * lines are dropped (until reopen() succeeds): the app keeps serving.
 *
 * Every file is opened through safe-log-open.ts (never followed through a symlink, never another
 * user's or hard-linked, always 0600), the rotated-in one and a reopened one too.
 */
import { closeSync, existsSync, renameSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openLogFile } from './safe-log-open.js';

/** Bytes waiting to be written past which writers are asked to wait. */
const HIGH_WATER = 1024 * 1024;

export const DEFAULT_LOG_MAX_SIZE = 10 * 1024 * 1024;
export const DEFAULT_LOG_MAX_FILES = 5;

/** `$CORRAL_LOG_DIR`, else `$XDG_STATE_HOME/corral`, else `~/.local/state/corral`. */
export function logDirectory(env: NodeJS.ProcessEnv = process.env): string {
  if (env['CORRAL_LOG_DIR']) return path.resolve(env['CORRAL_LOG_DIR']);
  if (env['XDG_STATE_HOME']) return path.join(env['XDG_STATE_HOME'], 'corral');
  return path.join(os.homedir(), '.local', 'state', 'corral');
}

export function logFilePath(name: string, dir: string = logDirectory()): string {
  return path.join(dir, `${name}.log`);
}

/** The files of an app's log, oldest first (rotated ones, then the current one), those that exist. */
export function logFiles(file: string, maxFiles = 99): string[] {
  const files: string[] = [];
  for (let index = maxFiles; index >= 1; index -= 1) if (existsSync(`${file}.${index}`)) files.push(`${file}.${index}`);
  if (existsSync(file)) files.push(file);
  return files;
}

export interface LogFileOptions {
  /** Rotate once the file would grow past this many bytes. */
  readonly maxSize: number;
  /** Rotated files kept besides the current one. */
  readonly maxFiles: number;
  /** Told once when the file cannot be written (its lines are then dropped). */
  readonly onError: (error: Error) => void;
}

export class RotatingLogFile {
  readonly path: string;
  readonly #options: LogFileOptions;
  #fd: number | undefined;
  #size: number;
  #pending: string[] = [];
  #pendingBytes = 0;
  #scheduled: NodeJS.Immediate | undefined;
  #waiters: (() => void)[] = [];
  #failed = false;
  #closed = false;

  /** Opens (or creates) `file`; throws LogFileError when it or its directory cannot be trusted. */
  constructor(file: string, options: LogFileOptions) {
    this.path = file;
    this.#options = options;
    const opened = openLogFile(file);
    this.#fd = opened.fd;
    this.#size = opened.size;
  }

  /** Appends `text` (whole lines); false while writers should wait (see whenWritable). */
  write(text: string): boolean {
    if (this.#failed) return true;
    this.#pending.push(text);
    this.#pendingBytes += Buffer.byteLength(text);
    this.#scheduled ??= setImmediate(() => this.flush());
    return this.#pendingBytes < HIGH_WATER;
  }

  /** Calls `callback` once the waiting bytes are below the mark (at once if they are). */
  whenWritable(callback: () => void): void {
    if (this.#pendingBytes < HIGH_WATER) callback();
    else this.#waiters.push(callback);
  }

  /** Writes everything waiting, now. */
  flush(): void {
    if (this.#scheduled !== undefined) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    const data = Buffer.from(this.#pending.join(''));
    this.#pending = [];
    this.#pendingBytes = 0;
    if (data.length > 0 && !this.#failed) {
      try {
        if (this.#size > 0 && this.#size + data.length > this.#options.maxSize) this.#rotate();
        for (let offset = 0; offset < data.length;) offset += writeSync(this.#fd!, data, offset);
        this.#size += data.length;
      } catch (error) {
        this.#failed = true;
        this.#options.onError(error as Error);
      }
    }
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter();
  }

  /** Writes what waits and closes the file; later lines are dropped (the app has stopped). */
  close(): void {
    this.flush();
    this.#failed = true;
    this.#closed = true;
    this.#closeFd();
  }

  /**
   * Writes what waits, closes the file and opens `path` again, creating it if it was moved away or
   * deleted: what logrotate's postrotate (a SIGUSR1) expects, so that new lines go to a new file
   * and the renamed one keeps only the old. When the file cannot be opened, that is said
   * (onError) and lines are dropped until a later reopen succeeds; it never throws.
   */
  reopen(): void {
    if (this.#closed) return;
    this.flush();
    this.#closeFd();
    try {
      const opened = openLogFile(this.path);
      this.#fd = opened.fd;
      this.#size = opened.size;
      this.#failed = false;
    } catch (error) {
      this.#failed = true;
      this.#options.onError(error as Error);
    }
  }

  #closeFd(): void {
    const fd = this.#fd;
    this.#fd = undefined;
    try {
      if (fd !== undefined) closeSync(fd);
    } catch {
      // The descriptor is released even when close reports an error (EIO): nothing more to do.
    }
  }

  #rotate(): void {
    this.#closeFd();
    const { maxFiles } = this.#options;
    for (let index = maxFiles - 1; index >= 1; index -= 1) {
      if (existsSync(`${this.path}.${index}`)) renameSync(`${this.path}.${index}`, `${this.path}.${index + 1}`);
    }
    renameSync(this.path, `${this.path}.1`);
    const opened = openLogFile(this.path);
    this.#fd = opened.fd;
    this.#size = opened.size;
  }
}
