/**
 * `corral monit [name]`: a live view of running apps, `top`-like, from their control sockets
 * (the same status `corral status` prints, asked every second). On a terminal it takes the screen
 * (the alternate buffer, as `top` and `less` do), redraws in place, and quits on `q`, Ctrl-C or
 * Esc, giving the screen back as it was. Not on a terminal (a pipe, a file, CI), it prints plain
 * `key=value` lines each tick instead. NO_COLOR turns colours off.
 */
import { parseArgs } from 'node:util';
import { liveApps, resolveApp, send, type FoundApp } from '../control/client.js';
import type { StatusReport } from '../control/status-report.js';
import { CliError, EXIT } from './exit-codes.js';
import { joinDashValues } from './dash-values.js';
import { appLines, changes, eventLines, painter, plainLines, wantsColor, type MonitEvent } from './monit-view.js';
import type { CliOutput } from './output-sink.js';

const DEFAULT_INTERVAL = 1_000;
const MIN_INTERVAL = 200;
/** How long one app may take to answer a status before the view says it does not answer. */
const STATUS_TIMEOUT = 5_000;
const EVENTS_SHOWN = 8;

const ENTER_SCREEN = '\x1b[?1049h\x1b[?25l';
const LEAVE_SCREEN = '\x1b[?25h\x1b[?1049l';
const HOME = '\x1b[H';
const CLEAR_LINE = '\x1b[K';
const CLEAR_BELOW = '\x1b[J';

interface Terminal {
  readonly stdout: NodeJS.WriteStream;
  readonly stdin: NodeJS.ReadStream;
}

async function statusOf(app: FoundApp): Promise<StatusReport | string> {
  try {
    const reply = await send(app.socket, { command: 'status' }, STATUS_TIMEOUT);
    return reply.ok ? reply.result as StatusReport : reply.error.message;
  } catch {
    return 'not running';
  }
}

export async function runMonit(argv: readonly string[], io: CliOutput, terminal: Terminal = { stdout: process.stdout, stdin: process.stdin }): Promise<number> {
  const { values, positionals } = parseArgs({ args: joinDashValues(argv, [{ name: 'interval' }]), options: { interval: { type: 'string' } }, allowPositionals: true });
  if (positionals.length > 1) throw new CliError(`corral monit: one app name at most, got ${positionals.join(' ')}.`, EXIT.USAGE);
  const interval = values.interval === undefined ? DEFAULT_INTERVAL : Number(values.interval);
  if (!Number.isInteger(interval) || interval < MIN_INTERVAL) {
    throw new CliError(`corral monit: --interval takes a whole number of ms, at least ${MIN_INTERVAL}; got '${values.interval}'.`, EXIT.USAGE);
  }
  const name = positionals[0];
  // A named app must be running now; without a name, every app this user runs, found anew each tick.
  const named = name === undefined ? undefined : await resolveApp(name);
  const apps = async (): Promise<FoundApp[]> => (named === undefined ? liveApps() : [named]);
  const tty = terminal.stdout.isTTY === true;
  if (!tty && named === undefined && (await apps()).length === 0) {
    throw new CliError("corral monit: no corral app is running for this user. Start one with 'corral start <script>'.", EXIT.NOT_RUNNING);
  }
  return tty ? screenView(apps, interval, terminal, name) : plainView(apps, interval, io, named !== undefined);
}

/** Not a terminal: plain lines every interval, until a signal, or until a named app stops. */
async function plainView(apps: () => Promise<FoundApp[]>, interval: number, io: CliOutput, named: boolean): Promise<number> {
  const previous = new Map<string, StatusReport>();
  let stop = false;
  let wake: (() => void) | undefined;
  const onSignal = (): void => {
    stop = true;
    wake?.();
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
  try {
    while (!stop) {
      for (const app of await apps()) {
        const status = await statusOf(app);
        if (typeof status === 'string') {
          io.out(`${new Date().toISOString()} ${app.name} ${status}\n`);
          if (named) return EXIT.OK;
          continue;
        }
        const events = changes(status, previous.get(app.name));
        for (const event of events) io.out(`${status.at} ${app.name} event: ${event.text}\n`);
        io.out(`${plainLines(status, previous.get(app.name)).join('\n')}\n`);
        previous.set(app.name, status);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, interval);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return EXIT.OK;
  } finally {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(signal, onSignal);
  }
}

/** A terminal: the whole screen, redrawn in place every interval and on resize; q, Esc or Ctrl-C quits. */
function screenView(apps: () => Promise<FoundApp[]>, interval: number, terminal: Terminal, name: string | undefined): Promise<number> {
  const { stdout, stdin } = terminal;
  const paint = painter(wantsColor(stdout, process.env));
  const previous = new Map<string, StatusReport>();
  const events: MonitEvent[] = [];
  let lines: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  let drawing = false;
  return new Promise<number>((resolve) => {
    const draw = (): void => {
      const width = stdout.columns || 120;
      const height = stdout.rows || 40;
      const shown = lines.slice(0, height).map((line) => `${clip(line, width)}${CLEAR_LINE}`);
      stdout.write(`${HOME}${shown.join('\n')}${CLEAR_BELOW}`);
    };
    const tick = async (): Promise<void> => {
      if (drawing) return;
      drawing = true;
      try {
        const found = await apps();
        const next: string[] = [];
        if (found.length === 0) next.push(name === undefined ? 'No corral app is running for this user; waiting for one.' : `${name}: not running`);
        for (const app of found) {
          const status = await statusOf(app);
          if (typeof status === 'string') {
            next.push(`${paint('bold', app.name)}  ${paint('red', status)}`, '');
            continue;
          }
          events.unshift(...changes(status, previous.get(app.name)).reverse());
          next.push(...appLines(status, previous.get(app.name), paint), '');
          previous.set(app.name, status);
        }
        events.splice(EVENTS_SHOWN);
        next.push(paint('bold', 'Events'), ...(events.length === 0 ? [paint('dim', 'none yet')] : eventLines(events, paint, found.length > 1)), '');
        next.push(paint('dim', `q quit · * a worker beside its slot's (draining away, or a replacement starting) · updated ` +
          `${new Date().toLocaleTimeString('en-GB', { hour12: false })}, every ${interval / 1000} s`));
        lines = next;
        draw();
      } finally {
        drawing = false;
      }
    };
    const quit = (): void => {
      clearInterval(timer);
      stdout.off('resize', draw);
      stdin.off('data', onKey);
      if (stdin.isTTY) stdin.setRawMode(false);
      stdin.pause();
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(signal, quit);
      stdout.write(LEAVE_SCREEN);
      resolve(EXIT.OK);
    };
    const onKey = (key: Buffer): void => {
      const text = key.toString('utf8');
      // q, Q, Esc, Ctrl-C (raw mode delivers it as a byte, not a signal).
      if (text === 'q' || text === 'Q' || text === '\x1b' || text === '\x03') quit();
    };
    stdout.write(ENTER_SCREEN);
    if (stdin.isTTY) stdin.setRawMode(true);
    stdin.on('data', onKey);
    stdin.resume();
    stdout.on('resize', draw);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, quit);
    void tick();
    timer = setInterval(() => void tick(), interval);
  });
}

/** Cuts a line to the terminal's width, counting what shows (colour codes take no room). */
function clip(line: string, width: number): string {
  let visible = 0;
  let out = '';
  for (let index = 0; index < line.length; index += 1) {
    // eslint-disable-next-line no-control-regex -- a colour code starts with ESC
    const escape = /^\x1b\[[0-9;]*m/.exec(line.slice(index));
    if (escape !== null) {
      out += escape[0];
      index += escape[0].length - 1;
      continue;
    }
    if (visible >= width) continue;
    out += line[index];
    visible += 1;
  }
  return out;
}
