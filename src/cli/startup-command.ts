/**
 * `corral startup systemd [--user] [--install] <script> [start options]`: a systemd unit that
 * runs `corral start` in the foreground, as systemd wants a service: absolute paths to this Node
 * and this corral (never npx, which does not pass signals on), the working directory and user,
 * `ExecReload` to a zero-downtime reload (SIGHUP), `KillMode=mixed` and a `TimeoutStopSec` longer
 * than the shutdown timeout, so that systemd's stop is corral's graceful shutdown (SIGTERM to the
 * primary, which drains every worker; SIGKILL to all only past the deadline), and a restart on
 * failure. Printed, or with --install written where systemd reads units, with the systemctl lines
 * to run.
 */
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCluster } from '../managed/managed-cluster.js';
import { CliError, EXIT } from './exit-codes.js';
import type { CliOutput } from './output-sink.js';
import { parseStart, SeveralAppsError } from './start-options.js';
import { optionError } from './start.js';

/** Seconds systemd waits past corral's own shutdown deadline before it SIGKILLs what is left. */
const STOP_MARGIN_SECONDS = 5;

export async function runStartup(argv: readonly string[], io: CliOutput): Promise<number> {
  const [system, ...rest] = argv;
  if (system !== 'systemd') {
    throw new CliError(`corral startup: ${system === undefined ? 'name the init system' : `'${system}' is not supported`}: ` +
      'corral startup systemd <script> [start options] (--user for a user unit, --install to write it).', EXIT.USAGE);
  }
  const end = rest.includes('--') ? rest.indexOf('--') : rest.length;
  const own = new Set(['--user', '--install']);
  const flags = rest.slice(0, end).filter((arg) => own.has(arg));
  const startArgs = [...rest.slice(0, end).filter((arg) => !own.has(arg)), ...rest.slice(end)];
  if (startArgs.includes('-d') || startArgs.includes('--detach')) {
    throw new CliError('corral startup: leave out -d: systemd runs corral in the foreground and is what keeps it running.', EXIT.USAGE);
  }
  const user = flags.includes('--user');
  // The options are checked now, as `corral start` would check them, with their flags named.
  let request: Awaited<ReturnType<typeof parseStart>>;
  try {
    request = await parseStart(startArgs, process.cwd());
  } catch (error) {
    if (!(error instanceof SeveralAppsError)) throw error;
    const file = path.basename(error.file);
    throw new CliError(`corral startup: ${file} holds ${error.names.length} apps (${error.names.join(', ')}): a unit runs one app's primary. ` +
      `Make one unit per app: ${error.names.map((name) => `corral startup systemd ${file} --only ${name}`).join('; ')}.`, EXIT.USAGE);
  }
  let options: ReturnType<typeof createCluster>['options'];
  try {
    options = createCluster(request.options).options;
  } catch (error) {
    throw optionError(error, request);
  }
  const { name, shutdownTimeout, shutdownDelay } = options;
  const unit = systemdUnit({ name, argv: absoluteArgs(startArgs, request.sources.get('exec'), options.exec), user, shutdownTimeout, shutdownDelay });
  const file = `corral-${name}.service`;
  if (!flags.includes('--install')) {
    io.out(unit);
    return EXIT.OK;
  }
  const dir = user ? path.join(os.homedir(), '.config', 'systemd', 'user') : '/etc/systemd/system';
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, file), unit, { mode: 0o644 });
  } catch (error) {
    throw new CliError(`corral startup: cannot write ${path.join(dir, file)}: ${(error as Error).message}. ` +
      `${user ? '' : 'A system unit needs root (sudo), or use --user for a unit of your own. '}Or print it and place it yourself: leave out --install.`, EXIT.APP_FAILED);
  }
  const systemctl = user ? 'systemctl --user' : 'systemctl';
  io.out(`wrote ${path.join(dir, file)}\nnow run:\n  ${systemctl} daemon-reload\n  ${systemctl} enable --now ${file}\n` +
    `then: ${systemctl} reload ${file} (zero-downtime reload), ${systemctl} stop ${file}, journalctl ${user ? '--user ' : ''}-u ${file}\n` +
    (user ? `to keep it running after you log out: loginctl enable-linger ${os.userInfo().username}\n` : ''));
  return EXIT.OK;
}

/**
 * The arguments with the script as an absolute path (the rest stay as given: relative paths in
 * them resolve the same, from WorkingDirectory).
 */
function absoluteArgs(args: readonly string[], script: string | undefined, exec: string): string[] {
  const out = [...args];
  const index = script === undefined ? -1 : out.indexOf(script);
  if (index !== -1) out[index] = exec;
  return out;
}

/** A value for ExecStart: quoted when it has to be, with systemd's own specifiers (%) and $ escaped. */
function quote(arg: string): string {
  const escaped = arg.replaceAll('%', '%%').replaceAll('$', '$$$$');
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped) ? escaped : `"${escaped.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

export interface UnitRequest {
  readonly name: string;
  readonly argv: readonly string[];
  readonly user: boolean;
  /** corral's shutdownTimeout, in ms: systemd waits longer. */
  readonly shutdownTimeout: number;
  /** corral's shutdownDelay, in ms: served before the drain, so systemd waits that too. */
  readonly shutdownDelay?: number;
}

export function systemdUnit({ name, argv, user, shutdownTimeout, shutdownDelay = 0 }: UnitRequest): string {
  // The file itself, not the node_modules/.bin link npx and npm run go through.
  const bin = realpathSync(process.argv[1]!);
  const exec = [process.execPath, bin, 'start', ...argv].map(quote).join(' ');
  const account = os.userInfo();
  return `# Written by 'corral startup systemd'. systemd runs corral in the foreground: it is the
# supervisor of the primary, and corral supervises the workers.
[Unit]
Description=corral: ${name}
After=network-online.target
Wants=network-online.target

[Service]
# corral says READY=1 once every worker is ready, RELOADING=1 and READY=1 around a reload,
# STOPPING=1, and pings the watchdog while no slot is crash-looping. It says so through
# systemd-notify, a child of the primary: hence NotifyAccess=all.
Type=notify
NotifyAccess=all
WatchdogSec=30
${user ? '' : `User=${account.username}\n`}WorkingDirectory=${quote(process.cwd())}
Environment=PATH=${quote([...new Set([path.dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'])].join(':'))}
ExecStart=${exec}
# A rolling reload with no downtime: systemctl reload.
ExecReload=/bin/kill -HUP $MAINPID
# Stop: SIGTERM to corral's primary alone, which drains every worker; SIGKILL to whatever is left
# only after corral's own deadline (${shutdownDelay > 0 ? `shutdownDelay ${shutdownDelay} ms, then ` : ''}shutdownTimeout ${shutdownTimeout} ms) and a margin.
KillMode=mixed
KillSignal=SIGTERM
TimeoutStopSec=${Math.ceil((shutdownDelay + shutdownTimeout) / 1000) + STOP_MARGIN_SECONDS}
Restart=on-failure
RestartSec=1

[Install]
WantedBy=${user ? 'default.target' : 'multi-user.target'}
`;
}
