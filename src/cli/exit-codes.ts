import type { ControlErrorCode } from '../control/errors.js';

/** The `corral` command's exit codes (documented in the README). */
export const EXIT = {
  /** Done; for `start`, the cluster stopped cleanly. */
  OK: 0,
  /** The app failed: it could not start, a reload failed, or a worker had to be killed at shutdown. */
  APP_FAILED: 1,
  /** Bad usage: unknown command or flag, invalid option, invalid config file; a log directory or log file corral cannot trust. */
  USAGE: 2,
  /** No running app matched the name (or several run and none was named). */
  NOT_RUNNING: 3,
  /** `corral start`: an app of that name already runs for this user. */
  ALREADY_RUNNING: 4,
  /** The control socket could not be used: refused, or it answered something corral cannot read. */
  CONTROL_FAILED: 5,
} as const;

/** A failure that ends the command with `exitCode` and prints `message`. */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** The exit code for each control-plane error (src/control/errors.ts). */
export const CONTROL_ERROR_EXIT: Readonly<Record<ControlErrorCode, number>> = {
  CORRAL_ERR_RUN_DIR: EXIT.CONTROL_FAILED,
  CORRAL_ERR_SOCKET_PATH: EXIT.USAGE,
  CORRAL_ERR_APP_NOT_RUNNING: EXIT.NOT_RUNNING,
  CORRAL_ERR_APP_RUNNING: EXIT.ALREADY_RUNNING,
  CORRAL_ERR_CONTROL_SOCKET: EXIT.CONTROL_FAILED,
};
