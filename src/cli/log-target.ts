/**
 * The file a RotatingLogFile (log-file.ts) writes into: its descriptor, size and identity, and the
 * operations on it, every one asynchronous once the app runs. The primary's event loop accepts
 * every new connection, so a stalled disk (a full NFS server, a dying device) must hold up only
 * the log's own operation, never the loop. Every file is opened through safe-log-open.ts.
 */
import { close, fstat, write } from 'node:fs';
import { lstat, rename } from 'node:fs/promises';
import { promisify } from 'node:util';
import { openLogFile, openLogFileAsync, type OpenedLogFile } from './safe-log-open.js';

/** fs.write's shape for a Buffer: a seam through which tests stand in for a stalled or full disk. */
export type WriteFunction = (
  fd: number, buffer: Buffer, offset: number, length: number, position: null,
  callback: (error: NodeJS.ErrnoException | null, written: number) => void,
) => void;

/** What the path names now, compared with the file being written: the same file, none (removed), or another (moved, replaced). */
export type Identity = 'same' | 'removed' | 'moved';

const fstatAsync = promisify(fstat);
const closeAsync = promisify(close);
const code = (error: unknown): string | undefined => (error as NodeJS.ErrnoException).code;

export class LogTarget {
  readonly path: string;
  readonly #write: WriteFunction;
  #opened: OpenedLogFile | undefined;
  /** Bytes in the file (appends go after them). */
  #size = 0;

  /** Opens `file` now (at the start, before anything serves); throws LogFileError. */
  constructor(file: string, writeFunction: WriteFunction = write) {
    this.path = file;
    this.#write = writeFunction;
    this.#use(openLogFile(file));
  }

  get isOpen(): boolean {
    return this.#opened !== undefined;
  }

  get size(): number {
    return this.#size;
  }

  /** Closes what is open and opens the path again (creating it when missing); rejects with LogFileError. */
  async reopen(): Promise<void> {
    await this.close();
    this.#use(await openLogFileAsync(this.path));
  }

  /**
   * Appends `data`, all of it unless the disk fails: resolves with the bytes written, and the
   * error that stopped it, if one did (the rest is the caller's to retry).
   */
  async append(data: Buffer): Promise<{ written: number; error?: NodeJS.ErrnoException }> {
    let written = 0;
    while (written < data.length) {
      const fd = this.#opened?.fd;
      if (fd === undefined) return { written, error: Object.assign(new Error('the log file is not open'), { code: 'EBADF' }) };
      try {
        const count = await new Promise<number>((resolve, reject) => {
          this.#write(fd, data, written, data.length - written, null, (error, bytes) => (error === null ? resolve(bytes) : reject(error)));
        });
        written += count;
        this.#size += count;
      } catch (error) {
        return { written, error: error as NodeJS.ErrnoException };
      }
    }
    return { written };
  }

  /**
   * `<path>.<maxFiles-1>` … `<path>.1` and the file itself each move one number up (the oldest is
   * replaced), and a new file is opened at the path. Names already gone (removed by hand) are
   * passed over. Rejects with LogFileError when the new file cannot be opened: nothing is open then.
   */
  async rotate(maxFiles: number): Promise<void> {
    for (let index = maxFiles - 1; index >= 1; index -= 1) await renameIfThere(`${this.path}.${index}`, `${this.path}.${index + 1}`);
    await renameIfThere(this.path, `${this.path}.1`);
    await this.reopen();
  }

  /** Whether the path still names the file being written (lstat against the descriptor's fstat). */
  async identity(): Promise<Identity> {
    const opened = this.#opened;
    if (opened === undefined) return 'same';
    const now = await lstat(this.path).catch((error: unknown) => {
      if (code(error) === 'ENOENT') return undefined;
      throw error;
    });
    if (now !== undefined && now.ino === opened.ino && now.dev === opened.dev) return 'same';
    // The file written has no name left: it was removed (its lines with it). With a name: moved.
    const own = await fstatAsync(opened.fd);
    return own.nlink === 0 ? 'removed' : 'moved';
  }

  async close(): Promise<void> {
    const fd = this.#opened?.fd;
    this.#opened = undefined;
    // The descriptor is released even when close reports an error (EIO): nothing more to do.
    if (fd !== undefined) await closeAsync(fd).catch(() => {});
  }

  #use(opened: OpenedLogFile): void {
    this.#opened = opened;
    this.#size = opened.size;
  }
}

async function renameIfThere(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (error) {
    if (code(error) !== 'ENOENT') throw error;
  }
}
