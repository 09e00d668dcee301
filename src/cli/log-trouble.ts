/**
 * A log file's troubles in words (log-file.ts): a disk that stalls or fails, a path that no
 * longer names the file, and what could not be kept: lines dropped meanwhile, counted with their
 * bytes and the time of the first and the last, so that the file itself (once written again) and
 * the operator's stderr can say exactly what is missing and when. Each says the problem and the fix.
 */

export interface Loss {
  lines: number;
  bytes: number;
  readonly from: Date;
  to: Date;
  /** Why, in words that end a sentence ("the disk is full (ENOSPC)"). */
  readonly reason: string;
}

const NEWLINE = 10;

const plural = (count: number, word: string): string => `${count} ${word}${count === 1 ? '' : 's'}`;

/** Lines in text written as whole lines (a piece without a newline counts as one). */
export function countLines(text: string | Buffer): number {
  let lines = 0;
  if (typeof text === 'string') {
    for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) lines += 1;
  } else {
    for (let at = text.indexOf(NEWLINE); at !== -1; at = text.indexOf(NEWLINE, at + 1)) lines += 1;
  }
  return Math.max(lines, text.length > 0 ? 1 : 0);
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} byte${bytes === 1 ? '' : 's'}`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Counts `lines` and `bytes` into `loss` (a new one, from now, when there is none). */
export function addLoss(loss: Loss | undefined, lines: number, bytes: number, reason: string, now = new Date()): Loss {
  const into = loss ?? { lines: 0, bytes: 0, from: now, to: now, reason };
  into.lines += lines;
  into.bytes += bytes;
  into.to = now;
  return into;
}

export function describeLoss(loss: Loss): string {
  return `${plural(loss.lines, 'line')} (${formatBytes(loss.bytes)}) from ${loss.from.toISOString()} to ${loss.to.toISOString()} ` +
    `were dropped, not written, because ${loss.reason}`;
}

/** What a stall is called (the reason of what it drops). */
export const stallTrouble = (file: string, ms: number): string => `writing ${file} stalled (the disk did not answer for ${ms} ms)`;

export const stallWarning = (trouble: string, bound: number): string =>
  `${trouble}: the app no longer waits for it; lines wait up to ${formatBytes(bound)}, then are dropped and counted until the disk answers. ` +
  'Check the disk (dmesg, iostat), or set CORRAL_LOG_DIR to a directory on another one';

/** What a failed operation is called: the file and the errno, or a refusal's own words (LogFileError). */
export function failureTrouble(file: string, error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'CORRAL_ERR_LOG_FILE') return error.message.replace(/\.$/, '');
  const why = code === 'ENOSPC' ? 'the disk is full (ENOSPC)' : code === 'EDQUOT' ? 'the disk quota is used up (EDQUOT)' : `of ${code ?? error.message}`;
  return `the log file ${file} cannot be written: ${why}`;
}

export function failureWarning(trouble: string, error: Error, bound: number, retryMax: number): string {
  const code = (error as NodeJS.ErrnoException).code;
  return `${trouble}. Lines wait up to ${formatBytes(bound)}, then are dropped and counted; writing is tried again every ${retryMax / 1000} s at most, ` +
    'and what was dropped is said in the file once it works' +
    (code === 'ENOSPC' || code === 'EDQUOT' ? '. Free space on that disk, or set CORRAL_LOG_DIR to a directory on another one' : '');
}

/** The path no longer names the file written: removed (what was written since `since` is gone), or moved. */
export function replacedMessage(file: string, removed: boolean, since: Date, lines: number, bytes: number): string {
  return removed
    ? `the log file ${file} was removed while corral wrote it; a new one is written from now on. Up to ${plural(lines, 'line')} (${formatBytes(bytes)}) ` +
      `written since ${since.toISOString()} went with the removed file. To clear the log, truncate it or let corral rotate it ` +
      '(--log-max-size, --log-max-files) rather than removing it'
    : `the log file ${file} was moved or replaced while corral wrote it: the lines until now are in the moved file, and a new one is written ` +
      "from now on. After moving it, send SIGUSR1 to corral's primary (logrotate's postrotate) so that it reopens at once";
}

export const unwrittenMessage = (file: string, lines: number, bytes: number, reason: string): string =>
  `${plural(lines, 'line')} (${formatBytes(bytes)}) could not be written to ${file} before corral exited, because ${reason}`;

/**
 * Whether the disk is in trouble and what that cost: each trouble said once for as long as it
 * lasts, the lines dropped meanwhile counted, and the retry backoff (retryFirst, doubling up to
 * retryMax, back to retryFirst once a write goes through).
 */
export class TroubleState {
  readonly #file: string;
  readonly #bound: number;
  readonly #warn: (message: string) => void;
  readonly #retryFirst: number;
  readonly #retryMax: number;
  #reason: string | undefined;
  #loss: Loss | undefined;
  #backoff: number;

  constructor(file: string, bound: number, retry: { readonly retryFirst: number; readonly retryMax: number }, warn: (message: string) => void) {
    this.#file = file;
    this.#bound = bound;
    this.#warn = warn;
    this.#retryFirst = retry.retryFirst;
    this.#retryMax = retry.retryMax;
    this.#backoff = retry.retryFirst;
  }

  /** The trouble in words (why lines are dropped), or undefined while the disk takes them. */
  get reason(): string | undefined {
    return this.#reason;
  }

  get loss(): Loss | undefined {
    return this.#loss;
  }

  /** An operation has not finished after `ms`; false when a trouble was already known. */
  stalled(ms: number): boolean {
    if (this.#reason !== undefined) return false;
    this.#reason = stallTrouble(this.#file, ms);
    this.#warn(stallWarning(this.#reason, this.#bound));
    return true;
  }

  /** An operation failed: the ms to wait before trying again. */
  failed(error: Error): number {
    const reason = failureTrouble(this.#file, error);
    if (this.#reason !== reason) this.#warn(failureWarning(reason, error, this.#bound, this.#retryMax));
    this.#reason = reason;
    const wait = this.#backoff;
    this.#backoff = Math.min(this.#backoff * 2, this.#retryMax);
    return wait;
  }

  /** A write went through: the trouble is over. */
  recovered(): void {
    this.#reason = undefined;
    this.#backoff = this.#retryFirst;
  }

  drop(text: string, bytes: number): void {
    const reason = this.#reason ?? `more than ${formatBytes(this.#bound)} waited for the disk`;
    if (this.#loss === undefined && this.#reason === undefined) this.#warn(`lines for ${this.#file} are dropped: ${reason}`);
    this.#loss = addLoss(this.#loss, countLines(text), bytes, reason);
  }

  /** Once the disk takes lines again: what was dropped, in words (said to the operator too), for the file; then forgotten. */
  takeLoss(): string | undefined {
    if (this.#loss === undefined || this.#reason !== undefined) return undefined;
    const message = describeLoss(this.#loss);
    this.#loss = undefined;
    this.#warn(`the log file ${this.#file} is written again; ${message}`);
    return message;
  }
}
