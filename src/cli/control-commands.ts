/**
 * `corral status`, `corral reload`, `corral scale` and `corral stop`: each talks to the running
 * primary over its control socket (src/control/). The app name may be left out when exactly one
 * app runs for this user.
 */
import { parseArgs } from 'node:util';
import { controlError, resolveApp, send } from '../control/client.js';
import type { ControlReply, ControlRequest } from '../control/protocol.js';
import type { StatusReport, WorkerReport } from '../control/status-report.js';
import type { ReloadResult, ScaleResult } from '../managed/managed-cluster.js';
import type { ShutdownResult } from '../managed/shutdown.js';
import { CliError, EXIT } from './exit-codes.js';
import type { CliOutput } from './output-sink.js';
import { formatDuration } from '../options/units.js';
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
  const code = reply.error.code === 'CORRAL_ERR_BAD_REQUEST' || reply.error.code === 'CORRAL_ERR_PROTOCOL_VERSION' ? EXIT.CONTROL_FAILED : exitCode;
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

export async function runReload(argv: readonly string[], io: CliOutput): Promise<number> {
  const { positionals } = parseArgs({ args: [...argv], options: {}, allowPositionals: true });
  const { name, reply } = await ask(oneName(positionals, 'reload'), { command: 'reload' });
  const result = resultOf<ReloadResult>(reply);
  io.out(`${name}: reloaded; every worker runs generation ${result.generation} (${result.duration} ms)\n`);
  return EXIT.OK;
}

export async function runScale(argv: readonly string[], io: CliOutput): Promise<number> {
  // A count such as -1 would read as a flag: everything here is positional.
  const positionals = [...argv];
  if (positionals.length === 0 || positionals.length > 2) {
    throw new CliError('corral scale: give the worker count: corral scale [name] <N|+N|-N>, e.g. corral scale +1.', EXIT.USAGE);
  }
  const workers = positionals.pop()!;
  const { name, reply } = await ask(positionals[0], { command: 'scale', workers });
  const result = resultOf<ScaleResult>(reply, EXIT.USAGE);
  io.out(`${name}: ${result.workers} worker${result.workers === 1 ? '' : 's'}` +
    `${result.added.length > 0 ? ` (added slot${result.added.length === 1 ? '' : 's'} ${numberRanges(result.added)})` : ''}` +
    `${result.removed.length > 0 ? ` (drained and removed slot${result.removed.length === 1 ? '' : 's'} ${numberRanges(result.removed)})` : ''}\n`);
  return EXIT.OK;
}

export async function runStop(argv: readonly string[], io: CliOutput): Promise<number> {
  const { positionals } = parseArgs({ args: [...argv], options: {}, allowPositionals: true });
  const { name, reply } = await ask(oneName(positionals, 'stop'), { command: 'stop' });
  const result = resultOf<ShutdownResult>(reply);
  io.out(`${name}: ${result.clean ? 'stopped cleanly' : `stopped; ${result.exits.filter((exit) => exit.killed).length} worker(s) SIGKILLed at the deadline`}\n`);
  return result.clean ? EXIT.OK : EXIT.APP_FAILED;
}

function formatStatus(report: StatusReport): string {
  const rows: string[][] = [['SLOT', 'WORKER', 'PID', 'GEN', 'STATE', 'UPTIME', 'RESTARTS', 'MEMORY', 'HEAP', 'LOOP', 'CPU', 'LAST EXIT']];
  const row = (slot: number, state: string, restarts: string, worker: WorkerReport | null, lastExit: string): string[] => [
    String(slot), worker === null ? '-' : String(worker.id), worker?.pid == null ? '-' : String(worker.pid),
    worker === null ? '-' : String(worker.generation), state, worker === null ? '-' : formatDuration(worker.uptime), restarts,
    worker?.rss == null ? '-' : mebibytes(worker.rss),
    worker?.runtime == null ? '-' : mebibytes(worker.runtime.heapUsed),
    // The event loop's delay at the latest report: a busy or blocking worker shows here first.
    worker?.runtime == null ? '-' : `${Math.round(worker.runtime.loopDelay)} ms`,
    worker?.cpu == null ? '-' : `${worker.cpu.toFixed(1)}%`,
    lastExit,
  ];
  for (const slot of report.slots) {
    // A serving worker's state is the slot's (ready, starting, crashloop…).
    rows.push(row(slot.slot, slot.state, String(slot.restarts), slot.worker, describeExit(slot.lastExit, report)));
  }
  for (const other of report.others) rows.push(row(other.slot, other.state, '', other, ''));
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((cells) => cells[column]!.length)));
  const table = rows.map((cells) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
  const actions = Object.entries(report.health).filter(([, count]) => count > 0).map(([reason, count]) => `${reason} ${count}`);
  return `${report.name}: ${report.state}, ${report.workers} worker${report.workers === 1 ? '' : 's'}, generation ${report.generation}${report.reloading === null ? '' : ` (reloading to ${report.reloading})`}, ` +
    `primary pid ${report.pid} (${report.primary.rss === null ? '-' : mebibytes(report.primary.rss)}), up ${formatDuration(report.uptime)}\n` +
    `health actions: ${actions.length === 0 ? 'none' : actions.join(', ')}\n${table}\n`;
}

/** `memory 2m10s ago`, `crash (code 1) 4s ago`. */
function describeExit(exit: StatusReport['slots'][number]['lastExit'], report: StatusReport): string {
  if (exit === null) return '-';
  const how = exit.reason !== 'crash' && exit.reason !== 'killed' ? exit.reason
    : `${exit.reason} (${exit.signal ?? `code ${exit.code ?? '?'}`})`;
  const ago = Date.parse(report.at) - Date.parse(exit.at);
  return `${how} ${formatDuration(Math.max(0, ago))} ago`;
}

function mebibytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
