/**
 * `corral startup systemd [--user] [--install] <script> [start options]`: a systemd unit that
 * runs `corral start` in the foreground, as systemd wants a service: absolute paths to this Node
 * and this corral (never npx, which does not pass signals on), the working directory and user,
 * `ExecReload` to a zero-downtime reload (SIGHUP), `KillMode=mixed` and a `TimeoutStopSec` longer
 * than the shutdown timeout, so that systemd's stop is corral's graceful shutdown (SIGTERM to the
 * primary, which drains every worker; SIGKILL to all only past the deadline), and a restart on
 * failure. Printed, or with --install written where systemd reads units, with the systemctl lines
 * to run.
 *
 * `--env` values never go into the unit, which any user may read (`systemctl cat`), nor into its
 * command line (`ps`, `systemctl show`): they go into a file of mode 0600 that the unit names in
 * EnvironmentFile= (systemd-environment-file.ts), and ExecStart keeps `--env KEY` alone, which takes
 * the value from corral's environment, so that --env still wins over the config file's env. The
 * file names them CORRAL_ENV_<KEY>: systemd sets its variables on the primary itself, where KEY
 * (NODE_OPTIONS, PATH, CORRAL_LOG_DIR…) would change corral and not only the workers, as a plain
 * `corral start --env` does (passed-env.ts).
 * `--env-file` files stay corral's to read (at each start and reload, in Node's dotenv syntax, which
 * is not systemd's), named by path only.
 */
import { mkdirSync, realpathSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCluster } from '../managed/managed-cluster.js';
import { replaceFile } from '../util/replace-file.js';
import { CliError, EXIT } from './exit-codes.js';
import type { CliOutput } from './output-sink.js';
import { parseStart, separateEnvValues, SeveralAppsError } from './start-options.js';
import { optionError } from './start.js';
import { environmentFileName, environmentFilePath, environmentFileText } from './systemd-environment-file.js';

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
  const { argv: unitArgs, env } = separateEnvValues(startArgs);
  const environmentFile = env.size === 0 ? undefined : environmentFilePath(name, user);
  // Made (and its names checked) before anything is printed or written.
  const environmentText = environmentFileText(env);
  const keys = [...env.keys()].join(', ');
  const names = [...env.keys()].map(environmentFileName).join(', ');
  const unit = systemdUnit({
    name, argv: absoluteArgs(unitArgs, request.sources.get('exec'), options.exec), user, shutdownTimeout, shutdownDelay, environmentFile,
  });
  for (const file of request.envFiles) {
    const note = envFileNote(file, request.sources.get('envFile') ?? 'envFile');
    if (note !== undefined) io.err(note);
  }
  const file = `corral-${name}.service`;
  if (!flags.includes('--install')) {
    io.out(unit);
    // The unit is printed to be placed as it is: the values, which may be secrets, are not printed
    // with it (to a terminal, a scrollback, a CI log), and the user is told where they go instead.
    if (environmentFile !== undefined) {
      io.err(`corral startup: the unit reads the values of --env ${keys} from ${environmentFile} (EnvironmentFile=); they are not printed, ` +
        'as a unit is readable by every user. Create that file, readable by its owner alone:\n' +
        `  ${user ? '' : 'sudo '}install -D -m 600 /dev/null ${environmentFile}\n` +
        `and write into it a line CORRAL_ENV_KEY="value" for each of ${names} (in the double quotes, put a backslash before each ", \\, \` and $). ` +
        "The names are prefixed, as systemd sets the variables of EnvironmentFile= on corral's primary too, where NODE_OPTIONS, PATH or " +
        'CORRAL_LOG_DIR would change corral itself: corral start takes CORRAL_ENV_KEY out of its own environment and gives it to the workers alone, as KEY. ' +
        'Or add --install, which writes both the unit and that file.\n');
    }
    return EXIT.OK;
  }
  const dir = user ? path.join(os.homedir(), '.config', 'systemd', 'user') : '/etc/systemd/system';
  // The values first: the unit never names a file that is not there yet.
  if (environmentFile !== undefined) install(environmentFile, environmentText, 0o600, 0o700, user);
  install(path.join(dir, file), unit, 0o644, 0o755, user);
  const systemctl = user ? 'systemctl --user' : 'systemctl';
  io.out((environmentFile === undefined ? '' : `wrote ${environmentFile} (mode 0600: ${names})\n`) +
    `wrote ${path.join(dir, file)}\nnow run:\n  ${systemctl} daemon-reload\n  ${systemctl} enable --now ${file}\n` +
    `then: ${systemctl} reload ${file} (zero-downtime reload), ${systemctl} stop ${file}, journalctl ${user ? '--user ' : ''}-u ${file}\n` +
    (user ? `to keep it running after you log out: loginctl enable-linger ${os.userInfo().username}\n` : ''));
  return EXIT.OK;
}

/** Writes one file of the unit with `mode` (its directory made as needed, with `directoryMode`), or says why it cannot. */
function install(file: string, text: string, mode: number, directoryMode: number, user: boolean): void {
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: directoryMode });
    replaceFile(file, text, mode);
  } catch (error) {
    throw new CliError(`corral startup: cannot write ${file}: ${(error as Error).message}. ` +
      `${user ? '' : 'A system unit needs root (sudo), or use --user for a unit of your own. '}Or print it and place it yourself: leave out --install.`, EXIT.APP_FAILED);
  }
}

/** A note on an environment file that every user may read or change, since it is where secrets tend to be; undefined when it is closed. */
function envFileNote(file: string, source: string): string | undefined {
  let mode: number;
  try {
    mode = statSync(file).mode & 0o777;
  } catch {
    return undefined; // Read by parseStart a moment ago; gone now is for the start to report.
  }
  if ((mode & 0o007) === 0) return undefined;
  return `corral startup: note: ${file} (${source}), which corral reads at each start and reload, is open to every user ` +
    `(mode ${mode.toString(8).padStart(4, '0')}): if it holds secrets, chmod 600 ${file}.\n`;
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
  /** The file of the --env values (systemd-environment-file.ts), for EnvironmentFile=. */
  readonly environmentFile?: string | undefined;
}

export function systemdUnit({ name, argv, user, shutdownTimeout, shutdownDelay = 0, environmentFile }: UnitRequest): string {
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
${environmentFile === undefined ? '' : `# The --env values, in a file of mode 0600 rather than here, as CORRAL_ENV_KEY: ExecStart's
# --env KEY takes each one from it and gives it to the workers alone (not to corral itself).
EnvironmentFile=${environmentFile.replaceAll('%', '%%')}
`}ExecStart=${exec}
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
