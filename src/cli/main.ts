/** The `corral` command: dispatches to a subcommand; returns the exit code. */
// First: on an unsupported Node, or under Bun or Deno, this throws one clear error (bin/corral.cjs
// prints its message).
import '../support/node-version.cjs';
import '../support/node-runtime.cjs';
import { readFileSync } from 'node:fs';
import { ControlError } from '../control/errors.js';
import { CliError, CONTROL_ERROR_EXIT, EXIT } from './exit-codes.js';
import type { CliOutput } from './output-sink.js';
import { runReload, runRestart, runScale, runStatus, runStop } from './control-commands.js';
import { runStart } from './start.js';
import { LIST_USAGE, LOGS_USAGE, MONIT_USAGE, RELOAD_USAGE, RESTART_USAGE, STARTUP_USAGE, SCALE_USAGE, START_USAGE, STATUS_USAGE, STOP_USAGE, USAGE } from './usage.js';
import { runList } from './list-command.js';
import { runLogs } from './logs-command.js';
import { runMonit } from './monit-command.js';
import { runStartup } from './startup-command.js';
import { DetachedChild, reportingErrors } from './detach.js';

export { USAGE };

export { ProcessOutput, type CliOutput } from './output-sink.js';

interface Command {
  readonly usage: string;
  run(argv: readonly string[], io: CliOutput, detached?: DetachedChild): Promise<number>;
}

const COMMANDS: Readonly<Record<string, Command>> = {
  start: { usage: START_USAGE, run: runStart },
  status: { usage: STATUS_USAGE, run: runStatus },
  reload: { usage: RELOAD_USAGE, run: runReload },
  scale: { usage: SCALE_USAGE, run: runScale },
  stop: { usage: STOP_USAGE, run: runStop },
  list: { usage: LIST_USAGE, run: runList },
  ls: { usage: LIST_USAGE, run: runList },
  logs: { usage: LOGS_USAGE, run: runLogs },
  monit: { usage: MONIT_USAGE, run: (argv, io) => runMonit(argv, io) },
  restart: { usage: RESTART_USAGE, run: runRestart },
  startup: { usage: STARTUP_USAGE, run: runStartup },
};

/** Runs the command; returns the exit code. Errors and usage after an error go to `err`. */
export async function run(argv: readonly string[], io: CliOutput): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    // `corral help <command>`: that command's help.
    const about = command === 'help' ? rest[0] : undefined;
    if (about !== undefined && !Object.hasOwn(COMMANDS, about)) {
      io.err(`corral: no command '${about}'. The commands:\n\n${USAGE}`);
      return EXIT.USAGE;
    }
    io.out(about === undefined ? USAGE : COMMANDS[about]!.usage);
    return EXIT.OK;
  }
  if (command === 'version' || command === '--version' || command === '-v') {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    io.out(`${pkg.version}\n`);
    return EXIT.OK;
  }
  const entry = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (entry === undefined) {
    io.err(`corral: unknown command '${command}'. Run 'corral --help' for the commands.\n\n${USAGE}`);
    return EXIT.USAGE;
  }
  const flags = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (flags.includes('--help') || flags.includes('-h')) {
    io.out(entry.usage);
    return EXIT.OK;
  }
  // A primary started by `corral start -d` reports how its start went to the command that waits.
  const detached = command === 'start' ? DetachedChild.fromEnvironment() : undefined;
  const output = detached === undefined ? io : reportingErrors(io, detached);
  const code = await runCommand(command, entry, rest, output, detached);
  detached?.finished(code); // Nothing is sent if it was ready (its report went then).
  return code;
}

async function runCommand(command: string, entry: Command, rest: readonly string[], io: CliOutput, detached: DetachedChild | undefined): Promise<number> {
  try {
    return await entry.run(rest, io, detached);
  } catch (error) {
    if (error instanceof CliError) {
      io.err(`${error.message}\n`);
      return error.exitCode;
    }
    if (error instanceof ControlError) {
      io.err(`corral: ${error.message}\n`);
      return CONTROL_ERROR_EXIT[error.code];
    }
    // util.parseArgs' errors (unknown flag, missing value) are usage errors; its messages are clear.
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      io.err(`corral ${command}: ${(error as Error).message}\nRun 'corral ${command} --help' for its options.\n`);
      return EXIT.USAGE;
    }
    throw error;
  }
}
