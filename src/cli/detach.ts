/**
 * `corral start -d`: the app's primary runs in the background, in a session of its own (so that
 * closing the terminal or the ssh session does not reach it), with its output in the app's log
 * file. The `corral start -d` that started it waits until the app is ready, prints where to find
 * it, and exits 0; or exits with the app's error (once: the start policy's last word, not every
 * attempt) when it cannot start.
 *
 * The two talk over one pipe, the primary's descriptor 3 (its number in CORRAL_DETACH_REPORT_FD,
 * removed from the environment at once so that workers do not inherit it): one JSON line, then
 * the pipe closes.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { EXIT } from './exit-codes.js';
import type { CliOutput } from './output-sink.js';

const REPORT_FD_ENV = 'CORRAL_DETACH_REPORT_FD';
/** The most error text the detached primary keeps for its report. */
const ERROR_TEXT_LIMIT = 16 * 1024;

export interface DetachedReady {
  readonly name: string;
  readonly pid: number;
  readonly workers: number;
  /** ms from the primary's start until every worker was ready. */
  readonly ms: number;
  readonly socket: string;
  readonly logFile: string;
}

type Report = ({ ok: true } & DetachedReady) | { ok: false; code: number; message: string };

/** In a detached primary: how it tells the `corral start -d` that started it how its start went. */
export class DetachedChild {
  readonly #fd: number;
  #sent = false;
  #errors = '';

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /** The report pipe, when this process is a detached primary (once: the variable is removed). */
  static fromEnvironment(env: NodeJS.ProcessEnv = process.env): DetachedChild | undefined {
    const fd = Number(env[REPORT_FD_ENV]);
    delete env[REPORT_FD_ENV];
    return Number.isInteger(fd) && fd > 2 ? new DetachedChild(fd) : undefined;
  }

  /** Error text meant for the user, kept for a failure report. */
  noteError(text: string): void {
    this.#errors = (this.#errors + text).slice(-ERROR_TEXT_LIMIT);
  }

  ready(info: DetachedReady): void {
    this.#send({ ok: true, ...info });
  }

  /** The start failed (or ended before the app was ready) with exit code `code`. */
  finished(code: number): void {
    const message = this.#errors.trim() === '' ? `corral: the app stopped before it was ready (exit code ${code}).` : this.#errors.trimEnd();
    this.#send({ ok: false, code: code === EXIT.OK ? EXIT.APP_FAILED : code, message });
  }

  #send(report: Report): void {
    if (this.#sent) return;
    this.#sent = true;
    try {
      writeSync(this.#fd, `${JSON.stringify(report)}\n`);
      closeSync(this.#fd);
    } catch {
      // The `corral start -d` that waited is gone (killed): nobody to tell.
    }
  }
}

/** Wraps the detached primary's output so that error text also goes into its report. */
export function reportingErrors(io: CliOutput, child: DetachedChild): CliOutput {
  return {
    out: (text) => io.out(text),
    err: (text) => {
      child.noteError(text);
      return io.err(text);
    },
    whenWritable: (callback) => io.whenWritable(callback),
    flush: () => io.flush(),
  };
}

/** The arguments of `corral start` without -d / --detach (app arguments after `--` stay as they are). */
export function withoutDetach(argv: readonly string[]): string[] {
  const end = argv.includes('--') ? argv.indexOf('--') : argv.length;
  return [...argv.slice(0, end).filter((arg) => arg !== '-d' && arg !== '--detach'), ...argv.slice(end)];
}

/**
 * Starts `corral start <argv>` in the background and waits for its report. `logFile` receives
 * the primary's own stdout and stderr as well (what Node itself would print if the primary
 * failed outside corral's code). Returns the exit code for this `corral start -d`.
 */
export async function startDetached(argv: readonly string[], logFile: string, io: CliOutput): Promise<number> {
  mkdirSync(path.dirname(logFile), { recursive: true, mode: 0o700 });
  const output = openSync(logFile, 'a', 0o600);
  // process.argv[1] is this corral's own bin script, however it was started (npx, a global install, a checkout).
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, 'start', ...withoutDetach(argv)], {
    detached: true,
    stdio: ['ignore', output, output, 'pipe'],
    env: { ...process.env, [REPORT_FD_ENV]: '3' },
  });
  closeSync(output);
  const pipe = child.stdio[3] as Readable;
  let text = '';
  pipe.setEncoding('utf8').on('data', (chunk: string) => { text += chunk; });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve) => {
    pipe.once('close', resolve);
    void exited.then(() => resolve());
  });
  let report: Report | undefined;
  try {
    report = JSON.parse(text.split('\n')[0] ?? '') as Report;
  } catch {
    report = undefined;
  }
  if (report?.ok === true) {
    child.unref();
    pipe.destroy();
    io.out(`${report.name}: running in the background: primary pid ${report.pid}, ${report.workers} worker${report.workers === 1 ? '' : 's'} ready in ${report.ms} ms\n` +
      `  logs:   corral logs ${report.name} -f   (${report.logFile})\n` +
      `  status: corral status ${report.name}\n  stop:   corral stop ${report.name}\n`);
    return EXIT.OK;
  }
  if (report !== undefined) {
    io.err(`${report.message}\n`);
    return report.code;
  }
  const code = await exited;
  io.err(`corral: the app's primary exited (code ${code ?? 'unknown'}) before it said how its start went; see ${logFile}.\n`);
  return code === null || code === 0 ? EXIT.APP_FAILED : code;
}
