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
import { closeSync, lstatSync, renameSync, writeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { LogFileError } from '../errors.js';
import { launchEnvironment } from '../options/passed-env.js';
import { EXIT } from './exit-codes.js';
import type { CliOutput } from './output-sink.js';
import { openLogFile } from './safe-log-open.js';
import { primaryOutputPath } from './log-paths.js';

const REPORT_FD_ENV = 'CORRAL_DETACH_REPORT_FD';
/** The most error text the detached primary keeps for its report. */
const ERROR_TEXT_LIMIT = 16 * 1024;
/** `<name>.primary.out` past this size is moved aside (to `.1`, replacing the one before) when the app starts. */
const PRIMARY_OUTPUT_LIMIT = 1024 * 1024;

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
/** What a detached start runs: which Node and corral, where, with what environment. */
export interface Launcher {
  readonly execPath: string;
  readonly execArgv: readonly string[];
  /** corral's bin script. */
  readonly bin: string;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * This process's own: process.argv[1] is this corral's bin script, however it was started (npx, a
 * global install, a checkout); the environment as it was started with, the CORRAL_ENV_* variables
 * that `corral start` took out included (passed-env.ts), for the detached start's `--env KEY`.
 */
export const thisLauncher = (): Launcher => ({
  execPath: process.execPath, execArgv: process.execArgv, bin: process.argv[1]!, cwd: process.cwd(), env: launchEnvironment(),
});

/** How a detached start went: ready, or the exit code and the error to say. */
export type DetachOutcome = { readonly ok: true; readonly ready: DetachedReady } | { readonly ok: false; readonly code: number; readonly message: string };

/**
 * Starts `corral start <argv>` in the background and waits for its report.
 *
 * The primary's own stdout and stderr (descriptors 1 and 2: what Node itself prints outside
 * corral's code, such as a crash of the primary) go to `<name>.primary.out`, not to the log
 * file: every line corral writes goes through the primary's RotatingLogFile, and Node cannot
 * point descriptors 1 and 2 elsewhere later (no dup2), so a log file given to them would keep
 * being written after it was rotated away or removed (into `<name>.log.1`, then into a deleted
 * file). That file is moved to `<name>.primary.out.1` at a start once it is over
 * PRIMARY_OUTPUT_LIMIT, so that it stays small whatever a --primary module prints over time.
 */
export async function launchDetached(argv: readonly string[], logFile: string, launcher: Launcher = thisLauncher()): Promise<DetachOutcome> {
  let output: number;
  try {
    // The log file is checked now (created 0600 if missing), so that an untrusted one is refused before anything starts.
    closeSync(openLogFile(logFile).fd);
    const primaryOutput = primaryOutputPath(logFile);
    keepSmall(primaryOutput);
    output = openLogFile(primaryOutput).fd;
  } catch (error) {
    // A log file or directory that cannot be trusted: said before anything starts (exit 2, as bad usage).
    if (error instanceof LogFileError) return { ok: false, code: EXIT.USAGE, message: `corral: ${error.message}` };
    throw error;
  }
  const child = spawn(launcher.execPath, [...launcher.execArgv, launcher.bin, 'start', ...withoutDetach(argv)], {
    detached: true,
    cwd: launcher.cwd,
    stdio: ['ignore', output, output, 'pipe'],
    env: { ...launcher.env, [REPORT_FD_ENV]: '3' },
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
    return { ok: true, ready: { name: report.name, pid: report.pid, workers: report.workers, ms: report.ms, socket: report.socket, logFile: report.logFile } };
  }
  if (report !== undefined) return { ok: false, code: report.code, message: report.message };
  const code = await exited;
  return {
    ok: false, code: code === null || code === 0 ? EXIT.APP_FAILED : code,
    message: `corral: the app's primary exited (code ${code ?? 'unknown'}) before it said how its start went; see ${logFile} ` +
      `and ${primaryOutputPath(logFile)} (what Node printed).`,
  };
}

/** Moves `file` to `<file>.1` when it has grown past PRIMARY_OUTPUT_LIMIT (a regular file only; a link is left for the opener to refuse). */
function keepSmall(file: string): void {
  const stat = lstatSync(file, { throwIfNoEntry: false });
  if (stat?.isFile() === true && stat.size > PRIMARY_OUTPUT_LIMIT) renameSync(file, `${file}.1`);
}

/** `corral start -d`: the start in the background, said on the terminal. Returns the exit code. */
export async function startDetached(argv: readonly string[], logFile: string, io: CliOutput): Promise<number> {
  const outcome = await launchDetached(argv, logFile);
  if (!outcome.ok) {
    io.err(`${outcome.message}\n`);
    return outcome.code;
  }
  io.out(describeReady(outcome.ready));
  return EXIT.OK;
}

export function describeReady(ready: DetachedReady): string {
  return `${ready.name}: running in the background: primary pid ${ready.pid}, ${ready.workers} worker${ready.workers === 1 ? '' : 's'} ready in ${ready.ms} ms\n` +
    `  logs:   corral logs ${ready.name} -f   (${ready.logFile})\n` +
    `  status: corral status ${ready.name}\n  stop:   corral stop ${ready.name}\n`;
}
