/**
 * Every error corral throws or emits. Each carries a stable `code` (branch on it, not on the
 * message), and each message names the bad value and how to fix it.
 */

import { reloadFailedText, startFailedText, type OptionWords, type StartFailure } from './start-failure.js';
import { describeValue } from './util/describe-value.js';

export { describeStartFailure, type OptionWords, type StartFailure } from './start-failure.js';

const kCorralError = Symbol.for('corral.error');

export type CorralErrorCode =
  | 'CORRAL_ERR_INVALID_OPTION'
  | 'CORRAL_ERR_INVALID_WORKER_COUNT'
  | 'CORRAL_ERR_INVALID_BALANCER'
  | 'CORRAL_ERR_EXEC_NOT_FOUND'
  | 'CORRAL_ERR_SETTINGS_FROZEN'
  | 'CORRAL_ERR_WORKER_NOT_CONNECTED'
  | 'CORRAL_ERR_CLUSTER_CLOSED'
  | 'CORRAL_ERR_CANCELLED'
  | 'CORRAL_ERR_INVALID_CONTROL_FRAME'
  | 'CORRAL_ERR_UNSUPPORTED_NODE'
  | 'CORRAL_ERR_START_FAILED'
  | 'CORRAL_ERR_RELOAD_FAILED'
  | 'CORRAL_ERR_BUSY'
  | 'CORRAL_ERR_NODE_CLUSTER_IN_USE'
  | 'CORRAL_ERR_PRIMARY_MODULE'
  | 'CORRAL_ERR_ADMIN_LISTEN'
  | 'CORRAL_ERR_LOG_FILE'
  // The control plane's (src/control/errors.ts), which the CLI reports.
  | 'CORRAL_ERR_RUN_DIR'
  | 'CORRAL_ERR_SOCKET_PATH'
  | 'CORRAL_ERR_APP_NOT_RUNNING'
  | 'CORRAL_ERR_APP_RUNNING'
  | 'CORRAL_ERR_CONTROL_SOCKET';

/**
 * Base class. `instanceof CorralError` also holds across duplicate installs of corral, and for the
 * `CORRAL_ERR_UNSUPPORTED_NODE` error thrown on load (support/node-version.cts), which must load
 * on any Node and so cannot extend this class.
 */
export class CorralError extends Error {
  readonly code: CorralErrorCode;

  constructor(code: CorralErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    // The class name, on the instance but not enumerable, like Node's own errors' `name`.
    Object.defineProperty(this, 'name', { value: new.target.name, configurable: true, writable: true });
  }

  get [kCorralError](): true {
    return true;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== CorralError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && kCorralError in value;
  }
}

/** An option or setting has the wrong type or value. */
export class InvalidOptionError extends CorralError {
  declare readonly code: 'CORRAL_ERR_INVALID_OPTION';
  readonly option: string;

  constructor(option: string, expected: string, actual: unknown, fix?: string) {
    super('CORRAL_ERR_INVALID_OPTION',
      `Expected \`${option}\` to be ${expected}, got ${describeValue(actual)}.${fix ? ` ${fix}` : ''}`);
    this.option = option;
  }
}

/** `workers` is neither a positive integer nor `'auto'`. */
export class InvalidWorkerCountError extends CorralError {
  declare readonly code: 'CORRAL_ERR_INVALID_WORKER_COUNT';

  constructor(actual: unknown, cpus: number) {
    super('CORRAL_ERR_INVALID_WORKER_COUNT',
      `Expected \`workers\` to be a whole number from 1 to 1024, 'auto' or 'max', or -N, got ${describeValue(actual)}. ` +
      `Use 'auto' (or 'max') for one worker per CPU (${cpus} on this machine), -1 for all but one, or a whole number such as ${cpus}.`);
  }
}

/** `balancer` names no balancer corral has. */
export class InvalidBalancerError extends CorralError {
  declare readonly code: 'CORRAL_ERR_INVALID_BALANCER';

  constructor(actual: unknown, known: readonly string[]) {
    super('CORRAL_ERR_INVALID_BALANCER',
      `Expected \`balancer\` to be one of ${known.map((name) => `'${name}'`).join(', ')}, ` +
      `or a balancer of your own ({ name, createStrategy }), got ${describeValue(actual)}. 'round-robin' (the default) hands each connection to the ` +
      `longest-idle worker; 'least-connections' to the one with the fewest open connections; 'sticky' to the same worker for the same client; ` +
      `'shared' lets the kernel pick (node:cluster's SCHED_NONE); 'reuseport' gives each worker its own socket and the kernel spreads connections over them.`);
  }
}

/** The worker script (`exec`) is missing or cannot be read. */
export class ExecNotFoundError extends CorralError {
  declare readonly code: 'CORRAL_ERR_EXEC_NOT_FOUND';
  readonly exec: string | undefined;
  readonly resolved: string | undefined;

  constructor(exec: string | undefined, resolved: string | undefined, reason: string, cause?: unknown) {
    super('CORRAL_ERR_EXEC_NOT_FOUND',
      exec === undefined
        ? 'No worker script to fork: `exec` is not set and the primary has no script path ' +
          '(process.argv[1] is empty, as when started with -e or a REPL). ' +
          'Pass the worker script with setupPrimary({ exec: "./worker.js" }) or the `exec` option.'
        : `Cannot fork the worker script \`${exec}\` (resolved to ${resolved ?? exec}): ${reason}. ` +
          'Pass `exec` as the path of a readable JavaScript file, absolute or relative to `cwd`.',
      cause === undefined ? undefined : { cause });
    this.exec = exec;
    this.resolved = resolved;
  }
}

/** A setting was changed after it froze (`schedulingPolicy` freezes at the first fork/setup). */
export class SettingsFrozenError extends CorralError {
  declare readonly code: 'CORRAL_ERR_SETTINGS_FROZEN';

  constructor(setting: string, current: string, fix: string) {
    super('CORRAL_ERR_SETTINGS_FROZEN',
      `\`${setting}\` can no longer change: it froze at the first fork() or setupPrimary() and is ${current}. ${fix}`);
  }
}

/** A message was sent to a worker whose IPC channel is closed (it disconnected or exited). */
export class WorkerNotConnectedError extends CorralError {
  declare readonly code: 'CORRAL_ERR_WORKER_NOT_CONNECTED';
  readonly workerId: number;

  constructor(workerId: number, pid: number | undefined, state: string) {
    super('CORRAL_ERR_WORKER_NOT_CONNECTED',
      `Cannot send to worker ${workerId} (pid ${pid ?? 'unknown'}): its IPC channel is closed ` +
      `(state '${state}'). Check worker.isConnected() before sending, or stop sending on its ` +
      `'disconnect' event; a restarted worker is a new Worker object.`);
    this.workerId = workerId;
  }
}

/** The managed cluster was closed (or is closing), so it cannot start or become ready. */
export class ClusterClosedError extends CorralError {
  declare readonly code: 'CORRAL_ERR_CLUSTER_CLOSED';

  constructor(action: string) {
    super('CORRAL_ERR_CLUSTER_CLOSED',
      `Cannot ${action}: the cluster was closed. Create a new cluster with createCluster() to start again.`);
  }
}

/**
 * A reload, scale or recycle that was under way or waiting when the cluster began to stop: the
 * stop cancels it (its new workers are stopped with the rest). Not a failure of the app.
 */
export class OperationCancelledError extends CorralError {
  declare readonly code: 'CORRAL_ERR_CANCELLED';
  /** What was cancelled: 'reload', 'scale', 'recycle'. */
  readonly action: string;

  constructor(action: string) {
    super('CORRAL_ERR_CANCELLED', `The ${action} was cancelled: the app began to stop before it finished, ` +
      'and its new workers were stopped with the rest.');
    this.action = action;
  }
}

/** A worker sent a `NODE_CLUSTER` frame corral cannot act on. Reported as a process warning. */
export class InvalidControlFrameError extends CorralError {
  declare readonly code: 'CORRAL_ERR_INVALID_CONTROL_FRAME';

  constructor(workerId: number, act: unknown, problem: string) {
    super('CORRAL_ERR_INVALID_CONTROL_FRAME',
      `Worker ${workerId} sent a malformed cluster control frame (act ${describeValue(act)}): ${problem}. ` +
      "The frame was refused. Messages with cmd 'NODE_CLUSTER' are reserved for node:cluster's " +
      'protocol; user code should send messages without a `cmd` starting with NODE_.');
  }
}

/** The cluster's first start failed: a slot's worker could not start `attempts` times in a row. */
export class StartFailedError extends CorralError {
  declare readonly code: 'CORRAL_ERR_START_FAILED';
  readonly failure: StartFailure;
  readonly attempts: number;

  constructor(failure: StartFailure, attempts: number) {
    super('CORRAL_ERR_START_FAILED', startFailedText(failure, attempts));
    this.failure = failure;
    this.attempts = attempts;
  }

  /** @internal The message with the options it suggests named in `words` (`corral start`'s flags). */
  messageIn(words: OptionWords): string {
    return startFailedText(this.failure, this.attempts, words);
  }
}

/** A rolling reload stopped because a replacement failed to start; the old workers kept serving. */
export class ReloadFailedError extends CorralError {
  declare readonly code: 'CORRAL_ERR_RELOAD_FAILED';
  readonly failure: StartFailure;
  /** Slots that had been replaced with new workers before the failure. */
  readonly replaced: readonly number[];

  constructor(failure: StartFailure, replaced: readonly number[]) {
    super('CORRAL_ERR_RELOAD_FAILED', reloadFailedText(failure, replaced));
    this.failure = failure;
    this.replaced = replaced;
  }

  /** @internal The message with the options it suggests named in `words` (`corral start`'s flags). */
  messageIn(words: OptionWords): string {
    return reloadFailedText(this.failure, this.replaced, words);
  }
}

/** An operation was asked for while the cluster cannot take it (closing, or not started). */
export class ClusterBusyError extends CorralError {
  declare readonly code: 'CORRAL_ERR_BUSY';

  constructor(action: string, state: string) {
    super('CORRAL_ERR_BUSY', `Cannot ${action} while the cluster is ${state}. ${state === 'idle' ? 'Call start() first.' : 'Wait until it is running.'}`);
  }
}

/**
 * corral loaded in a primary where Node's own node:cluster primary had already forked workers:
 * those workers belong to Node's primary, which corral cannot take over, and two primaries in one
 * process would each see half of the cluster.
 */
export class NodeClusterInUseError extends CorralError {
  declare readonly code: 'CORRAL_ERR_NODE_CLUSTER_IN_USE';

  constructor(workers: number) {
    super('CORRAL_ERR_NODE_CLUSTER_IN_USE',
      `corral was loaded after Node's own node:cluster primary had forked ${workers} worker${workers === 1 ? '' : 's'}, ` +
      'so it cannot become this process\'s cluster primary. Load corral before the first cluster.fork(): ' +
      "require('corral') or import 'corral' at the top of the entry file, or start with `node --import corral/register`.");
  }
}

/** The module `--primary` (or the config's `primary`) names could not be loaded, or threw. */
export class PrimaryModuleError extends CorralError {
  declare readonly code: 'CORRAL_ERR_PRIMARY_MODULE';
  readonly file: string;

  constructor(file: string, reason: string, cause?: unknown) {
    super('CORRAL_ERR_PRIMARY_MODULE', `The primary module ${file} ${reason}`, cause === undefined ? undefined : { cause });
    this.file = file;
  }
}

/** The admin port could not be opened (in use, not permitted, no such address). */
export class AdminListenError extends CorralError {
  declare readonly code: 'CORRAL_ERR_ADMIN_LISTEN';
  readonly address: { host: string; port: number };

  constructor(address: { host: string; port: number }, cause: NodeJS.ErrnoException) {
    const where = `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
    const why = cause.code === 'EADDRINUSE' ? 'the port is in use'
      : cause.code === 'EACCES' ? 'this user may not listen there'
        : cause.code === 'EADDRNOTAVAIL' || cause.code === 'ENOTFOUND' ? 'this machine has no such address' : (cause.code ?? cause.message);
    super('CORRAL_ERR_ADMIN_LISTEN', `The admin server cannot listen on ${where}: ${why}. Choose another admin address (--admin <[host:]port>), or 0 for any free port.`, { cause });
    this.address = address;
  }
}

/**
 * The log directory or an app's log file cannot be trusted (a symlink, another user's, open to
 * others, hard-linked, not a regular file) or cannot be opened (cli/safe-log-open.ts). Refused,
 * never repaired: `corral start` exits 2 with the path, what is wrong and the fix.
 */
export class LogFileError extends CorralError {
  declare readonly code: 'CORRAL_ERR_LOG_FILE';
  /** The log directory or log file at fault. */
  readonly path: string;

  constructor(file: string, message: string, cause?: unknown) {
    super('CORRAL_ERR_LOG_FILE', message, cause === undefined ? undefined : { cause });
    this.path = file;
  }
}
