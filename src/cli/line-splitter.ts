/**
 * Splits a stream of text into lines in linear time, with a cap on a line's length: output with
 * no newline for a long time (a progress bar, a binary dump) is cut into lines of at most
 * MAX_LINE_LENGTH characters instead of piling up in memory, and no chunk is ever joined with
 * the whole of what came before it.
 */

/** The longest line passed on whole, in UTF-16 code units; longer ones are cut (as Docker's 16 KiB log lines). */
export const MAX_LINE_LENGTH = 16_384;

/** `continued`: the line was cut at the length limit, and the next line carries on with its text. */
export type LineSink = (line: string, continued: boolean) => void;

export class LineSplitter {
  readonly #emit: LineSink;
  readonly #max: number;
  #parts: string[] = [];
  #length = 0;

  constructor(emit: LineSink, max = MAX_LINE_LENGTH) {
    this.#emit = emit;
    this.#max = max;
  }

  push(chunk: string): void {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf('\n', start);
      const end = newline === -1 ? chunk.length : newline;
      while (end - start > this.#max - this.#length) {
        let cut = start + this.#max - this.#length;
        // Never between the halves of a surrogate pair.
        if (cut - 1 > start && isHighSurrogate(chunk.charCodeAt(cut - 1))) cut -= 1;
        this.#take(chunk.slice(start, cut));
        this.#flush(true);
        start = cut;
      }
      if (newline === -1) {
        if (end > start) this.#take(chunk.slice(start));
        return;
      }
      this.#take(chunk.slice(start, end));
      this.#flush(false);
      start = newline + 1;
    }
  }

  /** The stream ended: what is left is the last line. */
  end(): void {
    if (this.#length > 0) this.#flush(false);
  }

  #take(part: string): void {
    if (part.length === 0) return;
    this.#parts.push(part);
    this.#length += part.length;
  }

  #flush(continued: boolean): void {
    const line = this.#parts.length === 1 ? this.#parts[0]! : this.#parts.join('');
    this.#parts = [];
    this.#length = 0;
    this.#emit(line, continued);
  }
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
