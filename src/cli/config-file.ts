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
import { KNOWN_OPTIONS, normalizeName, OPTION_TABLE } from '../options/table.js';
import { PM2_FILE_KEYS, PM2_KEYS, PM2_SHAPES } from './pm2-keys.js';
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

/** One app of a config file: its values, in corral's keys, with paths made absolute. */
export interface ConfigApp {
  /** Where it is, for messages: `ecosystem.config.js: apps[1]`, or the file's name. */
  readonly where: string;
  readonly values: Readonly<Record<string, unknown>>;
  /** The keys the file wrote under PM2's names, by the corral key each set (`exec` → `script`), for messages. */
  readonly written: ReadonlyMap<string, string>;
  /** PM2 keys left out because they change nothing here, each with the reason (said at the start). */
  readonly notes: readonly string[];
}

export interface LoadedConfig {
  readonly file: string;
  /** One app, or the entries of `apps` (PM2's ecosystem form). */
  readonly apps: readonly ConfigApp[];
  /** Keys beside `apps` that change nothing here (PM2's `deploy`), with the reason. */
  readonly notes: readonly string[];
}

/** The config file named by --config, else the first of CONFIG_NAMES in `cwd`, else none. */
export function findConfig(explicit: string | undefined, cwd: string, label = `--config ${explicit}`): string | undefined {
  if (explicit !== undefined) {
    const file = path.resolve(cwd, explicit);
    if (!existsSync(file)) throw new CliError(`corral: ${label}: no such file (looked for ${file}).`, EXIT.USAGE);
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
        'its top-level code, or the Promise it exports, is still waiting (an await that never settles?). Make it settle, ' +
        'or compute the value before exporting it.', EXIT.USAGE)),
      CONFIG_LOAD_TIMEOUT);
    });
    try {
      // A query makes each load a new module instance (the loader caches by URL), and a CommonJS
      // file leaves require's cache first, so that a reload reads the file as it is now.
      delete createRequire(import.meta.url).cache[file];
      const url = `${pathToFileURL(file).href}?load=${++loads}`;
      const module = await Promise.race([import(url) as Promise<{ default?: unknown }>, timedOut]);
      raw = await exported(module.default, name, timedOut);
    } catch (error) {
      if (error instanceof CliError) throw error;
      throw new CliError(`corral: cannot load ${name}: ${thrownText(error)}`, EXIT.USAGE);
    } finally {
      clearTimeout(timer);
    }
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new CliError(`corral: ${name} must export an object of options (export default { exec: './server.js', workers: 'max' }), ` +
      `or of apps (module.exports = { apps: [{ name: 'api', script: './api.js' }, …] }), got ${describeValue(raw)}.`, EXIT.USAGE);
  }
  if (!Object.hasOwn(raw, 'apps')) return { file, apps: [readApp(raw, name, name, path.dirname(file), false)], notes: [] };
  // PM2's ecosystem form: { apps: [...] }, each entry an app of its own.
  const notes: string[] = [];
  for (const key of Object.keys(raw)) {
    if (key === 'apps' || key === '$schema') continue;
    const note = PM2_FILE_KEYS[key];
    if (note === undefined) {
      throw new CliError(`corral: ${name}: \`${key}\` beside \`apps\`: settings go into each app (apps: [{ name: 'api', ${key}: … }]).`, EXIT.USAGE);
    }
    notes.push(`${key} (${note})`);
  }
  const list = snapshot(raw, 'apps', 'apps', name);
  if (!Array.isArray(list) || list.length === 0) {
    throw new CliError(`corral: ${name}: apps: expected a list of apps (apps: [{ name: 'api', script: './api.js' }]), got ${describeValue(list)}.`, EXIT.USAGE);
  }
  const apps = list.map((entry: unknown, index) => {
    const where = `${name}: apps[${index}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new CliError(`corral: ${where}: expected an app's settings ({ name: 'api', script: './api.js' }), got ${describeValue(entry)}.`, EXIT.USAGE);
    }
    return readApp(entry, where, name, path.dirname(file), true);
  });
  const seen = new Map<string, string>();
  for (const app of apps) {
    const appName = appNameOf(app.values);
    const other = seen.get(appName);
    if (other !== undefined) {
      throw new CliError(`corral: ${other} and ${app.where} are both named ${appName}: each app runs as its own primary, under its own name. ` +
        'Give each a name of its own (name: \'api\').', EXIT.USAGE);
    }
    seen.set(appName, app.where);
  }
  return { file, apps, notes };
}

/**
 * A config module's export, awaited when it is a Promise (`export default loadSecrets()`, an async
 * IIFE), as vite's and eslint's config files may be: read as an object, a Promise has no options
 * and its rejection would go unheard. The same load timeout bounds it.
 */
async function exported(value: unknown, name: string, timedOut: Promise<never>): Promise<unknown> {
  if (!isThenable(value)) return value;
  try {
    return await Promise.race([value, timedOut]);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`corral: ${name} exports a Promise, which rejected: ${thrownText(error).replace(/\.?$/, '.')} ` +
      'Make it resolve to the options (export default { exec: \'./server.js\' }), or export them directly.', EXIT.USAGE);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** The name an app of a config file runs under: its `name`, else its script's base name (as createCluster() gives it). */
export function appNameOf(values: Readonly<Record<string, unknown>>): string {
  const name = values['name'];
  if (typeof name === 'string') return name;
  return normalizeName(undefined, typeof values['exec'] === 'string' ? values['exec'] : 'app');
}

/**
 * One app's keys: corral's, the CLI's, env_<profile> blocks, and PM2's (pm2-keys.ts), checked and
 * translated into corral's. Paths are made absolute: relative to the file, and a PM2 `script`
 * relative to the app's `cwd` when it has one (as PM2 resolves it).
 */
function readApp(raw: object, where: string, fileName: string, dir: string, listed: boolean): ConfigApp {
  const values: Record<string, unknown> = {};
  const notes: string[] = [];
  const translated: { key: string; pm2: string; value: unknown }[] = [];
  for (const key of Object.keys(raw)) {
    if (key === '$schema') continue;
    const value = snapshot(raw, key, key, fileName);
    // `env_production`, `env_staging`…: environment profiles, chosen with --profile (as PM2's ecosystem file has them).
    if (KNOWN_OPTIONS.has(key) || CLI_ONLY_KEYS.has(key) || PROFILE_KEY.test(key)) {
      values[key] = PM2_SHAPES[key]?.(value) ?? value;
      continue;
    }
    const translate = PM2_KEYS[key];
    if (translate === undefined) {
      throw new CliError(`corral: ${where}: unknown key \`${key}\`. The known keys are ` +
        `${[...KNOWN_OPTIONS, ...CLI_ONLY_KEYS].join(', ')}, env_<profile>, and PM2's ecosystem keys (the README's "Coming from PM2"). ` +
        'Remove it or correct its spelling.', EXIT.USAGE);
    }
    const outcome = translate(value);
    if (outcome.refuse !== undefined) throw new CliError(`corral: ${where}: PM2's \`${key}\`: ${outcome.refuse}.`, EXIT.USAGE);
    if (outcome.note !== undefined) notes.push(`${key} (${outcome.note})`);
    for (const [target, setting] of Object.entries(outcome.set ?? {})) translated.push({ key: target, pm2: key, value: setting });
  }
  const setBy = new Map<string, string>();
  for (const { key, pm2, value } of translated) {
    const [top, field] = key.split('.') as [string, string | undefined];
    const earlier = setBy.get(key) ?? (field === undefined && values[top] !== undefined ? top : undefined);
    if (earlier !== undefined) {
      throw new CliError(`corral: ${where}: PM2's \`${pm2}\` and \`${earlier}\` both set ${key}: keep one.`, EXIT.USAGE);
    }
    setBy.set(key, pm2);
    if (field === undefined) values[top] = value;
    else {
      const nested = values[top] ?? {};
      if (typeof nested !== 'object' || nested === null || Array.isArray(nested)) {
        throw new CliError(`corral: ${where}: PM2's \`${pm2}\` sets ${key}, but ${top} is ${describeValue(nested)}: keep one.`, EXIT.USAGE);
      }
      if (Object.hasOwn(nested, field)) throw new CliError(`corral: ${where}: PM2's \`${pm2}\` and ${key} both set ${key}: keep one.`, EXIT.USAGE);
      values[top] = { ...nested, [field]: value };
    }
  }
  // PM2 passes env values on as strings (PORT: 3000 is '3000'); so does an app of an ecosystem file.
  if (listed) {
    for (const key of Object.keys(values).filter((candidate) => candidate === 'env' || PROFILE_KEY.test(candidate))) values[key] = envStrings(values[key]);
  }
  const cwd = typeof values['cwd'] === 'string' ? path.resolve(dir, values['cwd']) : undefined;
  for (const key of PATH_KEYS) {
    const value = values[key];
    const base = key === 'exec' && setBy.has('exec') && cwd !== undefined ? cwd : dir;
    if (typeof value === 'string' && !value.startsWith('file:')) values[key] = path.resolve(base, value);
    else if (Array.isArray(value)) values[key] = value.map((entry: unknown) => (typeof entry === 'string' ? path.resolve(base, entry) : entry));
  }
  const written = new Map([...setBy].filter(([key]) => !key.includes('.')));
  return { where, values, notes, written };
}

/** Numbers and booleans of an env block as the strings a process's environment holds. */
function envStrings(env: unknown): unknown {
  if (typeof env !== 'object' || env === null || Array.isArray(env)) return env;
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, typeof value === 'number' || typeof value === 'boolean' ? String(value) : value]));
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
