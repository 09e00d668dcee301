/**
 * The file a corral unit's `EnvironmentFile=` names: the `--env` values of `corral startup
 * systemd`, kept out of the unit (world-readable, and shown by `systemctl cat` to anyone) and out
 * of the command line (`ps`, `systemctl show`). Where it goes, its text in systemd's syntax, and
 * writing it readable by its owner alone.
 */
import os from 'node:os';
import path from 'node:path';
import { ENV_NAME } from '../options/flag-parsers.js';
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

/**
 * The text of the file, one `KEY="value"` line each, as systemd writes such files itself
 * (write_env_file() in its env-file.c): inside double quotes, `"`, `\`, `` ` `` and `$` are
 * escaped with a backslash, and everything else, newlines and `%` included, is the value as it
 * is (systemd expands no specifiers and no variables in the file's values). Names systemd would
 * drop (anything but letters, digits and `_`, or a leading digit) are refused here instead.
 */
export function environmentFileText(env: ReadonlyMap<string, string>): string {
  const lines = ["# Written by 'corral startup systemd': the --env values of the unit that names this file", '# in EnvironmentFile=. Readable by its owner alone (mode 0600): keep it so.'];
  for (const [key, value] of env) {
    if (!ENV_NAME.test(key)) {
      throw new CliError(`corral startup: --env ${key}=…: systemd's EnvironmentFile= takes only names of letters, digits and underscores, ` +
        'not starting with a digit, and would drop this one. Rename the variable (e.g. ' +
        `${key.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(\d)/, '_$1') || 'MY_VAR'}).`, EXIT.USAGE);
    }
    lines.push(`${key}=${quoteEnvironmentValue(value)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** A value in double quotes, for systemd's EnvironmentFile= syntax (see environmentFileText). */
export function quoteEnvironmentValue(value: string): string {
  return `"${value.replace(/["\\`$]/g, '\\$&')}"`;
}
