/**
 * `corral list` (`ls`): every app of this user at a glance, from every run directory corral may
 * use (control/run-dir.ts runDirectories()), each asked for its status over its control socket.
 * A socket whose primary is gone is not an app, and is not listed.
 */
import { parseArgs } from 'node:util';
import { liveApps, send } from '../control/client.js';
import type { StatusReport } from '../control/status-report.js';
import { formatDuration } from '../options/units.js';
import { EXIT } from './exit-codes.js';
import type { CliOutput } from './output-sink.js';

/** How long one app may take to answer before it is shown as not answering. */
const STATUS_TIMEOUT = 5_000;

export interface ListedApp {
  name: string;
  /** The primary's pid. */
  pid: number | null;
  /** The cluster's state, or `not answering` when its primary did not reply in time. */
  state: string;
  workers: { ready: number; configured: number };
  /** ms since the primary started. */
  uptime: number | null;
  /** RSS of the primary and every worker, in bytes. */
  memory: number | null;
  /** CPU of the primary and every worker, in % of one core. */
  cpu: number | null;
  /** Restarts of every slot since the app started. */
  restarts: number;
  socket: string;
}

export async function runList(argv: readonly string[], io: CliOutput): Promise<number> {
  const { values } = parseArgs({ args: [...argv], options: { json: { type: 'boolean' } }, allowPositionals: false });
  const apps = await Promise.all((await liveApps()).map(async (app): Promise<ListedApp> => {
    try {
      const reply = await send(app.socket, { command: 'status' }, STATUS_TIMEOUT);
      if (reply.ok) return summary(reply.result as StatusReport, app.socket);
    } catch {
      // Shown as not answering, below.
    }
    return {
      name: app.name, pid: app.pid ?? null, state: 'not answering', workers: { ready: 0, configured: 0 },
      uptime: null, memory: null, cpu: null, restarts: 0, socket: app.socket,
    };
  }));
  apps.sort((a, b) => a.name.localeCompare(b.name));
  io.out(values.json === true ? `${JSON.stringify({ v: 1, apps }, null, 2)}\n` : formatList(apps));
  return EXIT.OK;
}

function summary(report: StatusReport, socket: string): ListedApp {
  const workers = [...report.slots.flatMap((slot) => (slot.worker === null ? [] : [slot.worker])), ...report.others];
  const sum = (values: (number | null)[]): number | null => (values.includes(null) ? null : values.reduce<number>((total, value) => total + value!, 0));
  return {
    name: report.name,
    pid: report.pid,
    state: report.state,
    workers: { ready: report.slots.filter((slot) => slot.state === 'ready').length, configured: report.workers },
    uptime: report.uptime,
    memory: sum([report.primary.rss, ...workers.map((worker) => worker.rss)]),
    cpu: sum([report.primary.cpu, ...workers.map((worker) => worker.cpu)]),
    restarts: report.slots.reduce((total, slot) => total + slot.restarts, 0),
    socket,
  };
}

function formatList(apps: readonly ListedApp[]): string {
  if (apps.length === 0) return "no corral app is running for this user. Start one with 'corral start <script>'.\n";
  const rows = [['NAME', 'PID', 'STATE', 'WORKERS', 'UPTIME', 'MEMORY', 'CPU', 'RESTARTS']];
  for (const app of apps) {
    rows.push([
      app.name, app.pid === null ? '-' : String(app.pid), app.state, `${app.workers.ready}/${app.workers.configured}`,
      app.uptime === null ? '-' : formatDuration(app.uptime),
      app.memory === null ? '-' : `${(app.memory / 1024 / 1024).toFixed(1)} MiB`,
      app.cpu === null ? '-' : `${app.cpu.toFixed(1)}%`, String(app.restarts),
    ]);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((cells) => cells[column]!.length)));
  return `${rows.map((cells) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n')}\n`;
}
