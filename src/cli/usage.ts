/** Help texts of the `corral` command and its subcommands (start's options come from the option tables). */
import type { OptionFlag } from '../options/table.js';
import { START_FLAG_LIST } from './start-options.js';

export const USAGE = `Usage: corral <command> [options]

Run a Node.js app on every core: one primary, a worker per CPU, zero-downtime reloads.

Commands:
  start <script> [options] [-- app args]   run the app in the foreground (-d: in the background)
  start <config file> [-d] [--only name]   the app(s) of a config file or PM2 ecosystem file
  list, ls [--json]                        every running app of this user: workers, memory, CPU
  status [name] [--json]                   slots, workers, memory and CPU of a running app
  monit [name]                             a live view of running apps (q quits)
  logs [name] [-f] [-n N] [--json]         the app's log file (apps started with -d or --log-file)
  reload [name|all] [--json]               zero-downtime rolling reload (new code from disk)
  scale [name] <N|+N|-N> [--json]          change the worker count (removed workers drain first)
  stop [name|all] [--json]                 graceful shutdown
  restart [name|all] [--json]              stop, then start again as it was started (apps started with -d)
  startup systemd <script> [options]       a systemd unit that runs the app at boot (--install writes it)
  help [command], --help, -h               print this help, or a command's
  version, --version, -v                   print the version

Run 'corral help <command>' (or 'corral <command> --help') for a command's options.

From code:
  import cluster from 'corral'            // node:cluster's API, corral's primary
  import { createCluster } from 'corral'  // supervised cluster with reloads and restarts
`;

/** Where a flag's help starts. */
const HELP_COLUMN = 31;

/** The options part of a help text, one flag a line (help that spans lines stays in its column). */
export function flagHelp(flags: readonly OptionFlag[]): string {
  return flags.map((flag) => {
    const left = `  ${flag.short === undefined ? '    ' : `-${flag.short}, `}--${flag.name}${flag.value === '' ? '' : ` ${flag.value}`}`;
    const [first = '', ...rest] = flag.help.split('\n');
    return [`${left.padEnd(HELP_COLUMN - 1)} ${first}`, ...rest.map((line) => `${' '.repeat(HELP_COLUMN)}${line}`)].join('\n');
  }).join('\n');
}

export const START_USAGE = `Usage: corral start <script> [options] [-- app args]
       corral start <config file> [options]

Runs <script> (a path, or a command of node_modules/.bin such as next) in one worker per CPU,
in the foreground, until SIGTERM or SIGINT (Ctrl-C) stops it gracefully. SIGHUP reloads with zero downtime; SIGTTIN / SIGTTOU add / remove a worker.
A config file (corral.config.mjs, or a PM2 ecosystem.config.js) may hold several apps
(apps: [...]): -d starts each as its own primary in the background; --only picks some.

Options:
${flagHelp(START_FLAG_LIST)}

Exit codes: 0 clean shutdown, 1 the app could not start or a worker was killed at the deadline,
2 bad usage or config, 4 an app of that name already runs, 5 the control socket failed.
`;

const NAME_NOTE = `The name may be left out when exactly one app runs for this user.
Exit codes: 0 done, 3 no such app running, 5 the control socket failed`;

export const STATUS_USAGE = `Usage: corral status [name] [--json]

Prints the health actions so far (hang, memory, requests, age), then each slot with its worker
id, pid, generation, state, uptime, restarts, memory (RSS), V8 heap, event-loop delay, CPU, and
how the slot's last worker ended. --json prints the same as JSON (schema in the README).

${NAME_NOTE}.
`;

export const MONIT_USAGE = `Usage: corral monit [name] [--interval <ms>]

A live view of the app (or, without a name, of every app of this user), redrawn every second:
each slot's pid, state, generation, uptime, CPU (with a bar), memory, V8 heap, event-loop delay,
open connections, requests per second, requests and restarts, then the latest events (a worker
replaced and how its predecessor ended, reloads, crash loops). q, Esc or Ctrl-C quits. Not on a
terminal, it prints plain key=value lines each interval instead (until a signal, or until the
named app stops). NO_COLOR turns colours off. --interval: ms between updates (at least 200).

Exit codes: 0 done, 2 bad usage, 3 no such app running, 5 the control socket failed.
`;

export const LIST_USAGE = `Usage: corral list [--json]   (alias: corral ls)

Prints every app of this user that is running: name, primary pid, state, workers ready of
configured, uptime, memory (RSS of the primary and its workers), CPU and restarts. Apps are found
in every run directory corral may use, so an app started from a login shell is listed from cron
too (and the other way round); set CORRAL_RUN_DIR to look in that directory only. A control
socket whose primary is gone is not listed. --json prints { "v": 1, "apps": [...] }.

Exit codes: 0 done (also when no app runs), 5 a run directory cannot be trusted.
`;

export const LOGS_USAGE = `Usage: corral logs [name] [-f|--follow] [-n|--lines N] [--json]

Prints the last lines (20 unless -n) of the app's log file: corral's own lines and every
worker's, each tagged with the time, slot, pid and stream. -f then prints new lines as they are
written, across rotations, until Ctrl-C. --json prints each line as a JSON object.

The file is written for apps started with -d (detached) or --log-file, under $CORRAL_LOG_DIR,
else $XDG_STATE_HOME/corral, else ~/.local/state/corral, as <name>.log, rotated at --log-max-size
(10M) into <name>.log.1 … (--log-max-files, 5). It stays after the app stops.

The name may be left out when exactly one app runs (or, none running, one has a log file).
Exit codes: 0 done, 2 bad usage, 3 no such log file.
`;

export const RELOAD_USAGE = `Usage: corral reload [name|all] [--json]

Zero-downtime rolling reload: each slot gets a new worker from the code on disk, which must be
ready before the old worker drains. Waits until the reload is done. If a new worker fails, the
reload stops, the old workers keep serving, and this exits 1 with the worker's exit code and the
last lines of its stderr. \`all\` reloads every running app, one after the other. --json prints
the result ({ generation, replaced, duration }; for all, a list of { name, ok, result | error }).

${NAME_NOTE}, 1 the reload failed.
`;

export const SCALE_USAGE = `Usage: corral scale [name] <N|+N|-N> [--json]

Sets the worker count (N) or changes it (+N, -N). New workers start in the lowest free slots;
removed workers (the highest slots) drain before they stop.

${NAME_NOTE}, 2 a bad count.
`;

export const STOP_USAGE = `Usage: corral stop [name|all] [--json]

Graceful shutdown, as SIGTERM: workers stop taking connections, finish their in-flight requests
and run their onShutdown hooks; any still running at the shutdown timeout are SIGKILLed. \`all\`
stops every running app, one after the other. --json prints the result ({ clean, exits }).

${NAME_NOTE}, 1 a worker had to be killed.
`;

export const RESTART_USAGE = `Usage: corral restart [name|all] [--json]

A full restart of an app started with -d: a graceful stop, then a start in the background with
what it was started with (the same Node and corral, arguments, directory and environment), waiting
until it is ready. For new code without dropping a request, use 'corral reload' instead. An app
in the foreground (a terminal, a systemd unit, a container) is restarted by what runs it
('systemctl restart <unit>'). \`all\` restarts every running app started with -d.

${NAME_NOTE}, 1 it stopped but could not start again (its error is printed), 2 it runs in the foreground.
`;

export const STARTUP_USAGE = `Usage: corral startup systemd [--user] [--install] <script> [start options] [-- app args]

Prints a systemd unit that runs 'corral start <script> [start options]' in the foreground at
boot: this Node and this corral by absolute path (never npx, which does not pass signals on),
this directory, this user, 'systemctl reload' as a zero-downtime reload, and a stop that lets
corral's graceful shutdown finish (KillMode=mixed, TimeoutStopSec above --shutdown-timeout).
The start options are checked now, as 'corral start' checks them.

--env values (secrets, often) never go into the unit, which every user may read, nor into its
command line: the unit names a file of mode 0600 in EnvironmentFile= (/etc/corral/<name>.env;
with --user, ~/.config/corral/<name>.env), and ExecStart passes --env KEY alone, which takes
the value from there. The file holds it as CORRAL_ENV_KEY: systemd sets the file's variables on
corral's primary too, and corral gives them to the workers alone, as KEY. --install writes that
file; without it, the names to put in it are said.

  --user      a user unit (systemctl --user), for ~/.config/systemd/user
  --install   write it (/etc/systemd/system, which needs root; with --user, your own directory),
              and the file of --env values, and print the systemctl lines to run

Exit codes: 0 done, 1 it could not be written, 2 bad usage or options.
`;
