/**
 * The lines waiting for a log file's next write (log-file.ts), in order, with the points where a
 * reopen was asked (lines before such a point go to the file open then, the rest to the new one).
 */
import { countLines } from './log-trouble.js';

const REOPEN = Symbol('reopen');

export class LineQueue {
  #entries: (string | typeof REOPEN)[] = [];
  #bytes = 0;

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
  }

  /** Before every line waiting (a notice about the file it goes into). */
  unshift(text: string): void {
    this.#entries.unshift(text);
    this.#bytes += Buffer.byteLength(text);
  }

  pushReopen(): void {
    this.#entries.push(REOPEN);
  }

  shiftReopen(): void {
    if (this.reopenFirst) this.#entries.shift();
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
    return Buffer.from(lines.join(''));
  }

  lines(): number {
    return this.#entries.reduce((sum, entry) => sum + (entry === REOPEN ? 0 : countLines(entry)), 0);
  }

  clear(): void {
    this.#entries = [];
    this.#bytes = 0;
  }
}
