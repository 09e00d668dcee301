/**
 * How a flag's text becomes an option's raw value, before the option's own check (table.ts):
 * `-i 4` → 4, `--env A=1 --env B=2` → { A: '1', B: '2' }, `--node-args "--inspect --x"` → an array.
 */
import path from 'node:path';
import { describeValue } from '../util/describe-value.js';
import { PASSED_ENV_PREFIX, passedValue } from './passed-env.js';

/** A flag value that cannot be read at all (the CLI reports it as a usage error). */
export class FlagValueError extends Error {}

export interface FlagContext {
  /** The option's value so far (from the config file), for flags that add to it. */
  readonly current: unknown;
  /** Where corral was started: paths given as flags are relative to it. */
  readonly cwd: string;
}

export type FlagParser = (text: string | readonly string[], context: FlagContext) => unknown;

/** '4' → 4, '-1' → -1; anything else stays text for the option's check to name. */
export const numberOrText: FlagParser = (text) => {
  const value = String(text);
  return /^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value;
};

/** An environment variable's name as shells and systemd's EnvironmentFile= take it. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Repeated KEY=VALUE flags, added over the config file's `env`. `--env KEY` alone takes the value
 * CORRAL_ENV_KEY has in corral's own environment, else KEY's, as `docker run -e KEY` does: the
 * value then stays out of the command line (`ps`), and a systemd unit passes it in
 * EnvironmentFile= under the prefixed name (startup-command.ts, passed-env.ts), for the workers
 * alone, while --env keeps its place above the config file's env.
 */
export const environment: FlagParser = (text, { current }) => {
  const env: Record<string, string> = {};
  for (const entry of typeof text === 'string' ? [text] : text) {
    const equals = entry.indexOf('=');
    const passed = equals === -1 && ENV_NAME.test(entry) ? passedValue(entry) : undefined;
    if (passed !== undefined) {
      env[entry] = passed;
      continue;
    }
    if (equals <= 0) {
      // PM2's `--env production` picks an env_production block; corral's --env sets one variable.
      const pm2 = /^[a-z][a-z0-9_-]*$/.test(entry)
        ? ` (PM2's '--env ${entry}' picks the env_${entry} block of its ecosystem file: here that is --profile ${entry}; --env sets one variable, e.g. --env NODE_ENV=${entry})`
        : '';
      const unset = equals === -1 && ENV_NAME.test(entry) ? `, which is not set in corral's environment to pass on, nor is ${PASSED_ENV_PREFIX}${entry}` : '';
      throw new FlagValueError(`--env takes KEY=VALUE, or KEY alone to pass on the value KEY has in corral's environment; got ${describeValue(entry)}${unset}${pm2}. ` +
        'For example --env NODE_ENV=production.');
    }
    env[entry.slice(0, equals)] = entry.slice(equals + 1);
  }
  return { ...(current as object | undefined), ...env };
};

/** Splits Node options like a shell would for simple cases: spaces separate, quotes group. */
export function splitArgs(text: string): string[] {
  const args: string[] = [];
  const pattern = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    args.push(match[1] ?? match[2] ?? match[3] ?? '');
  }
  return args;
}

export const argumentList: FlagParser = (text) => splitArgs(String(text));

/** A path, relative to where corral was started. */
export const pathFromCwd: FlagParser = (text, { cwd }) => path.resolve(cwd, String(text));

/** Repeated paths, each relative to where corral was started. */
export const pathsFromCwd: FlagParser = (text, { cwd }) => (typeof text === 'string' ? [text] : [...text]).map((entry) => path.resolve(cwd, entry));
