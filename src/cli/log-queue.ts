/**
 * The lines waiting for a log file's next write (log-file.ts), in order, with the points where a
 * reopen was asked (lines before such a point go to the file open then, the rest to the new one).
 *
 * It counts what was pushed and how much of that has left it, so that a flush can wait for the
 * lines there now and no later ones (a flood never leaves the queue empty). Notices put before
 * every line (unshift) are not counted: they only ever join at the front, so they are always its
 * first entries.
 */
import { countLines } from './log-trouble.js';

const REOPEN = Symbol('reopen');

export class LineQueue {
  #entries: (string | typeof REOPEN)[] = [];
  #bytes = 0;
  /** Entries pushed (lines and reopens), ever. */
  #pushed = 0;
  /** Of those, how many have left the queue (taken, or cleared). */
  #passed = 0;
  /** How many of the first entries are notices put there by unshift. */
  #notices = 0;

  /** Entries pushed so far: a position in the queue that `passed` reaches once they are all out. */
  get pushed(): number {
    return this.#pushed;
  }

  /** Pushed entries that have left the queue. */
  get passed(): number {
    return this.#passed;
  }

  /** Bytes of the lines waiting. */
  get bytes(): number {
    return this.#bytes;
  }

  get empty(): boolean {
    return this.#entries.length === 0;
  }

  /** A reopen comes before any line. */
  get reopenFirst(): boolean {
    return this.#entries[0] === REOPEN;
  }

  push(text: string, bytes = Buffer.byteLength(text)): void {
    this.#entries.push(text);
    this.#bytes += bytes;
    this.#pushed += 1;
  }

  /** Before every line waiting (a notice about the file it goes into). */
  unshift(text: string): void {
    this.#entries.unshift(text);
    this.#bytes += Buffer.byteLength(text);
    this.#notices += 1;
  }

  pushReopen(): void {
    this.#entries.push(REOPEN);
    this.#pushed += 1;
  }

  shiftReopen(): void {
    if (!this.reopenFirst) return;
    this.#entries.shift();
    this.#passed += 1;
  }

  /**
   * The first lines, up to a reopen, that fit in `room` bytes and in `chunk`, joined; undefined
   * when the first does not fit in `room`. In an empty file (`fresh`), the first line is taken
   * whatever its length: it could fit in no file.
   */
  take(room: number, chunk: number, fresh: boolean): Buffer | undefined {
    let bytes = 0;
    let count = 0;
    for (; count < this.#entries.length; count += 1) {
      const entry = this.#entries[count]!;
      if (entry === REOPEN) break;
      const size = Buffer.byteLength(entry);
      if (bytes + size > room && (bytes > 0 || !fresh)) break;
      if (bytes + size > chunk && bytes > 0) break;
      bytes += size;
    }
    if (count === 0) return undefined;
    const lines = this.#entries.splice(0, count) as string[];
    this.#bytes -= bytes;
    const notices = Math.min(count, this.#notices);
    this.#notices -= notices;
    this.#passed += count - notices;
    return Buffer.from(lines.join(''));
  }

  lines(): number {
    return this.#entries.reduce((sum, entry) => sum + (entry === REOPEN ? 0 : countLines(entry)), 0);
  }

  clear(): void {
    this.#entries = [];
    this.#bytes = 0;
    this.#notices = 0;
    this.#passed = this.#pushed;
  }
}
