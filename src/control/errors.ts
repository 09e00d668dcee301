/**
 * What can go wrong on the control plane (the run directory, the control socket, finding an
 * app). Coded CorralErrors: `corral`'s CLI maps each code to its exit code (cli/exit-codes.ts);
 * this layer knows nothing of exit codes.
 */
import { CorralError } from '../errors.js';

export type ControlErrorCode =
  /** The run directory is not a directory, belongs to another user, or cannot be read. */
  | 'CORRAL_ERR_RUN_DIR'
  /** The socket path would exceed the Unix socket path limit. */
  | 'CORRAL_ERR_SOCKET_PATH'
  /** No app of that name runs (or several run and none was named). */
  | 'CORRAL_ERR_APP_NOT_RUNNING'
  /** An app of that name already runs. */
  | 'CORRAL_ERR_APP_RUNNING'
  /** The control socket refused us or failed. */
  | 'CORRAL_ERR_CONTROL_SOCKET';

export class ControlError extends CorralError {
  declare readonly code: ControlErrorCode;

  constructor(code: ControlErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}
