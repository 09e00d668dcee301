/**
 * How a worker's failed start is told: what corral knows of it (StartFailure), and the sentences
 * that say what happened and what to change. The options a message suggests are named in the
 * words of whoever set them (OptionWords): createCluster()'s keys by default, `corral start`'s
 * flags in its own lines.
 */

/** Why a worker failed to start: what corral knows of it, for the error message and for tools. */
export interface StartFailure {
  /** The slot it was meant to fill. */
  readonly slot: number;
  readonly workerId: number;
  readonly pid: number | undefined;
  /** It exited before it was ready, or its startTimeout passed (corral then SIGKILLed it). */
  readonly reason: 'exited' | 'timeout';
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** What readiness was awaited: 'listening', 'online' or 'manual'. */
  readonly readyWhen: string;
  readonly startTimeout: number;
  /** The last lines the worker wrote to stderr while starting (and the error it died of). */
  readonly stderr: string;
  /**
   * On a timeout: the worker was alive when its startTimeout passed, its event loop turning (its
   * runtime had reported lately), so it was not stuck or crashed but waiting for something that
   * never came. Absent or false when corral could not tell (no report yet, or reportInterval 0).
   */
  readonly alive?: boolean;
}

/** How a message names the options it suggests. */
export interface OptionWords {
  /** readyWhen set to `value`: `readyWhen: 'online'`, or `--ready online`. */
  readyWhen(value: 'online' | 'manual'): string;
  /** startTimeout: `startTimeout`, or `--start-timeout`. */
  readonly startTimeout: string;
}

/** createCluster()'s option keys. */
export const OPTION_KEYS: OptionWords = {
  readyWhen: (value) => `readyWhen: '${value}'`,
  startTimeout: 'startTimeout',
};

/** One sentence or two saying how a start failed, and what to change. */
export function describeStartFailure(failure: StartFailure, words: OptionWords = OPTION_KEYS): string {
  const who = `the worker for slot ${failure.slot} (pid ${failure.pid ?? 'none'})`;
  if (failure.reason === 'exited') {
    const how = failure.signal !== null ? `was killed by ${failure.signal}` : `exited with code ${failure.exitCode}`;
    return `${who} ${how} before it was ready.`;
  }
  const within = `within ${failure.startTimeout} ms (${words.startTimeout}), so corral stopped it.`;
  const alive = failure.alive === true ? 'was alive, its event loop turning, but ' : '';
  if (failure.readyWhen === 'online') {
    return `${who} did not come online ${within} Raise ${words.startTimeout} if the machine is slow to start workers.`;
  }
  if (failure.readyWhen === 'manual') {
    // PM2's wait_ready signal counts as well as corral's own: an app may use either.
    return `${who} ${alive}did not call ready() from corral/worker nor process.send('ready') ${within} ` +
      `With ${words.readyWhen('manual')} the app says that it can take traffic in one of these two ways: ` +
      `call one once it is ready, or raise ${words.startTimeout} if it needs longer.`;
  }
  if (failure.alive === true) {
    return `${who} ${alive}did not listen on a port ${within} An app that serves no port (a queue consumer, ` +
      `a scheduled job) needs ${words.readyWhen('online')}: its workers are ready once they run. ` +
      `One that listens only after a slow start needs a longer ${words.startTimeout}.`;
  }
  return `${who} did not listen on a port ${within} Raise ${words.startTimeout} if the app needs longer to start, ` +
    `or use ${words.readyWhen('online')} if it serves no port.`;
}

/** `message` followed by the worker's last stderr lines, indented. */
export function withStderr(message: string, stderr: string): string {
  return stderr === '' ? message : `${message}\nLast lines of its stderr:\n${stderr.replace(/^/gm, '  | ')}`;
}

/** The message of StartFailedError: the cluster's first start failed after `attempts` failed starts of a slot. */
export function startFailedText(failure: StartFailure, attempts: number, words: OptionWords = OPTION_KEYS): string {
  const gaveUp = `It failed ${attempts} time${attempts === 1 ? '' : 's'} in a row (startAttempts), so corral gave up.`;
  return withStderr(`The cluster could not start: ${describeStartFailure(failure, words)} ${gaveUp}`, failure.stderr);
}

/** The message of ReloadFailedError: a replacement failed to start; `replaced` slots already run the new code. */
export function reloadFailedText(failure: StartFailure, replaced: readonly number[], words: OptionWords = OPTION_KEYS): string {
  return withStderr(
    `The reload stopped: ${describeStartFailure(failure, words)} The failed replacement was removed; ` +
    `${replaced.length === 0 ? 'every slot keeps its old worker' : `slots ${replaced.join(', ')} run the new code, the others keep their old workers`}, ` +
    'and all of them keep serving. Fix the app and reload again.',
    failure.stderr);
}
