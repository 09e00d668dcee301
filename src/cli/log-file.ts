/**
 * An app's log file (`corral start -d`, `--log-file`): corral's own lines and every worker's,
 * tagged, in one file per app under the log directory, rotated by size, so that every worker's
 * output is in the same rotation (`<name>.log`, then `<name>.log.1` … `.<maxFiles>`, oldest last).
 *
 * The primary's event loop accepts every new connection, so nothing here blocks it: lines are
 * queued and written by one asynchronous write at a time (what queued meanwhile goes in the next
 * one), and rotation, reopening and the checks of the path are asynchronous too (log-target.ts).
 * A file never grows past maxSize: a batch is cut at a line boundary and the rest goes into the
 * next file (only a single line longer than maxSize makes a file of its own larger).
 *
 * Backpressure, bounded: while more than HIGH_WATER bytes wait, `write()` returns false and worker
 * output is paused (worker-output.ts; the workers' writes then wait). But a disk that stalls (no
 * answer for `stallAfter` ms) or fails (full, removed, refused) must not hold the app: writers are
 * let go, lines wait up to MAX_WAITING bytes, and past that they are dropped and counted. Writing
 * is retried after a backoff; once it works again the file gets a line saying how many lines were
 * dropped, from when to when, and why, and so does the operator (onWarning). A path that no longer
 * names the file (removed, moved without SIGUSR1) is noticed within `checkEvery` ms of writing,
 * and the file is opened again.
 */
import { LineQueue } from './log-queue.js';
import { LogTarget, type WriteFunction } from './log-target.js';
import { countLines, describeLoss, replacedMessage, TroubleState, unwrittenMessage } from './log-trouble.js';

/** Bytes waiting to be written past which writers are asked to wait. */
const HIGH_WATER = 1024 * 1024;
/**
 * The most bytes that wait while the disk stalls or fails; later lines are dropped. 8 MiB holds
 * the 8 s stall seen in the field at 1 MiB/s of output, and is small beside the primary's own
 * ~50 MiB; more would only delay the same loss while growing the process that serves.
 */
export const MAX_WAITING = 8 * 1024 * 1024;
/** The most bytes one write takes (a long queue goes in several). */
const WRITE_CHUNK = 1024 * 1024;

/** How long things may take (tests shorten them). */
export interface LogFileTiming {
  /** ms an operation on the file may take before the disk counts as stalled. */
  readonly stallAfter: number;
  /** ms before the first retry after a failure; it doubles up to retryMax. */
  readonly retryFirst: number;
  readonly retryMax: number;
  /** ms between checks that the path still names the file (made only when there is something to write). */
  readonly checkEvery: number;
  /** ms close() waits for what is waiting to be written. */
  readonly closeTimeout: number;
}

const DEFAULT_TIMING: LogFileTiming = { stallAfter: 1000, retryFirst: 1000, retryMax: 10_000, checkEvery: 2000, closeTimeout: 3000 };

export interface LogFileOptions {
  /** Rotate once the file would grow past this many bytes. */
  readonly maxSize: number;
  /** Rotated files kept besides the current one. */
  readonly maxFiles: number;
  /** For the operator (stderr): once when a trouble begins, and when it ends with what was lost. */
  readonly onWarning: (message: string) => void;
  /** The line the file itself gets about a loss, in the app's log format. @default `<time> corral WARN <message>` */
  readonly notice?: (message: string) => string;
  /** fs.write, unless a test stands in for the disk. */
  readonly writeFunction?: WriteFunction;
  readonly timing?: Partial<LogFileTiming>;
}

export class RotatingLogFile {
  readonly path: string;
  readonly #options: LogFileOptions;
  readonly #timing: LogFileTiming;
  readonly #target: LogTarget;
  readonly #queue = new LineQueue();
  /** The unwritten rest of a write that failed: written first, so that no line is torn. */
  #carry: Buffer | undefined;
  /** What the write under way writes. */
  #inFlight: Buffer | undefined;
  #waiters: (() => void)[] = [];
  /** Told when the pump stops or trouble begins; true: done with. */
  #watchers: (() => boolean)[] = [];
  #scheduled: NodeJS.Immediate | undefined;
  #pumping = false;
  #retry: NodeJS.Timeout | undefined;
  /** While the disk stalls or fails, writers are not held and lines past MAX_WAITING are dropped. */
  readonly #trouble: TroubleState;
  /** Pushed queue entries (queue.passed) that are in the file: taken, and their write finished. */
  #written = 0;
  #checkedAt = Date.now();
  #sinceCheck = { lines: 0, bytes: 0 };
  #closing: Promise<void> | undefined;

  /** Opens (or creates) `file`; throws LogFileError when it or its directory cannot be trusted. */
  constructor(file: string, options: LogFileOptions) {
    this.path = file;
    this.#options = options;
    this.#timing = { ...DEFAULT_TIMING, ...options.timing };
    this.#trouble = new TroubleState(file, MAX_WAITING, this.#timing, options.onWarning);
    this.#target = new LogTarget(file, options.writeFunction);
  }

  /** Appends `text` (whole lines); false while writers should wait (see whenWritable). */
  write(text: string): boolean {
    if (this.#closing !== undefined) return true; // The app has stopped: nothing more is written.
    const bytes = Buffer.byteLength(text);
    if (this.#waiting() + bytes > MAX_WAITING) {
      this.#trouble.drop(text, bytes);
      return true;
    }
    this.#tellLoss();
    this.#queue.push(text, bytes);
    this.#schedule();
    return this.#mayWrite();
  }

  /** Calls `callback` once writers may go on: the waiting bytes are below the mark, or the disk is in trouble (at once if so now). */
  whenWritable(callback: () => void): void {
    if (this.#mayWrite()) callback();
    else this.#waiters.push(callback);
  }

  /**
   * Resolves once what waits now is written (not what is written meanwhile: workers that flood
   * their output never let the queue empty), or the disk stalls or fails (it will not be soon).
   */
  flush(): Promise<void> {
    const upTo = this.#queue.pushed;
    return this.#whenSettled(true, () => this.#written >= upTo);
  }

  /**
   * Writes what waits (within closeTimeout: a stalled disk does not hold the exit) and closes the
   * file; what could not be written is said (onWarning). Later lines are dropped: the app stopped.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutDown();
    return this.#closing;
  }

  /**
   * What waits goes to the file open now; then the path is opened again, created if it was moved
   * away or deleted: what logrotate's postrotate (a SIGUSR1) expects, so that new lines go to a new
   * file and the renamed one keeps only the old. A file that cannot be opened is said (onWarning)
   * and retried; it never throws.
   */
  reopen(): void {
    if (this.#closing !== undefined) return;
    this.#queue.pushReopen();
    this.#schedule();
  }

  #waiting(): number {
    return this.#queue.bytes + (this.#inFlight?.length ?? 0) + (this.#carry?.length ?? 0);
  }

  #mayWrite(): boolean {
    return this.#closing !== undefined || this.#trouble.reason !== undefined || this.#waiting() < HIGH_WATER;
  }

  #schedule(): void {
    if (this.#pumping || this.#scheduled !== undefined || this.#retry !== undefined) return;
    this.#scheduled = setImmediate(() => {
      this.#scheduled = undefined;
      void this.#pump();
    });
  }

  /** Does one operation at a time, until nothing waits or a failure waits for its retry. */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    while (this.#retry === undefined && (this.#carry !== undefined || !this.#queue.empty)) {
      try {
        await this.#step();
        // Whatever was taken from the queue is in the file now (a failed write keeps its rest as the carry).
        if (this.#carry === undefined) this.#written = this.#queue.passed;
      } catch (error) {
        this.#fail(error as Error);
      }
      this.#release();
      this.#notify();
    }
    this.#pumping = false;
    this.#release();
    this.#notify();
  }

  async #step(): Promise<void> {
    if (this.#carry === undefined && this.#queue.reopenFirst) {
      await this.#opened(() => this.#target.reopen());
      this.#queue.shiftReopen();
      return;
    }
    if (!this.#target.isOpen) return this.#opened(() => this.#target.reopen());
    if (this.#carry !== undefined) return this.#writeOut(this.#carry);
    // Before lines are written (so that they do not go to a file nobody will read again).
    if (Date.now() - this.#checkedAt >= this.#timing.checkEvery) await this.#checkPath();
    const batch = this.#queue.take(this.#options.maxSize - this.#target.size, WRITE_CHUNK, this.#target.size === 0);
    if (batch === undefined) return this.#opened(() => this.#target.rotate(this.#options.maxFiles));
    return this.#writeOut(batch);
  }

  /** Opens a file (rotation, reopening): what was written since the last check of the path is in files that keep their names. */
  async #opened(open: () => Promise<void>): Promise<void> {
    await this.#operation(open);
    this.#checkedAt = Date.now();
    this.#sinceCheck = { lines: 0, bytes: 0 };
  }

  async #writeOut(data: Buffer): Promise<void> {
    this.#carry = undefined;
    this.#inFlight = data;
    const { written, error } = await this.#operation(() => this.#target.append(data));
    this.#inFlight = undefined;
    this.#sinceCheck.lines += countLines(data.subarray(0, written));
    this.#sinceCheck.bytes += written;
    if (error !== undefined) {
      this.#carry = data.subarray(written);
      throw error;
    }
    this.#trouble.recovered();
    this.#tellLoss();
  }

  /** The path no longer names the file (removed, or moved without a SIGUSR1): open it again, and say what that cost. */
  async #checkPath(): Promise<void> {
    const identity = await this.#operation(() => this.#target.identity());
    const since = new Date(this.#checkedAt);
    const { lines, bytes } = this.#sinceCheck;
    this.#checkedAt = Date.now();
    this.#sinceCheck = { lines: 0, bytes: 0 };
    if (identity === 'same') return;
    await this.#opened(() => this.#target.reopen());
    const message = replacedMessage(this.path, identity === 'removed', since, lines, bytes);
    this.#options.onWarning(message);
    this.#queue.unshift(this.#noticeLine(message));
  }

  /** Runs one operation on the file; if it has not finished after stallAfter ms, the disk counts as stalled. */
  async #operation<T>(run: () => Promise<T>): Promise<T> {
    const timer = setTimeout(() => this.#stalled(), this.#timing.stallAfter);
    try {
      return await run();
    } finally {
      clearTimeout(timer);
    }
  }

  #stalled(): void {
    if (!this.#trouble.stalled(this.#timing.stallAfter)) return;
    this.#release();
    this.#notify();
  }

  /** Retried after a backoff (the pump stops until then). */
  #fail(error: Error): void {
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#schedule();
    }, this.#trouble.failed(error));
    this.#retry.unref();
  }

  /** Writing works again: the lines dropped are said in the file, where they are missing (and to the operator). */
  #tellLoss(): void {
    const message = this.#trouble.takeLoss();
    if (message === undefined) return;
    this.#queue.push(this.#noticeLine(message));
    this.#schedule();
  }

  #noticeLine(message: string): string {
    return this.#options.notice?.(message) ?? `${new Date().toISOString()} corral WARN ${message}\n`;
  }

  /** Lets waiting writers go on when they may. */
  #release(): void {
    if (!this.#mayWrite() || this.#waiters.length === 0) return;
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  /**
   * Resolves once the pump has stopped (nothing waits, or what waits waits for a retry), or
   * `enough()` holds, or (`orTrouble`) the disk is in trouble.
   */
  #whenSettled(orTrouble: boolean, enough: () => boolean = () => false): Promise<void> {
    const done = (): boolean => enough() || (orTrouble && this.#trouble.reason !== undefined) || (!this.#pumping && this.#scheduled === undefined);
    if (done()) return Promise.resolve();
    return new Promise((resolve) => {
      this.#watchers.push(() => {
        if (!done()) return false;
        resolve();
        return true;
      });
    });
  }

  #notify(): void {
    this.#watchers = this.#watchers.filter((watch) => !watch());
  }

  async #shutDown(): Promise<void> {
    // A retry waiting for its backoff is made now: the last chance to write what waits.
    clearTimeout(this.#retry);
    this.#retry = undefined;
    this.#schedule();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#whenSettled(false), new Promise((resolve) => { timer = setTimeout(resolve, this.#timing.closeTimeout); })]);
    clearTimeout(timer);
    clearTimeout(this.#retry);
    const left = this.#waiting();
    if (left > 0) {
      const lines = this.#queue.lines() + [this.#carry, this.#inFlight].reduce((sum, data) => sum + (data === undefined ? 0 : countLines(data)), 0);
      this.#options.onWarning(unwrittenMessage(this.path, lines, left, this.#trouble.reason ?? 'the disk did not take them in time'));
    } else if (this.#trouble.loss !== undefined) {
      this.#options.onWarning(`the log file ${this.path}: ${describeLoss(this.#trouble.loss)}`);
    }
    this.#queue.clear();
    this.#carry = undefined;
    this.#release();
    // An operation still under way (a stalled write) keeps its descriptor: the process exits anyway.
    if (!this.#pumping) await this.#target.close();
  }
}
