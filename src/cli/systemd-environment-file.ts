/**
 * The file a corral unit's `EnvironmentFile=` names: the `--env` values of `corral startup
 * systemd`, kept out of the unit (world-readable, and shown by `systemctl cat` to anyone) and out
 * of the command line (`ps`, `systemctl show`). Where it goes, its text in systemd's syntax, and
 * writing it readable by its owner alone. Each value goes under CORRAL_ENV_<KEY>, not KEY:
 * systemd sets these variables on corral's primary too, and `corral start` gives them to the
 * workers alone (passed-env.ts).
 */
import os from 'node:os';
import path from 'node:path';
import { ENV_NAME } from '../options/flag-parsers.js';
import { PASSED_ENV_PREFIX } from '../options/passed-env.js';
import { CliError, EXIT } from './exit-codes.js';

/**
 * Where the values of app `name` go. A system unit's: /etc/corral/<name>.env, beside the other
 * configuration of this machine, as packages keep theirs (/etc/default/<name>,
 * /etc/sysconfig/<name>) and where an admin looks for what a unit's EnvironmentFile= reads; not
 * in /etc/systemd/system, which holds units and drop-ins (a drop-in's Environment= lines are
 * shown to any user by `systemctl show`). A user unit's: the same under ~/.config/corral.
 * systemd reads the file as root (system units) or as the user, before the service starts, so
 * mode 0600 hides it from everyone else without hiding it from systemd.
 */
export function environmentFilePath(name: string, user: boolean): string {
  return user ? path.join(os.homedir(), '.config', 'corral', `${name}.env`) : path.join('/etc/corral', `${name}.env`);
}

/** The name under which the file holds the value of `--env KEY`, for `corral start --env KEY` to take. */
export function environmentFileName(key: string): string {
  return `${PASSED_ENV_PREFIX}${key}`;
}

/**
 * The text of the file, one `CORRAL_ENV_KEY="value"` line each, as systemd writes such files itself
 * (write_env_file() in its env-file.c): inside double quotes, `"`, `\`, `` ` `` and `$` are
 * escaped with a backslash, and everything else, newlines and `%` included, is the value as it
 * is (systemd expands no specifiers and no variables in the file's values). Other names than
 * letters, digits and `_` not starting with a digit are refused here: systemd would drop them from
 * the file, and ExecStart's `--env KEY` alone takes no other name (with the prefix, `1A` would
 * pass systemd and still not reach the workers).
 */
export function environmentFileText(env: ReadonlyMap<string, string>): string {
  const lines = [
    "# Written by 'corral startup systemd': the --env values of the unit that names this file",
    '# in EnvironmentFile=. Readable by its owner alone (mode 0600): keep it so. CORRAL_ENV_KEY is',
    "# the value of --env KEY: corral gives it to the app's workers as KEY, never to itself.",
  ];
  for (const [key, value] of env) {
    if (!ENV_NAME.test(key)) {
      throw new CliError(`corral startup: --env ${key}=…: a unit passes on only variables named with letters, digits and underscores, ` +
        "not starting with a digit (systemd's EnvironmentFile= drops other names, and --env KEY alone takes no other). Rename the variable (e.g. " +
        `${key.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(\d)/, '_$1') || 'MY_VAR'}).`, EXIT.USAGE);
    }
    lines.push(`${environmentFileName(key)}=${quoteEnvironmentValue(value)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** A value in double quotes, for systemd's EnvironmentFile= syntax (see environmentFileText). */
export function quoteEnvironmentValue(value: string): string {
  return `"${value.replace(/["\\`$]/g, '\\$&')}"`;
}
