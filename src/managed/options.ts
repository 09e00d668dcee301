/**
 * Options of `createCluster()`: the public types and normalizeOptions(), both derived from the
 * option table (src/options/table.ts), where each option is declared once.
 */
import { InvalidOptionError } from '../errors.js';
import {
  KNOWN_OPTIONS, OPTION_TABLE, type InputOf, type OptionTable, type OutputOf,
} from '../options/table.js';
import { isPlainObject } from '../util/validators.js';

export {
  DEFAULT_CRASH_LOOP, DEFAULT_RESTART, KNOWN_OPTIONS, MAX_WORKERS, MIN_REPORT_INTERVAL,
  normalizeBalancer, normalizeName, normalizeWorkerCount,
  type CrashLoopOptions, type ReadyWhen, type RestartOptions,
} from '../options/table.js';
export { MAX_TIMEOUT, timeout } from '../util/validators.js';

/** What createCluster() takes: `exec`, and any other option of the table. */
export type ClusterOptions = { [Key in keyof OptionTable]?: InputOf<OptionTable[Key]> } & {
  /** The worker script: a path (absolute or relative to `cwd`) or a `file:` URL. */
  exec: string | URL;
};

/** Every option, checked and with its default filled in (`cluster.options`). */
export type ResolvedClusterOptions = { readonly [Key in keyof OptionTable]: OutputOf<OptionTable[Key]> };

export function normalizeOptions(options: unknown): ResolvedClusterOptions {
  if (!isPlainObject(options)) {
    throw new InvalidOptionError('options', 'an object such as { exec: "./server.js" }', options);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw new InvalidOptionError(key, `one of the known options (${[...KNOWN_OPTIONS].join(', ')})`, options[key],
        'Remove it or correct its spelling.');
    }
  }
  const resolved: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(OPTION_TABLE)) resolved[key] = spec.resolve(options[key], options);
  return resolved as ResolvedClusterOptions;
}
