/**
 * `corral start` arguments → createCluster() options. Flags override the config file; both are
 * checked by createCluster()'s own validation, and errors name the flag or the config key.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ClusterOptions } from '../managed/options.js';
import { describeValue } from '../util/describe-value.js';
import { CLI_ONLY_KEYS, findConfig, loadConfig } from './config-file.js';
import { CliError, EXIT } from './exit-codes.js';
import type { LogFormat } from './logger.js';
import { checkTypeScriptApp } from './typescript.js';

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
}

export const START_FLAGS = {
  instances: { type: 'string', short: 'i' },
  name: { type: 'string' },
  balancer: { type: 'string' },
  env: { type: 'string', multiple: true },
  config: { type: 'string' },
  'node-args': { type: 'string' },
  'shutdown-timeout': { type: 'string' },
  'start-timeout': { type: 'string' },
  ready: { type: 'string' },
  'log-prefix': { type: 'string' },
  'log-format': { type: 'string' },
  primary: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Flag → the option it sets. */
const FLAG_OPTION: Readonly<Record<string, string>> = {
  instances: 'workers',
  name: 'name',
  balancer: 'balancer',
  env: 'env',
  'node-args': 'execArgv',
  'shutdown-timeout': 'shutdownTimeout',
  'start-timeout': 'startTimeout',
  ready: 'readyWhen',
  'log-prefix': 'logPrefix',
  'log-format': 'logFormat',
  primary: 'primary',
};

export async function parseStart(argv: readonly string[], cwd: string): Promise<StartRequest> {
  const { values, positionals } = parseArgs({
    args: joinDashValues(argv), options: START_FLAGS, allowPositionals: true, strict: true,
  });
  const configFile = findConfig(values.config, cwd);
  const merged: Record<string, unknown> = {};
  const sources = new Map<string, string>();
  if (configFile !== undefined) {
    const config = await loadConfig(configFile);
    for (const [key, value] of Object.entries(config.values)) {
      merged[key] = value;
      sources.set(key, `${path.basename(configFile)}: ${key}`);
    }
  }
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
  const set = (flag: string, value: unknown): void => {
    const option = FLAG_OPTION[flag]!;
    merged[option] = value;
    sources.set(option, `--${flag}`);
  };
  if (values.instances !== undefined) set('instances', numberOrText(values.instances));
  if (values.name !== undefined) set('name', values.name);
  if (values.balancer !== undefined) set('balancer', values.balancer);
  if (values.env !== undefined) set('env', { ...(merged['env'] as object | undefined), ...parseEnv(values.env) });
  if (values['node-args'] !== undefined) set('node-args', splitArgs(values['node-args']));
  if (values['shutdown-timeout'] !== undefined) set('shutdown-timeout', numberOrText(values['shutdown-timeout']));
  if (values['start-timeout'] !== undefined) set('start-timeout', numberOrText(values['start-timeout']));
  if (values.ready !== undefined) set('ready', values.ready);
  if (values['log-prefix'] !== undefined) set('log-prefix', values['log-prefix']);
  if (values['log-format'] !== undefined) set('log-format', values['log-format']);
  if (values.primary !== undefined) set('primary', path.resolve(cwd, values.primary));

  const logPrefix = merged['logPrefix'];
  const logFormat = merged['logFormat'] ?? 'text';
  if (logPrefix !== undefined && logPrefix !== 'slot' && logPrefix !== 'pid') {
    throw new CliError(`corral: ${sources.get('logPrefix')}: expected 'slot' or 'pid', got ${describeValue(logPrefix)}.`, EXIT.USAGE);
  }
  if (logFormat !== 'text' && logFormat !== 'json') {
    throw new CliError(`corral: ${sources.get('logFormat')}: expected 'text' or 'json', got ${describeValue(logFormat)}.`, EXIT.USAGE);
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
  for (const [key, value] of Object.entries(merged)) if (!CLI_ONLY_KEYS.has(key)) options[key] = value;
  // Workers of `corral start` get exactly --node-args (or the config's execArgv), not the CLI's own Node flags.
  options['execArgv'] ??= [];
  // With a prefix, worker output goes through the primary, which prefixes each line.
  if (logPrefix !== undefined) options['silent'] = true;
  checkTypeScriptApp(String(options['exec']), options['execArgv'] as string[]);
  return {
    options: options as unknown as ClusterOptions,
    logPrefix,
    logFormat,
    configFile,
    primaryModule: primaryModule,
    sources,
  };
}

/**
 * Values that start with a dash would read as flags: `-i -1` (PM2's "all but one") becomes
 * `--instances=-1`, and `--node-args "--max-old-space-size=512"` (the shell drops the quotes)
 * becomes `--node-args=--max-old-space-size=512`.
 */
function joinDashValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index]!;
    const next = argv[index + 1];
    if (arg === '--') {
      out.push(...argv.slice(index));
      break;
    }
    if ((arg === '-i' || arg === '--instances') && next !== undefined && /^-\d+$/.test(next)) {
      out.push(`--instances=${next}`);
      index += 1;
    } else if (arg === '--node-args' && next !== undefined && next.startsWith('-')) {
      out.push(`--node-args=${next}`);
      index += 1;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** '4' → 4, '-1' → -1; anything else stays text for the validator to name. */
function numberOrText(value: string): number | string {
  return /^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value;
}

function parseEnv(entries: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of entries) {
    const equals = entry.indexOf('=');
    if (equals <= 0) {
      throw new CliError(`corral: --env takes KEY=VALUE, got ${describeValue(entry)}. For example --env NODE_ENV=production.`, EXIT.USAGE);
    }
    env[entry.slice(0, equals)] = entry.slice(equals + 1);
  }
  return env;
}

/** Splits --node-args like a shell would for simple cases: spaces separate, quotes group. */
export function splitArgs(text: string): string[] {
  const args: string[] = [];
  const pattern = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    args.push(match[1] ?? match[2] ?? match[3] ?? '');
  }
  return args;
}
