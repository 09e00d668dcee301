/**
 * `corral.config.{mjs,js,cjs,json}` (and `.ts`, `.mts`, `.cts` where Node strips types): the same
 * options as createCluster() and the flags, plus the CLI's own `logPrefix` and `logFormat`. The
 * values are checked by the same code as createCluster()'s (managed/options.ts); this file only
 * finds and loads the file, and refuses keys nobody knows. Its JSON Schema is
 * corral.config.schema.json at the package root.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import util from 'node:util';
import { pathToFileURL } from 'node:url';
import { KNOWN_OPTIONS, OPTION_TABLE } from '../options/table.js';
import { CLI_KEY_TABLE } from './cli-options.js';
import { describeValue } from '../util/describe-value.js';
import { CliError, EXIT } from './exit-codes.js';
import { supportsTypeScript, TYPESCRIPT_EXTENSIONS } from './typescript.js';

export const CONFIG_NAMES = [
  'corral.config.mjs', 'corral.config.js', 'corral.config.cjs', 'corral.config.json',
  'corral.config.ts', 'corral.config.mts', 'corral.config.cts',
] as const;

/** Keys only the command line uses. */
export const CLI_ONLY_KEYS: ReadonlySet<string> = new Set(Object.keys(CLI_KEY_TABLE));

/** An environment profile's key: env_<name>. */
export const PROFILE_KEY = /^env_[A-Za-z0-9_-]+$/;

/** Keys whose values are paths: in a config file they are relative to the file. */
const PATH_KEYS: readonly string[] = [...Object.entries(OPTION_TABLE), ...Object.entries(CLI_KEY_TABLE)]
  .flatMap(([key, spec]) => ('path' in spec && spec.path === true ? [key] : []));

/**
 * How long a config module may take to load. Its top-level await could wait forever (and one that
 * never settles would otherwise let the process end silently, with code 0).
 */
export const CONFIG_LOAD_TIMEOUT = 10_000;

export interface LoadedConfig {
  readonly file: string;
  readonly values: Readonly<Record<string, unknown>>;
}

/** The config file named by --config, else the first of CONFIG_NAMES in `cwd`, else none. */
export function findConfig(explicit: string | undefined, cwd: string): string | undefined {
  if (explicit !== undefined) {
    const file = path.resolve(cwd, explicit);
    if (!existsSync(file)) throw new CliError(`corral: --config ${explicit}: no such file (looked for ${file}).`, EXIT.USAGE);
    return file;
  }
  return CONFIG_NAMES.map((name) => path.join(cwd, name)).find((file) => existsSync(file));
}

/** How many times config modules were loaded: a re-read (each reload) imports a new instance. */
let loads = 0;

export async function loadConfig(file: string): Promise<LoadedConfig> {
  const name = path.basename(file);
  let raw: unknown;
  if (file.endsWith('.json')) {
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new CliError(`corral: ${name} is not valid JSON: ${(error as Error).message}.`, EXIT.USAGE);
    }
  } else {
    if (TYPESCRIPT_EXTENSIONS.some((extension) => file.endsWith(extension)) && !supportsTypeScript()) {
      throw new CliError(`corral: cannot load ${name}: Node.js ${process.versions.node} does not run TypeScript files. ` +
        'Rename it to corral.config.mjs (or .js, .cjs, .json), or use Node.js 22.18 or later.', EXIT.USAGE);
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new CliError(`corral: ${name} did not finish loading within ${CONFIG_LOAD_TIMEOUT / 1000} s: ` +
        'its top-level code is still waiting (an await that never settles?). Make it settle, or compute the value before exporting it.', EXIT.USAGE)),
      CONFIG_LOAD_TIMEOUT);
    });
    try {
      // A query makes each load a new module instance (the loader caches by URL), and a CommonJS
      // file leaves require's cache first, so that a reload reads the file as it is now.
      delete createRequire(import.meta.url).cache[file];
      const url = `${pathToFileURL(file).href}?load=${++loads}`;
      const module = await Promise.race([import(url) as Promise<{ default?: unknown }>, timedOut]);
      raw = module.default;
    } catch (error) {
      if (error instanceof CliError) throw error;
      throw new CliError(`corral: cannot load ${name}: ${thrownText(error)}`, EXIT.USAGE);
    } finally {
      clearTimeout(timer);
    }
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new CliError(`corral: ${name} must export an object of options (export default { exec: './server.js', workers: 'max' }), ` +
      `got ${describeValue(raw)}.`, EXIT.USAGE);
  }
  const values: Record<string, unknown> = {};
  for (const key of Object.keys(raw)) {
    if (key === '$schema') continue;
    // `env_production`, `env_staging`…: environment profiles, chosen with --profile (as PM2's ecosystem file has them).
    if (!KNOWN_OPTIONS.has(key) && !CLI_ONLY_KEYS.has(key) && !PROFILE_KEY.test(key)) {
      throw new CliError(`corral: ${name}: unknown key \`${key}\`. The known keys are ` +
        `${[...KNOWN_OPTIONS, ...CLI_ONLY_KEYS].join(', ')}. Remove it or correct its spelling.`, EXIT.USAGE);
    }
    values[key] = snapshot(raw, key, key, name);
  }
  // Paths in the file are relative to the file, not to wherever corral was started.
  const dir = path.dirname(file);
  for (const key of PATH_KEYS) {
    const value = values[key];
    if (typeof value === 'string' && !value.startsWith('file:')) values[key] = path.resolve(dir, value);
    else if (Array.isArray(value)) values[key] = value.map((entry: unknown) => (typeof entry === 'string' ? path.resolve(dir, entry) : entry));
  }
  return { file, values };
}

/**
 * Reads `owner[key]` and, for plain objects and arrays, everything in it, once: a getter that
 * throws is reported with the key it sits at, and nothing later reads the config's live objects.
 */
function snapshot(owner: object, key: string, keyPath: string, name: string): unknown {
  let value: unknown;
  try {
    value = (owner as Record<string, unknown>)[key];
  } catch (error) {
    throw new CliError(`corral: ${name}: reading \`${keyPath}\` threw ${thrownText(error)}. Give it a plain value.`, EXIT.USAGE);
  }
  if (Array.isArray(value)) return value.map((_item, index) => snapshot(value, String(index), `${keyPath}[${index}]`, name));
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.keys(value).map((inner) => [inner, snapshot(value, inner, `${keyPath}.${inner}`, name)]));
  }
  return value;
}

/** What was thrown, in words: an Error's message, anything else as util.inspect shows it. */
function thrownText(error: unknown): string {
  return error instanceof Error ? error.message : `${util.inspect(error, { depth: 2, breakLength: Infinity })} (not an Error)`;
}
