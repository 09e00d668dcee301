/**
 * What `corral monit` draws: each app's header, a row per slot (and per worker draining away or
 * starting beside it) with CPU as a bar, memory, heap, event-loop delay, connections, requests per
 * second and restarts, then the latest events (a worker replaced, a reload, a crash loop), found by
 * comparing each status with the one before. Pure functions of the statuses, so that the terminal
 * view and the plain-lines view (not a TTY) show the same figures.
 */
import { styleText } from 'node:util';
import type { StatusReport, WorkerReport } from '../control/status-report.js';
import { formatDuration } from '../options/units.js';

export type Paint = (style: 'bold' | 'dim' | 'green' | 'yellow' | 'red' | 'cyan', text: string) => string;

/** Colours only on a terminal, and never when NO_COLOR is set (no-color.org). */
export function painter(color: boolean): Paint {
  return color ? (style, text) => styleText(style, text) : (_style, text) => text;
}

export function wantsColor(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && (env['NO_COLOR'] ?? '') === '' && env['TERM'] !== 'dumb';
}

export interface MonitEvent {
  /** ms since the epoch. */
  at: number;
  app: string;
  text: string;
}

const mib = (bytes: number | null | undefined): string => (bytes == null ? '-' : `${(bytes / 1024 / 1024).toFixed(1)} MiB`);

/** Requests per second of a worker since the previous status (null without one, or for a new pid). */
function requestRate(worker: WorkerReport, previous: StatusReport | undefined, now: StatusReport): number | null {
  if (previous === undefined || worker.runtime === null) return null;
  const before = [...previous.slots.map((slot) => slot.worker), ...previous.others].find((other) => other?.pid === worker.pid);
  if (before?.runtime == null) return null;
  const seconds = (Date.parse(now.at) - Date.parse(previous.at)) / 1000;
  return seconds > 0 ? Math.max(0, worker.runtime.requests - before.runtime.requests) / seconds : null;
}

/** A CPU bar of `width` cells for `percent` of one core (a worker uses at most one). */
export function cpuBar(percent: number | null, width: number): string {
  if (percent === null) return ' '.repeat(width);
  const eighths = Math.round((Math.min(100, Math.max(0, percent)) / 100) * width * 8);
  const partial = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'][eighths % 8]!;
  return `${'█'.repeat(Math.floor(eighths / 8))}${partial}`.padEnd(width, ' ');
}

const STATE_STYLE: Readonly<Record<string, 'green' | 'yellow' | 'red'>> = {
  ready: 'green', starting: 'yellow', draining: 'yellow', backoff: 'yellow', crashloop: 'red',
};

/** The lines of one app: its header and its table. */
export function appLines(report: StatusReport, previous: StatusReport | undefined, paint: Paint): string[] {
  const ready = report.slots.filter((slot) => slot.state === 'ready').length;
  const restarts = report.slots.reduce((total, slot) => total + slot.restarts, 0);
  const header = `${paint('bold', report.name)}  ${report.state} · ${ready}/${report.workers} ready · generation ${report.generation}` +
    `${report.reloading === null ? '' : ` (reloading to ${report.reloading})`} · ${report.balancer} · restarts ${restarts} · ` +
    `primary ${report.pid} ${mib(report.primary.rss)} ${report.primary.cpu === null ? '' : `${report.primary.cpu.toFixed(1)}%`} · up ${formatDuration(report.uptime)}` +
    `${report.admin == null ? '' : ` · ${report.admin}`}`;
  const rows: { cells: string[]; state: string; other: boolean }[] = [];
  const row = (slot: number, state: string, worker: WorkerReport | null, restartCount: string, other: boolean): void => {
    const rate = worker === null ? null : requestRate(worker, previous, report);
    rows.push({
      state, other,
      cells: [
        String(slot), worker?.pid == null ? '-' : String(worker.pid), other ? `${state}*` : state,
        worker === null ? '-' : String(worker.generation), worker === null ? '-' : formatDuration(worker.uptime),
        `${cpuBar(worker?.cpu ?? null, 10)} ${worker?.cpu == null ? '   -' : `${worker.cpu.toFixed(1)}%`.padStart(6)}`,
        mib(worker?.rss), mib(worker?.runtime?.heapUsed),
        worker?.runtime == null ? '-' : `${Math.round(worker.runtime.loopDelay)} ms`,
        worker?.runtime == null ? '-' : String(worker.runtime.connections),
        rate === null ? '-' : rate.toFixed(1),
        worker?.runtime == null ? '-' : String(worker.runtime.requests),
        restartCount,
      ],
    });
  };
  for (const slot of report.slots) row(slot.slot, slot.state, slot.worker, String(slot.restarts), false);
  for (const other of report.others) row(other.slot, other.state, other, '', true);
  const head = ['SLOT', 'PID', 'STATE', 'GEN', 'UPTIME', 'CPU', 'MEMORY', 'HEAP', 'LOOP', 'CONNS', 'REQ/S', 'REQUESTS', 'RESTARTS'];
  const widths = head.map((title, column) => Math.max(title.length, ...rows.map((entry) => entry.cells[column]!.length)));
  const line = (cells: readonly string[]): string => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd();
  return [
    header,
    paint('dim', line(head)),
    ...rows.map((entry) => {
      const text = line(entry.cells);
      const style = STATE_STYLE[entry.state.replace('*', '')];
      return entry.other ? paint('dim', text) : style === undefined ? text : text.replace(entry.cells[2]!, paint(style, entry.cells[2]!));
    }),
  ];
}

/** What changed since the previous status: workers replaced (and how the last one ended), reloads, crash loops. */
export function changes(report: StatusReport, previous: StatusReport | undefined): MonitEvent[] {
  if (previous === undefined) return [];
  const at = Date.parse(report.at);
  const events: MonitEvent[] = [];
  const say = (text: string): void => { events.push({ at, app: report.name, text }); };
  if (report.generation !== previous.generation) say(`reloaded to generation ${report.generation}`);
  else if (report.reloading !== null && previous.reloading === null) say(`reloading to generation ${report.reloading}`);
  if (report.workers !== previous.workers) say(`scaled from ${previous.workers} to ${report.workers} workers`);
  for (const slot of report.slots) {
    const before = previous.slots.find((old) => old.slot === slot.slot);
    if (before === undefined) continue;
    if (slot.state === 'crashloop' && before.state !== 'crashloop') say(`slot ${slot.slot} is crash-looping`);
    const restarted = slot.restarts > before.restarts;
    const oldPid = before.worker?.pid ?? null;
    const newPid = slot.worker?.pid ?? null;
    if (restarted || (oldPid !== null && newPid !== null && oldPid !== newPid && report.generation === previous.generation)) {
      const exit = slot.lastExit;
      const how = exit === null ? '' : ` (${exit.reason}${exit.signal === null ? exit.code === null ? '' : `, code ${exit.code}` : `, ${exit.signal}`})`;
      say(`slot ${slot.slot}: pid ${oldPid ?? '-'} → ${newPid ?? '-'}${how}`);
    }
  }
  return events;
}

export function eventLines(events: readonly MonitEvent[], paint: Paint, withApp: boolean): string[] {
  return events.map((event) => `${paint('dim', new Date(event.at).toLocaleTimeString('en-GB', { hour12: false }))} ` +
    `${withApp ? `${event.app} ` : ''}${event.text}`);
}

/** The not-a-terminal form: one line per worker per tick, `key=value`, for logs and pipes. */
export function plainLines(report: StatusReport, previous: StatusReport | undefined): string[] {
  const time = report.at;
  const lines = [`${time} ${report.name} state=${report.state} ready=${report.slots.filter((slot) => slot.state === 'ready').length}/${report.workers} ` +
    `generation=${report.generation} primary_pid=${report.pid} primary_rss=${report.primary.rss ?? '-'}`];
  const worker = (slot: number, state: string, entry: WorkerReport | null, restarts: number | null): string => {
    const rate = entry === null ? null : requestRate(entry, previous, report);
    return `${time} ${report.name} slot=${slot} state=${state} pid=${entry?.pid ?? '-'} generation=${entry?.generation ?? '-'} ` +
      `cpu=${entry?.cpu ?? '-'} rss=${entry?.rss ?? '-'} heap=${entry?.runtime?.heapUsed ?? '-'} loop_ms=${entry?.runtime?.loopDelay ?? '-'} ` +
      `connections=${entry?.runtime?.connections ?? '-'} requests=${entry?.runtime?.requests ?? '-'} rps=${rate === null ? '-' : rate.toFixed(1)}` +
      `${restarts === null ? '' : ` restarts=${restarts}`}`;
  };
  for (const slot of report.slots) lines.push(worker(slot.slot, slot.state, slot.worker, slot.restarts));
  // Beside the slot's own worker: one draining away, or a replacement starting.
  for (const other of report.others) lines.push(`${worker(other.slot, other.state, other, null)} beside=1`);
  return lines;
}
