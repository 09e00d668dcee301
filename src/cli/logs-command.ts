/**
 * `corral logs [name] [-f] [-n N] [--json]`: an app's log file (log-file.ts), whether the app
 * still runs or not: the last lines across its rotated files, then, with -f, every new line as it
 * is written, across rotations.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { liveApps } from '../control/client.js';
import { logDirectory, logFilePath, logFiles } from './log-paths.js';
import { LogFollower } from './log-follow.js';
import { CliError, EXIT } from './exit-codes.js';
import { joinDashValues } from './dash-values.js';
import type { CliOutput } from './output-sink.js';

const DEFAULT_LINES = 20;
/** How often a followed file is looked at for new lines. */
const FOLLOW_INTERVAL = 200;

export async function runLogs(argv: readonly string[], io: CliOutput): Promise<number> {
  const { values, positionals } = parseArgs({
    args: joinDashValues(argv, [{ name: 'lines', short: 'n' }]),
    options: { follow: { type: 'boolean', short: 'f' }, lines: { type: 'string', short: 'n' }, json: { type: 'boolean' } },
    allowPositionals: true,
  });
  if (positionals.length > 1) throw new CliError(`corral logs: too many arguments (${positionals.join(' ')}). Usage: corral logs [name] [-f] [-n N] [--json]`, EXIT.USAGE);
  const count = values.lines === undefined ? DEFAULT_LINES : Number(values.lines);
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new CliError(`corral logs: --lines takes a whole number ≥ 0, got '${values.lines}'. For example -n 100.`, EXIT.USAGE);
  }
  const file = logFilePath(await appName(positionals[0]));
  const files = logFiles(file);
  if (files.length === 0) {
    throw new CliError(`corral logs: there is no log file ${file}. It is written for apps started with -d (detached) or --log-file ` +
      "(one removed under a running app is made again within seconds of the app's next line); CORRAL_LOG_DIR, XDG_STATE_HOME and HOME choose where.", EXIT.NOT_RUNNING);
  }
  const render = values.json === true ? (line: string): string => `${JSON.stringify(parseLogLine(line))}\n` : (line: string): string => `${line}\n`;
  // The current file is read up to its size now, and followed from exactly there: no line written
  // meanwhile is missed or printed twice.
  const current = existsSync(file) ? openSync(file, 'r') : undefined;
  const size = current === undefined ? 0 : fstatSync(current).size;
  for (const line of lastLines(files, count, file, size)) io.out(render(line));
  if (values.follow !== true) {
    if (current !== undefined) closeSync(current);
    return EXIT.OK;
  }
  return follow(file, current ?? openSync(file, 'r'), size, io, (line) => io.out(render(line)));
}

/** The named app; without a name, the only running app, or the only app with a log file. */
async function appName(name: string | undefined): Promise<string> {
  if (name !== undefined) return name;
  const running = await liveApps();
  if (running.length === 1) return running[0]!.name;
  const dir = logDirectory();
  const logged = existsSync(dir) ? readdirSync(dir).filter((entry) => entry.endsWith('.log')).map((entry) => entry.slice(0, -4)) : [];
  if (running.length === 0 && logged.length === 1) return logged[0]!;
  const names = running.length > 0 ? running.map((app) => app.name) : logged;
  throw new CliError(names.length === 0
    ? `corral logs: no app has a log file in ${dir}. Apps started with -d (detached) or --log-file write one.`
    : `corral logs: name the app: ${names.join(', ')}. For example 'corral logs ${names[0]!}'.`, names.length === 0 ? EXIT.NOT_RUNNING : EXIT.USAGE);
}

/** The last `count` lines of the files (oldest file first), reading the newest files first; `current` only up to `size`. */
function lastLines(files: readonly string[], count: number, current: string, size: number): string[] {
  const lines: string[] = [];
  for (let index = files.length - 1; index >= 0 && lines.length < count; index -= 1) {
    const text = files[index] === current ? readFileSync(current).subarray(0, size).toString('utf8') : readFileSync(files[index]!, 'utf8');
    const own = text.split('\n');
    if (own.at(-1) === '') own.pop();
    lines.unshift(...own.slice(Math.max(0, own.length - (count - lines.length))));
  }
  return lines;
}

/** Prints each new complete line of `file` until a signal ends the command; follows rotations (log-follow.ts). */
function follow(file: string, opened: number, from: number, io: CliOutput, onLine: (line: string) => void): Promise<number> {
  return new Promise((resolve) => {
    const follower = new LogFollower(file, opened, from, onLine, (note) => io.err(`${note}\n`));
    const timer = setInterval(() => follower.poll(), FOLLOW_INTERVAL);
    const stop = (): void => {
      clearInterval(timer);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      follower.close();
      resolve(EXIT.OK);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

const WORKER_LINE = /^(\S+) \[slot (\S+) pid (\S+) (stdout|stderr)\] (.*)$/s;
const CORRAL_LINE = /^(\S+) corral\[([^\]]+)\](?: (WARN|ERROR))? (.*)$/s;

/** A line of the log file as an object: a worker's line, one of corral's, or a JSON line as it is. */
export function parseLogLine(line: string): Record<string, unknown> {
  if (line.startsWith('{')) {
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      // Not JSON after all: below.
    }
  }
  const worker = WORKER_LINE.exec(line);
  if (worker !== null) {
    const [, time, slot, pid, stream, text] = worker;
    return { time, slot: Number(slot), pid: Number(pid), stream, line: text };
  }
  const own = CORRAL_LINE.exec(line);
  if (own !== null) {
    const [, time, app, level, msg] = own;
    return { time, app, source: 'corral', level: (level ?? 'info').toLowerCase(), msg };
  }
  return { line };
}
