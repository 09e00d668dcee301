/**
 * `corral start` arguments → createCluster() options. Flags override the config file; both are
 * checked by createCluster()'s own validation, and errors name the flag or the config key.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { ClusterOptions } from '../managed/options.js';
import { environment, FlagValueError } from '../options/flag-parsers.js';
import { normalizeName, OPTION_TABLE, type OptionFlag } from '../options/table.js';
import { describeValue } from '../util/describe-value.js';
import { CLI_KEY_TABLE, COMMAND_FLAGS } from './cli-options.js';
import { appNameOf, CLI_ONLY_KEYS, findConfig, loadConfig, PROFILE_KEY, type ConfigApp, type LoadedConfig } from './config-file.js';
import { CliError, EXIT } from './exit-codes.js';
import { readEnvFile } from './env-file.js';
import { joinDashValues } from './dash-values.js';
import type { LogFormat } from './logger.js';
import { checkTypeScriptApp } from './typescript.js';
import { appScript } from './app-script.js';
import { optionErrorText } from './cli-words.js';
import { DEFAULT_LOG_MAX_FILES, DEFAULT_LOG_MAX_SIZE } from './log-paths.js';
import { size } from '../options/units.js';

/** The smallest log file size before rotation. */
const MIN_LOG_MAX_SIZE = 64 * 1024;

export type LogPrefix = 'slot' | 'pid';

export interface StartRequest {
  readonly options: ClusterOptions;
  readonly logPrefix: LogPrefix | undefined;
  readonly logFormat: LogFormat;
  readonly configFile: string | undefined;
  /** The module loaded into the primary before the first fork (`--primary`, config `primary`), as an absolute path. */
  readonly primaryModule: string | undefined;
  /** Where each option came from, for error messages: `--instances`, `corral.config.mjs: workers`. */
  readonly sources: ReadonlyMap<string, string>;
  /** Write the app's log file (log-file.ts); always true with `detach`. */
  readonly logFile: boolean;
  readonly logMaxSize: number;
  readonly logMaxFiles: number;
  /** `-d`: run in the background (detach.ts). */
  readonly detach: boolean;
  /** `--watch`: the paths whose changes reload the app (absolute), or undefined. */
  readonly watch: readonly string[] | undefined;
  /** PM2 keys of the config file left out, each with why that changes nothing (said at the start). */
  readonly pm2Notes: readonly string[];
  /** The environment files read for the workers (--env-file, config `envFile`), in order. */
  readonly envFiles: readonly string[];
}

/** Every flag that sets a key (an option, or a key of the CLI's own), with the key it sets. */
export const KEY_FLAGS: readonly (OptionFlag & { readonly key: string })[] = [...Object.entries(OPTION_TABLE), ...Object.entries(CLI_KEY_TABLE)]
  .flatMap(([key, spec]) => ('flag' in spec && spec.flag !== undefined ? [{ ...spec.flag, key }] : []));

/** Every flag of `corral start`, in the order the help lists them. */
export const START_FLAG_LIST: readonly OptionFlag[] = [...KEY_FLAGS, ...COMMAND_FLAGS];

/** util.parseArgs' description of the flags: values are read as text and parsed by each flag. */
const START_FLAGS: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = Object.fromEntries(START_FLAG_LIST.map((flag) => [flag.name, {
  type: flag.value === '' ? 'boolean' as const : 'string' as const,
  ...(flag.short === undefined ? {} : { short: flag.short }),
  ...(flag.multiple === true ? { multiple: true } : {}),
}]));
// `--watch=<path>` (repeatable) beside the plain `--watch`: read as this hidden flag (parseStart).
START_FLAGS['watch-path'] = { type: 'string', multiple: true };

/**
 * The flags that take a value: `-i -1` (PM2's "all but one"), `--shutdown-timeout -1` (refused by
 * its check, with its message) and `--node-args --max-old-space-size=512` (the shell dropped the
 * quotes) are read as their values (dash-values.ts).
 */
const VALUE_FLAGS = START_FLAG_LIST.filter((flag) => flag.value !== '');

export async function parseStart(argv: readonly string[], cwd: string): Promise<StartRequest> {
  const { values, positionals } = parseArgs({
    args: watchPaths(joinDashValues(argv, VALUE_FLAGS)), options: START_FLAGS, allowPositionals: true, strict: true,
  });
  // `corral start ecosystem.config.js`: a config file given as the script.
  let configArg = values['config'] as string | undefined;
  let configLabel: string | undefined;
  if (positionals[0] !== undefined && isConfigFileName(positionals[0])) {
    if (configArg !== undefined) {
      throw new CliError(`corral start: ${positionals[0]} and --config ${configArg}: two config files. Give one.`, EXIT.USAGE);
    }
    if (positionals.length > 1) {
      throw new CliError(`corral start: ${positionals[0]} is a config file: the app's arguments go into it (args), not after it.`, EXIT.USAGE);
    }
    configArg = positionals.shift();
    configLabel = `${configArg}, the config file to start,`;
  }
  const configFile = findConfig(configArg, cwd, configLabel);
  const only = onlyNames(values['only'] as string | undefined);
  const merged: Record<string, unknown> = {};
  const sources = new Map<string, string>();
  let notes: string[] = [];
  const fileProfiles = new Set<string>();
  if (configFile === undefined && only !== undefined) {
    throw new CliError('corral start: --only picks apps of a config file, and there is none here. Give one (corral start ecosystem.config.js --only api).', EXIT.USAGE);
  }
  if (configFile !== undefined) {
    const config = await loadConfig(configFile);
    const app = chooseApp(config, only, values['detach'] === true);
    for (const [key, value] of Object.entries(app.values)) {
      merged[key] = value;
      sources.set(key, `${app.where}: ${app.written.get(key) ?? key}`);
    }
    notes = [...config.notes, ...app.notes];
    // With several apps, --profile applies to those that have that block (as PM2's --env does).
    for (const other of config.apps) for (const key of Object.keys(other.values)) if (PROFILE_KEY.test(key)) fileProfiles.add(key);
  }
  const configEnv = merged['env'];
  const [script, ...appArgs] = positionals;
  if (script !== undefined) {
    merged['exec'] = path.resolve(cwd, script);
    sources.set('exec', script);
    if (appArgs.length > 0) {
      merged['args'] = appArgs;
      sources.set('args', 'the app arguments');
    }
  }
  if (merged['exec'] === undefined) {
    throw new CliError('corral start: no script to run. Give one (corral start server.js), or an `exec` in corral.config.mjs.', EXIT.USAGE);
  }
  for (const flag of KEY_FLAGS) {
    const text = values[flag.name] as string | string[] | undefined;
    if (text === undefined) continue;
    try {
      merged[flag.key] = flag.parse === undefined ? text : flag.parse(text, { current: merged[flag.key], cwd });
    } catch (error) {
      if (error instanceof FlagValueError) throw new CliError(`corral: ${error.message}`, EXIT.USAGE);
      throw error;
    }
    sources.set(flag.key, `--${flag.name}`);
  }

  const logPrefix = merged['logPrefix'];
  const logFormat = merged['logFormat'] ?? 'text';
  if (logPrefix !== undefined && logPrefix !== 'slot' && logPrefix !== 'pid') {
    throw new CliError(`corral: ${sources.get('logPrefix')}: expected 'slot' or 'pid', got ${describeValue(logPrefix)}.`, EXIT.USAGE);
  }
  if (logFormat !== 'text' && logFormat !== 'json') {
    throw new CliError(`corral: ${sources.get('logFormat')}: expected 'text' or 'json', got ${describeValue(logFormat)}.`, EXIT.USAGE);
  }
  const flagEnv = values['env'] === undefined ? undefined : environment(values['env'] as string[], { current: undefined, cwd });
  const env = workerEnvironment(merged, configEnv, flagEnv, sources, fileProfiles);
  if (env !== undefined) merged['env'] = env;
  const watchFlag = values['watch-path'] as string[] | undefined;
  if (watchFlag !== undefined) {
    merged['watch'] = watchFlag.map((entry) => path.resolve(cwd, entry));
    sources.set('watch', '--watch');
  }
  const watch = watchOption(merged['watch'], sources.get('watch'), merged['cwd']);
  const detach = values['detach'] === true;
  const logFile = merged['logFile'] ?? false;
  if (typeof logFile !== 'boolean') {
    throw new CliError(`corral: ${sources.get('logFile')}: expected true or false, got ${describeValue(logFile)}.`, EXIT.USAGE);
  }
  let logMaxSize: number;
  try {
    logMaxSize = size(merged['logMaxSize'], 'logMaxSize', DEFAULT_LOG_MAX_SIZE);
  } catch (error) {
    throw new CliError(`corral: ${optionErrorText((error as Error).message, 'logMaxSize', sources)}`, EXIT.USAGE);
  }
  if (logMaxSize < MIN_LOG_MAX_SIZE) {
    throw new CliError(`corral: ${sources.get('logMaxSize')}: expected at least 64K (a log file rotated more often keeps almost nothing), got ${describeValue(merged['logMaxSize'])}.`, EXIT.USAGE);
  }
  const logMaxFiles = merged['logMaxFiles'] ?? DEFAULT_LOG_MAX_FILES;
  if (!Number.isInteger(logMaxFiles) || (logMaxFiles as number) < 1 || (logMaxFiles as number) > 99) {
    throw new CliError(`corral: ${sources.get('logMaxFiles')}: expected a whole number of files from 1 to 99, got ${describeValue(logMaxFiles)}.`, EXIT.USAGE);
  }
  const primaryModule = merged['primary'];
  if (primaryModule !== undefined) {
    if (typeof primaryModule !== 'string' || primaryModule === '') {
      throw new CliError(`corral: ${sources.get('primary')}: expected the path of a module to load into the primary, got ${describeValue(primaryModule)}.`, EXIT.USAGE);
    }
    if (!existsSync(primaryModule)) {
      throw new CliError(`corral: ${sources.get('primary')}: no such file (looked for ${primaryModule}).`, EXIT.USAGE);
    }
  }
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(merged)) if (!CLI_ONLY_KEYS.has(key) && !PROFILE_KEY.test(key)) options[key] = value;
  // Workers of `corral start` get exactly --node-args (or the config's execArgv), not the CLI's own Node flags.
  options['execArgv'] ??= [];
  // With a prefix or a log file, worker output goes through the primary, which tags each line.
  if (logPrefix !== undefined || logFile || detach) options['silent'] = true;
  // The script, found (a bare name may be a command of node_modules/.bin) and checked before anything forks.
  const exec = options['exec'];
  const execFile = exec instanceof URL && exec.protocol === 'file:' ? fileURLToPath(exec)
    : typeof exec === 'string' && exec.startsWith('file:') ? fileURLToPath(exec) : exec;
  if (typeof execFile === 'string' && execFile !== '') {
    const file = path.resolve(cwd, execFile);
    options['exec'] = appScript(file, { given: script, label: sources.get('exec') ?? 'exec', cwd });
    // `corral start next` runs as next, not as the file's own name (next/dist/bin/next, or cli.js).
    if (options['exec'] !== file && script !== undefined) options['name'] ??= normalizeName(undefined, script);
  }
  checkTypeScriptApp(String(options['exec']), options['execArgv'] as string[]);
  const nodeWatch = (options['execArgv'] as unknown[]).find((arg): arg is string => typeof arg === 'string' && /^--watch(-path|-preserve-output)?(=|$)/.test(arg));
  if (nodeWatch !== undefined) {
    throw new CliError(`corral: ${String(sources.get('execArgv') ?? '--node-args')}: Node's ${nodeWatch} restarts a worker's process by starting ` +
      "another one beside it, which finds the worker's port taken (EADDRINUSE). Use 'corral start --watch' instead: it reloads the cluster, " +
      'with no downtime, when files change.', EXIT.USAGE);
  }
  return {
    options: options as unknown as ClusterOptions,
    logPrefix,
    logFormat,
    configFile,
    primaryModule: primaryModule,
    sources,
    logFile: logFile || detach,
    logMaxSize,
    logMaxFiles: logMaxFiles as number,
    detach,
    watch,
    pm2Notes: notes,
    envFiles: envFilesOf(merged) as string[],
  };
}

/** A config file's name given where the script goes: corral.config.*, ecosystem.config.*, any *.config.{js,cjs,mjs,ts,mts,cts}, or a .json file. */
export function isConfigFileName(arg: string): boolean {
  return /\.config\.[cm]?[jt]s$/.test(arg) || arg.endsWith('.json');
}

/** `--only api,worker` → ['api', 'worker']. */
function onlyNames(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const names = text.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (names.length === 0) throw new CliError('corral start: --only takes app names, e.g. --only api or --only api,worker.', EXIT.USAGE);
  return names;
}

/** The app of the config file to start: the one it has, or the one --only names; several → SeveralAppsError. */
function chooseApp(config: LoadedConfig, only: readonly string[] | undefined, detach: boolean): ConfigApp {
  const names = config.apps.map((app) => appNameOf(app.values));
  const file = path.basename(config.file);
  if (only !== undefined) {
    const unknown = only.filter((name) => !names.includes(name));
    if (unknown.length > 0) {
      throw new CliError(`corral start: --only ${unknown.join(',')}: ${file} has no app of that name (its apps: ${names.join(', ')}).`, EXIT.USAGE);
    }
  }
  const chosen = config.apps.filter((_app, index) => only === undefined || only.includes(names[index]!));
  if (chosen.length === 1) return chosen[0]!;
  const notes = [...new Set([...config.notes, ...chosen.flatMap((app) => app.notes)])];
  throw new SeveralAppsError(config.file, chosen.map((app) => appNameOf(app.values)), detach, notes);
}

/**
 * The config file holds several apps (and --only did not pick one): each runs as its own primary,
 * so together they can only run in the background (`-d`: start-several.ts).
 */
export class SeveralAppsError extends CliError {
  constructor(readonly file: string, readonly names: readonly string[], readonly detach: boolean,
    /** PM2 keys of those apps left out, each with why (said once by the start). */
    readonly pm2Notes: readonly string[] = []) {
    const base = path.basename(file);
    super(`corral start: ${base} holds ${names.length} apps (${names.join(', ')}). Each runs as its own primary, so together they run ` +
      `in the background: corral start ${base} -d. To run one in the foreground: corral start ${base} --only ${names[0]}.`, EXIT.USAGE);
  }
}

/** `envFile` (flag or config): one path or several, as given (workerEnvironment checks them). */
function envFilesOf(merged: Record<string, unknown>): unknown[] {
  return merged['envFile'] === undefined ? [] : Array.isArray(merged['envFile']) ? merged['envFile'] as unknown[] : [merged['envFile']];
}

/**
 * The workers' environment, from the lowest to the highest: the env files (in order), the config's
 * `env`, its `env_<profile>` block, then --env flags. Undefined when none of them is given.
 */
function workerEnvironment(merged: Record<string, unknown>, configEnv: unknown, flagEnv: unknown, sources: ReadonlyMap<string, string>,
  fileProfiles: ReadonlySet<string>): Record<string, unknown> | undefined {
  const files = envFilesOf(merged);
  const fromFiles: Record<string, string> = {};
  for (const file of files) {
    if (typeof file !== 'string' || file === '') {
      throw new CliError(`corral: ${sources.get('envFile') ?? 'envFile'}: expected the path of an environment file, got ${describeValue(file)}.`, EXIT.USAGE);
    }
    Object.assign(fromFiles, readEnvFile(file, sources.get('envFile') ?? 'envFile'));
  }
  const profile = merged['profile'];
  let fromProfile: unknown;
  if (profile !== undefined) {
    const blocks = Object.keys(merged).filter((key) => PROFILE_KEY.test(key));
    if (typeof profile !== 'string' || (merged[`env_${profile}`] === undefined && !fileProfiles.has(`env_${profile}`))) {
      throw new CliError(`corral: ${sources.get('profile') ?? 'profile'}: no env_${typeof profile === "string" ? profile : describeValue(profile)} block in the config file ` +
        `(${blocks.length === 0 ? 'it has none; add one, e.g. env_production: { NODE_ENV: "production" }' : `it has ${blocks.join(', ')}`}).`, EXIT.USAGE);
    }
    fromProfile = merged[`env_${profile}`] ?? {};
    if (typeof fromProfile !== 'object' || fromProfile === null || Array.isArray(fromProfile)) {
      throw new CliError(`corral: env_${profile}: expected an object of environment variables, got ${describeValue(fromProfile)}.`, EXIT.USAGE);
    }
  }
  if (files.length === 0 && fromProfile === undefined && flagEnv === undefined) return configEnv as Record<string, unknown> | undefined;
  // A non-object `env` is left for the option's own check to name.
  const object = (value: unknown): object => (typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {});
  if (configEnv !== undefined && object(configEnv) !== configEnv) return configEnv as Record<string, unknown>;
  return { ...fromFiles, ...object(configEnv), ...object(fromProfile), ...object(flagEnv) };
}

/**
 * For `corral startup`: `argv` with each `--env KEY=VALUE` (or `--env=KEY=VALUE`) left as
 * `--env KEY`, and the values taken out; `--env KEY` given alone takes its value from this
 * environment, as `corral start` would (flag-parsers.ts). The arguments must have passed
 * parseStart(). Flags whose values start with a dash come out joined (`--instances=-1`).
 */
export function separateEnvValues(argv: readonly string[]): { argv: string[]; env: Map<string, string> } {
  const args = watchPaths(joinDashValues(argv, VALUE_FLAGS));
  const { tokens } = parseArgs({ args, options: START_FLAGS, allowPositionals: true, strict: true, tokens: true });
  const env = new Map<string, string>();
  const replaced = new Map<number, readonly string[]>();
  const flagOf = new Map<string, number>();
  for (const token of tokens) {
    if (token.kind !== 'option' || token.name !== 'env' || token.value === undefined) continue;
    const values = environment(token.value, { current: undefined, cwd: '' }) as Record<string, string>;
    for (const [key, value] of Object.entries(values)) {
      // The last one given wins: it alone stays, with its value listed last.
      const earlier = flagOf.get(key);
      if (earlier !== undefined) replaced.set(earlier, []);
      env.delete(key);
      env.set(key, value);
      flagOf.set(key, token.index);
      replaced.set(token.index, ['--env', key]);
    }
    if (token.inlineValue !== true) replaced.set(token.index + 1, []);
  }
  const out = args.flatMap((arg, index) => replaced.get(index) ?? [arg]);
  // Back from watchPaths(): the hidden flag is `--watch=<path>` on the command line.
  const end = out.includes('--') ? out.indexOf('--') : out.length;
  return { argv: out.map((arg, index) => (index < end && arg.startsWith('--watch-path=') ? `--watch=${arg.slice('--watch-path='.length)}` : arg)), env };
}

/** `--watch=<path>` → the hidden `--watch-path=<path>`; a plain `--watch` stays (app arguments after `--` are left alone). */
function watchPaths(argv: readonly string[]): string[] {
  const end = argv.includes('--') ? argv.indexOf('--') : argv.length;
  return [...argv.slice(0, end).map((arg) => (arg.startsWith('--watch=') ? `--watch-path=${arg.slice('--watch='.length)}` : arg)), ...argv.slice(end)];
}

/** `watch` (flag or config): true → the app's directory; a list → those paths; false or absent → none. */
function watchOption(value: unknown, source: string | undefined, cwd: unknown): string[] | undefined {
  if (value === undefined || value === false) return undefined;
  const base = typeof cwd === 'string' ? cwd : process.cwd();
  if (value === true) return [path.resolve(base)];
  if (Array.isArray(value) && value.length > 0 && value.every((entry) => typeof entry === 'string' && entry !== '')) {
    const paths = value.map((entry: string) => path.resolve(base, entry));
    const missing = paths.find((entry) => !existsSync(entry));
    if (missing !== undefined) throw new CliError(`corral: ${source ?? 'watch'}: no such file or directory to watch: ${missing}.`, EXIT.USAGE);
    return paths;
  }
  throw new CliError(`corral: ${source ?? 'watch'}: expected true, or a list of paths to watch, got ${describeValue(value)}.`, EXIT.USAGE);
}

export { splitArgs } from '../options/flag-parsers.js';
