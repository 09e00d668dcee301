/**
 * The config keys and flags of `corral start` that are not createCluster() options, declared as
 * the options are (src/options/table.ts): the flags, their help and the config file's schema
 * come from here and from that table.
 */
import { numberOrText, pathFromCwd, pathsFromCwd } from '../options/flag-parsers.js';
import { SIZE_SCHEMA } from '../options/table.js';
import type { OptionFlag, OptionSpec } from '../options/table.js';

/** A key of the config file (and its flag) that the CLI itself reads. */
export type CliKeySpec = Omit<OptionSpec<unknown, unknown>, 'resolve' | 'input'>;

export const CLI_KEY_TABLE = {
  logPrefix: {
    description: "Pass worker output through corral with each line prefixed by the worker's slot or pid.",
    schema: { enum: ['slot', 'pid'] },
    flag: { name: 'log-prefix', value: '<slot|pid>', help: 'pass worker output through corral, each line prefixed' },
  },
  logFormat: {
    description: "corral's own log lines: 'text' (default) or 'json' (one JSON object per line).",
    schema: { enum: ['text', 'json'] },
    flag: { name: 'log-format', value: '<text|json>', help: "corral's own log lines (default text)" },
  },
  logFile: {
    description: "Also write the app's log file (corral's lines and every worker's, tagged, under $CORRAL_LOG_DIR, $XDG_STATE_HOME/corral or ~/.local/state/corral), read with `corral logs`. Always on for detached apps (-d).",
    schema: { type: 'boolean' },
    flag: { name: 'log-file', value: '', help: "also write the app's log file, for corral logs (always on with -d)" },
  },
  logMaxSize: {
    description: "Rotate the app's log file once it would grow past this size: a size such as '10M' or bytes. Default: 10M.",
    schema: SIZE_SCHEMA,
    flag: { name: 'log-max-size', value: '<size>', help: 'rotate the log file past this size (default 10M)', parse: numberOrText },
  },
  logMaxFiles: {
    description: 'How many rotated log files to keep besides the current one. Default: 5.',
    schema: { type: 'integer', minimum: 1 },
    flag: { name: 'log-max-files', value: '<N>', help: 'rotated log files kept (default 5)', parse: numberOrText },
  },
  envFile: {
    description: "Environment files for the workers (Node's dotenv format: KEY=VALUE lines, # comments, quotes), relative to this file; later files win, and `env` wins over them. Re-read by every reload.",
    schema: { oneOf: [{ type: 'string', minLength: 1 }, { type: 'array', items: { type: 'string', minLength: 1 } }] },
    path: true,
    flag: {
      name: 'env-file', value: '<file>', multiple: true, parse: pathsFromCwd,
      help: "an environment file for the workers (Node's dotenv format; repeatable;\nre-read by every reload)",
    },
  },
  profile: {
    description: 'The env_<profile> block of this file to use over `env` (as PM2\'s env_production): `corral start --profile production`.',
    schema: { type: 'string', pattern: '^[A-Za-z0-9_-]+$' },
    flag: { name: 'profile', value: '<name>', help: "use the config file's env_<name> block over its env (PM2's --env <name>)" },
  },
  watch: {
    description: "For development: a zero-downtime reload when the app's files change. true watches the app's working directory; or a list of paths (relative to it). node_modules, .git and the log directory are left out.",
    schema: { oneOf: [{ type: 'boolean' }, { type: 'array', items: { type: 'string', minLength: 1 } }] },
    flag: {
      name: 'watch', value: '',
      help: "reload (zero downtime) when the app's files change; --watch=<path>\n(repeatable) watches those instead of its directory",
    },
  },
  primary: {
    description: "A module (path relative to the config file) loaded into corral's primary before the first worker forks, " +
      'where node:cluster is corral\'s primary: the place for the primary halves of cluster-aware libraries. Not reloaded by `corral reload`.',
    schema: { type: 'string', minLength: 1 },
    path: true,
    flag: {
      name: 'primary', value: '<module>', parse: pathFromCwd,
      help: "load a module into corral's primary before the first worker forks,\nfor the primary halves of cluster-aware libraries " +
        "(socket.io's\ncluster adapter, prom-client's AggregatorRegistry…); not reloaded",
    },
  },
} as const satisfies Record<string, CliKeySpec>;

/** Flags that set no config key. */
export const COMMAND_FLAGS: readonly OptionFlag[] = [
  {
    name: 'detach', short: 'd', value: '',
    help: 'run in the background: start, wait until ready, print the pid\nand the log file, exit (the log file is written)',
  },
  { name: 'config', value: '<file>', help: 'a config file (default: ./corral.config.{mjs,js,cjs,json} if present)' },
  { name: 'only', value: '<name[,name]>', help: 'of a config file with several apps, start only these' },
  { name: 'help', short: 'h', value: '', help: 'print this help' },
];
