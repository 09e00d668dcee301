/**
 * `corral status`, `reload`, `scale`, `stop` and `restart`: each talks to the running primary over
 * its control socket (src/control/). The app name may be left out when exactly one app runs for
 * this user; `reload`, `stop` and `restart` take `all`.
 */
import { parseArgs } from 'node:util';
import { controlError, liveApps, resolveApp, send, type FoundApp } from '../control/client.js';
import { ControlError } from '../control/errors.js';
import type { ControlReply, ControlRequest, LaunchInfo } from '../control/protocol.js';
import type { StatusReport, WorkerReport } from '../control/status-report.js';
import type { ReloadResult, ScaleResult } from '../managed/managed-cluster.js';
import type { ShutdownResult } from '../managed/shutdown.js';
import { describeReady, launchDetached, type DetachedReady } from './detach.js';
import { describeStop, killedNote } from './kill-report.js';
import { CliError, CONTROL_ERROR_EXIT, EXIT } from './exit-codes.js';
import { logDirectory, logFilePath } from './log-paths.js';
import { processEnded } from './process-ended.js';
import type { CliOutput } from './output-sink.js';
import { formatDuration } from '../options/units.js';
import { hostPort } from '../managed/inspector-ports.js';
import { numberRanges } from '../util/short-list.js';

async function ask(name: string | undefined, request: Omit<ControlRequest, 'v' | 'id'>): Promise<{ name: string; reply: ControlReply }> {
  const app = await resolveApp(name);
  try {
    return { name: app.name, reply: await send(app.socket, request) };
  } catch (error) {
    throw controlError(error, app.socket);
  }
}

/** The reply's result; an error reply ends the command with `exitCode` (or 5 for a protocol error). */
function resultOf<T>(reply: ControlReply, exitCode: number = EXIT.APP_FAILED): T {
  if (reply.ok) return reply.result as T;
  const code = reply.error.code === 'CORRAL_ERR_BAD_REQUEST' || reply.error.code === 'CORRAL_ERR_PROTOCOL_VERSION' ? EXIT.CONTROL_FAILED
    // A stop overtook it: not the command's usage, whatever else its errors mean.
    : reply.error.code === 'CORRAL_ERR_CANCELLED' || reply.error.code === 'CORRAL_ERR_CLUSTER_CLOSED' ? EXIT.APP_FAILED : exitCode;
  throw new CliError(`corral: ${reply.error.message}`, code);
}

function oneName(positionals: readonly string[], command: string): string | undefined {
  if (positionals.length > 1) throw new CliError(`corral ${command}: too many arguments (${positionals.join(' ')}). Usage: corral ${command} [name]`, EXIT.USAGE);
  return positionals[0];
}

export async function runStatus(argv: readonly string[], io: CliOutput): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...argv], options: { json: { type: 'boolean' } }, allowPositionals: true });
  const { reply } = await ask(oneName(positionals, 'status'), { command: 'status' });
  const report = resultOf<StatusReport>(reply, EXIT.CONTROL_FAILED);
  io.out(values.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report));
  return EXIT.OK;
}

/** The apps a command acts on: every running app for `all`, else the named one, or the only one running. */
async function targets(name: string | undefined): Promise<FoundApp[]> {
  return name === 'all' ? liveApps() : [await resolveApp(name)];
}

async function askApp(app: FoundApp, request: Omit<ControlRequest, 'v' | 'id'>): Promise<ControlReply> {
  try {
    return await send(app.socket, request);
  } catch (error) {
    throw controlError(error, app.socket);
  }
}

/**
 * Runs `action` on each target app in turn (`all`: every running app), says each outcome (or,
 * with --json, prints the result: one object, or for `all` a list of `{ name, ok, result | error }`),
 * and returns the first failure's exit code (0 if none failed).
 */
async function eachApp<T>(
  name: string | undefined, json: boolean, io: CliOutput,
  action: (app: FoundApp) => Promise<T>, describe: (app: FoundApp, result: T) => string,
): Promise<number> {
  const apps = await targets(name);
  if (apps.length === 0) {
    io.out(json ? '[]\n' : 'no corral app is running for this user.\n');
    return EXIT.OK;
  }
  let code: number = EXIT.OK;
  const results: unknown[] = [];
  for (const app of apps) {
    try {
      const result = await action(app);
      results.push(name === 'all' ? { name: app.name, ok: true, result } : result);
      if (!json) io.out(describe(app, result));
    } catch (error) {
      if (!(error instanceof CliError) && !(error instanceof ControlError)) throw error;
      const failed = error instanceof CliError ? error.exitCode : CONTROL_ERROR_EXIT[error.code];
      if (code === EXIT.OK) code = failed;
      const message = error instanceof CliError ? error.message : `corral: ${error.message}`;
      if (name !== 'all') throw error;
      results.push({ name: app.name, ok: false, error: { message, exitCode: failed } });
      io.err(`${message}\n`);
    }
  }
  if (json) io.out(`${JSON.stringify(name === 'all' ? results : results[0], null, 2)}\n`);
  return code;
}

const commandFlags = { json: { type: 'boolean' } } as const;

export async function runReload(argv: readonly string[], io: CliOutput): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...argv], options: commandFlags, allowPositionals: true });
  return eachApp(oneName(positionals, 'reload'), values.json === true, io,
    async (app) => resultOf<Omit<ReloadResult, 'killed'> & Partial<Pick<ReloadResult, 'killed'>> & { restartNeeded?: string[] }>(await askApp(app, { command: 'reload' })),
    (app, result) => `${app.name}: reloaded; every worker runs generation ${result.generation} (${result.duration} ms)` +
      `${killedNote(result.killed, 'old worker')}\n` +
      (result.restartNeeded === undefined || result.restartNeeded.length === 0 ? ''
        : `  changed in the config since the start, applied only by a restart ('corral restart ${app.name}'): ${result.restartNeeded.join(', ')}\n`));
}

export async function runScale(argv: readonly string[], io: CliOutput): Promise<number> {
  // A count such as -1 would read as a flag: everything but --json is positional.
  const json = argv.includes('--json');
  const positionals = argv.filter((arg) => arg !== '--json');
  if (positionals.length === 0 || positionals.length > 2) {
    throw new CliError('corral scale: give the worker count: corral scale [name] <N|+N|-N>, e.g. corral scale +1.', EXIT.USAGE);
  }
  const workers = positionals.pop()!;
  if (positionals[0] === 'all') throw new CliError('corral scale: name one app; scaling every app at once is not offered.', EXIT.USAGE);
  return eachApp(positionals[0], json, io,
    async (app) => resultOf<Omit<ScaleResult, 'killed'> & Partial<Pick<ScaleResult, 'killed'>>>(await askApp(app, { command: 'scale', workers }), EXIT.USAGE),
    (app, result) => `${app.name}: ${result.workers} worker${result.workers === 1 ? '' : 's'}` +
      `${result.added.length > 0 ? ` (added slot${result.added.length === 1 ? '' : 's'} ${numberRanges(result.added)})` : ''}` +
      `${result.removed.length > 0 ? ` (drained and removed slot${result.removed.length === 1 ? '' : 's'} ${numberRanges(result.removed)})` : ''}` +
      `${killedNote(result.killed)}\n`);
}

export async function runStop(argv: readonly string[], io: CliOutput): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...argv], options: commandFlags, allowPositionals: true });
  let unclean = false;
  const code = await eachApp(oneName(positionals, 'stop'), values.json === true, io,
    async (app) => {
      const result = resultOf<ShutdownResult>(await askApp(app, { command: 'stop' }));
      if (!result.clean) unclean = true;
      return result;
    },
    (app, result) => `${app.name}: ${describeStop(result)}\n`);
  return code === EXIT.OK && unclean ? EXIT.APP_FAILED : code;
}

/** How long `corral restart` waits for the stopped primary to exit before starting the new one. */
const RESTART_EXIT_TIMEOUT = 15_000;

export async function runRestart(argv: readonly string[], io: CliOutput): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...argv], options: commandFlags, allowPositionals: true });
  return eachApp(oneName(positionals, 'restart'), values.json === true, io, (app) => restartApp(app), (_app, ready) => describeReady(ready));
}

/** Stops the app, waits for its primary to exit, and starts it again as it was started (restart.ts). */
async function restartApp(app: FoundApp): Promise<DetachedReady> {
  const launch = resultOf<LaunchInfo>(await askApp(app, { command: 'launch' }), EXIT.CONTROL_FAILED);
  if (!launch.detached) {
    throw new CliError(`corral restart: '${app.name}' runs in the foreground (a terminal, a systemd unit, a container), which owns its ` +
      `restarts: restart it there (for example 'systemctl restart <unit>'), or run 'corral reload ${app.name}' for new code with no downtime.`, EXIT.USAGE);
  }
  resultOf<ShutdownResult>(await askApp(app, { command: 'stop' }));
  if (!(await processEnded(launch.pid, RESTART_EXIT_TIMEOUT))) {
    throw new CliError(`corral restart: '${app.name}' was stopped, but its primary (pid ${launch.pid}) still runs after ` +
      `${RESTART_EXIT_TIMEOUT / 1000} s, so it was not started again. See 'corral logs ${app.name}'.`, EXIT.APP_FAILED);
  }
  const outcome = await launchDetached(launch.argv, logFilePath(app.name, logDirectory(launch.env)), {
    execPath: launch.execPath, execArgv: launch.execArgv, bin: launch.bin, cwd: launch.cwd, env: launch.env,
  });
  if (!outcome.ok) throw new CliError(outcome.message, outcome.code);
  return outcome.ready;
}

function formatStatus(report: StatusReport): string {
  // The debugger's column only when the workers have one (older primaries send no `inspector`).
  const debugging = [...report.slots.map((slot) => slot.worker), ...report.others].some((worker) => worker?.inspector != null);
  const rows: string[][] = [['SLOT', 'WORKER', 'PID', 'GEN', 'STATE', 'UPTIME', 'RESTARTS', 'MEMORY', 'HEAP', 'LOOP', 'CPU', 'LAST EXIT',
    ...(debugging ? ['INSPECTOR'] : [])]];
  const row = (slot: number, state: string, restarts: string, worker: WorkerReport | null, lastExit: string): string[] => [
    String(slot), worker === null ? '-' : String(worker.id), worker?.pid == null ? '-' : String(worker.pid),
    worker === null ? '-' : String(worker.generation), state, worker === null ? '-' : formatDuration(worker.uptime), restarts,
    worker?.rss == null ? '-' : mebibytes(worker.rss),
    worker?.runtime == null ? '-' : mebibytes(worker.runtime.heapUsed),
    // The event loop's delay at the latest report: a busy or blocking worker shows here first.
    worker?.runtime == null ? '-' : `${Math.round(worker.runtime.loopDelay)} ms`,
    worker?.cpu == null ? '-' : `${worker.cpu.toFixed(1)}%`,
    lastExit,
    ...(debugging ? [describeInspector(worker?.inspector)] : []),
  ];
  for (const slot of report.slots) {
    // A serving worker's state is the slot's (ready, starting, crashloop…).
    rows.push(row(slot.slot, slot.state, String(slot.restarts), slot.worker, describeExit(slot.lastExit, report)));
  }
  for (const other of report.others) rows.push(row(other.slot, other.state, '', other, ''));
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((cells) => cells[column]!.length)));
  const table = rows.map((cells) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
  const actions = Object.entries(report.health).filter(([, count]) => count > 0).map(([reason, count]) => `${reason} ${count}`);
  return `${report.name}: ${report.state}, ${report.workers} worker${report.workers === 1 ? '' : 's'} (${report.balancer ?? 'round-robin'}), generation ${report.generation}${report.reloading === null ? '' : ` (reloading to ${report.reloading})`}, ` +
    `primary pid ${report.pid} (${report.primary.rss === null ? '-' : mebibytes(report.primary.rss)}), up ${formatDuration(report.uptime)}\n` +
    `health actions: ${actions.length === 0 ? 'none' : actions.join(', ')}${report.admin == null ? '' : `; admin ${report.admin} (/metrics, dashboard)`}\n${table}\n`;
}

/** `127.0.0.1:9401`; `127.0.0.1:9401 once free` for a replacement that waits for the port. */
function describeInspector(inspector: WorkerReport['inspector'] | undefined): string {
  if (inspector == null) return '-';
  if (inspector.port === 0) return `${inspector.host}, a port the system chose`;
  const address = hostPort(inspector.host, inspector.port);
  return inspector.open ? address : `${address} once free`;
}

/** `memory 2m10s ago`, `crash (code 1) 4s ago`, `reload (SIGKILL) 3s ago`. */
function describeExit(exit: StatusReport['slots'][number]['lastExit'], report: StatusReport): string {
  if (exit === null) return '-';
  // A drain that ended in SIGKILL at its deadline says so: `reload (SIGKILL)`.
  const how = exit.reason === 'crash' || exit.reason === 'killed' ? `${exit.reason} (${exit.signal ?? `code ${exit.code ?? '?'}`})`
    : exit.signal === 'SIGKILL' ? `${exit.reason} (SIGKILL)` : exit.reason;
  const ago = Date.parse(report.at) - Date.parse(exit.at);
  return `${how} ${formatDuration(Math.max(0, ago))} ago`;
}

function mebibytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
