/**
 * CORRAL_ENV_<KEY>: how a unit of `corral startup systemd` hands `corral start` the value of its
 * `--env KEY`. The unit's EnvironmentFile= cannot hold KEY itself: systemd sets those variables
 * in the environment of the whole service, corral's primary (often root) included, so that
 * NODE_OPTIONS would open the primary's inspector or preload code into it, CORRAL_LOG_DIR would
 * move its log, PATH would override the unit's own. Node and corral read no CORRAL_ENV_* name:
 * `corral start` takes them out of its environment first of all (before a config file, a
 * --primary module or a worker could see them), and `--env KEY` passes the value on to the
 * workers alone, as KEY, as `corral start --env KEY=VALUE` would.
 */

export const PASSED_ENV_PREFIX = 'CORRAL_ENV_';

/** The CORRAL_ENV_* variables takePassedEnvironment() took out of process.env, by their full names. */
const taken = new Map<string, string>();

/**
 * Takes every CORRAL_ENV_* variable out of `env` into corral's keeping: the workers, which inherit
 * the primary's environment, would otherwise get each value twice (as KEY, and under the prefix),
 * and the primary's own code would see them. Kept, not dropped: each reload reads `--env KEY`
 * again (start.ts), and a corral started from this one (-d) needs them (launchEnvironment()).
 */
export function takePassedEnvironment(env: NodeJS.ProcessEnv = process.env): void {
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(PASSED_ENV_PREFIX) || value === undefined) continue;
    taken.set(name, value);
    delete env[name];
  }
}

/** The CORRAL_ENV_* variables taken whose value an `--env KEY` took. */
const used = new Set<string>();

/** `name`'s value in the environment corral was started with (some of which takePassedEnvironment() holds now). */
function startValue(name: string): string | undefined {
  const value = taken.get(name);
  if (value === undefined) return process.env[name];
  used.add(name);
  return value;
}

/**
 * What `--env KEY` alone passes on: CORRAL_ENV_KEY's value if it is set (a unit's file), else
 * KEY's (`docker run -e KEY`, by hand). One rule for every KEY: `--env CORRAL_ENV_X` takes
 * CORRAL_ENV_CORRAL_ENV_X, else CORRAL_ENV_X, as they were when corral started.
 */
export function passedValue(key: string): string | undefined {
  return startValue(`${PASSED_ENV_PREFIX}${key}`) ?? startValue(key);
}

/**
 * The CORRAL_ENV_* variables taken that no `--env KEY` took: a line added to a unit's file without
 * its `--env KEY` in ExecStart reaches no worker, which corral says rather than drop it unsaid.
 */
export function unusedPassedNames(): string[] {
  return [...taken.keys()].filter((name) => !used.has(name));
}

/**
 * The environment corral was started with: `env` with the CORRAL_ENV_* variables taken back in.
 * For a `corral start` that this one starts (-d, several apps) or that `corral restart` starts
 * from this one's launch information: it takes them out again, and its `--env KEY` finds them.
 */
export function launchEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...env, ...Object.fromEntries(taken) };
}
