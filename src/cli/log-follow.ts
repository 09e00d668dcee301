/**
 * `corral logs -f`: following an app's log file across its rotations, every line once and in
 * order, however many rotations happen between two looks.
 *
 * The file followed is held open, so its lines stay readable after it is renamed (`<name>.log.1`)
 * or even deleted (rotated past --log-max-files). When the path names another file, the one
 * followed is read to its end, the files written after it are found by inode among `<name>.log`,
 * `.1`, `.2` … and each is read in order, and the newest is followed from its end.
 */
import { closeSync, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

/** The highest rotated file number (--log-max-files is at most 99). */
const MAX_INDEX = 99;

interface Opened {
  readonly fd: number;
  readonly stat: Stats;
}

const sameFile = (a: Stats, b: Stats): boolean => a.ino === b.ino && a.dev === b.dev;

export class LogFollower {
  readonly path: string;
  readonly #onLine: (line: string) => void;
  readonly #onNote: (note: string) => void;
  readonly #buffer = Buffer.alloc(64 * 1024);
  #fd: number;
  #stat: Stats;
  #position: number;
  #partial = '';
  /** Keeps a character cut between two reads whole. */
  #decoder = new StringDecoder('utf8');

  /** Follows the file open as `fd` (the one at `file` now) from `position`. */
  constructor(file: string, fd: number, position: number, onLine: (line: string) => void, onNote: (note: string) => void) {
    this.path = file;
    this.#fd = fd;
    this.#stat = fstatSync(fd);
    this.#position = position;
    this.#onLine = onLine;
    this.#onNote = onNote;
  }

  /** Prints what was written since the last look, across rotations. */
  poll(): void {
    this.#drain();
    const now = statSync(this.path, { throwIfNoEntry: false });
    // Missing: a rotation is under way (renamed, the new file not there yet); the next look sees it.
    if (now === undefined || sameFile(now, this.#stat)) return;
    // Lines the writer added before it rotated, since the read above.
    this.#drain();
    const newer = this.#newerFiles();
    if (newer.length === 0) return;
    this.#endLine();
    for (const file of newer.slice(0, -1)) {
      this.#follow(file);
      this.#drain();
      this.#endLine();
    }
    this.#follow(newer.at(-1)!);
    this.#drain();
  }

  close(): void {
    closeSync(this.#fd);
  }

  /**
   * The files written after the one followed, oldest first, open. The names are looked at from
   * the newest up (`<name>.log`, `.1`, `.2` …): a rotation moves each file to a higher number, so
   * a scan upward meets every file (some twice: counted once, by inode) and stops at the one followed.
   */
  #newerFiles(): Opened[] {
    const found: Opened[] = [];
    for (let index = 0; index <= MAX_INDEX; index += 1) {
      const opened = openIfThere(index === 0 ? this.path : `${this.path}.${index}`);
      if (opened === undefined) continue;
      if (sameFile(opened.stat, this.#stat)) {
        closeSync(opened.fd);
        return found.reverse();
      }
      if (found.some((file) => sameFile(file.stat, opened.stat))) closeSync(opened.fd);
      else found.push(opened);
    }
    // The file followed has no name left: rotated past --log-max-files, or removed. The files
    // written after it are those changed since it last was.
    const last = fstatSync(this.#fd).mtimeMs;
    const after = found.filter((file) => file.stat.mtimeMs >= last);
    for (const file of found) if (!after.includes(file)) closeSync(file.fd);
    this.#onNote(`corral logs: ${this.path} was rotated past --log-max-files (or removed) before it was followed into the next file; ` +
      'lines of files rotated away meanwhile may be missing. A larger --log-max-size or --log-max-files keeps them longer.');
    return after.reverse();
  }

  #follow(file: Opened): void {
    closeSync(this.#fd);
    this.#fd = file.fd;
    this.#stat = file.stat;
    this.#position = 0;
  }

  /** Prints every complete line from the position to the file's end. */
  #drain(): void {
    for (let read = this.#read(); read > 0; read = this.#read()) {
      this.#position += read;
      const lines = (this.#partial + this.#decoder.write(this.#buffer.subarray(0, read))).split('\n');
      this.#partial = lines.pop()!;
      for (const line of lines) this.#onLine(line);
    }
  }

  #read(): number {
    return readSync(this.#fd, this.#buffer, 0, this.#buffer.length, this.#position);
  }

  /** A finished file's last line had no newline (a write cut short): it is a line of its own. */
  #endLine(): void {
    this.#partial += this.#decoder.end();
    this.#decoder = new StringDecoder('utf8');
    if (this.#partial === '') return;
    this.#onLine(this.#partial);
    this.#partial = '';
  }
}

function openIfThere(file: string): Opened | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  return { fd, stat: fstatSync(fd) };
}
