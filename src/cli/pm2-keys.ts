/**
 * PM2's ecosystem keys (pm2.keymetrics.io "Application declaration"), read in a config file's app
 * so that an ecosystem.config.js runs on corral as it is. Each key is one of three kinds:
 * - translated: corral has the same setting under its own name (`script` → `exec`,
 *   `instances` → `workers`, `kill_timeout` → `shutdownTimeout`…);
 * - noted: PM2's own feature, or something corral always does, so leaving it out changes nothing
 *   the app sees (`merge_logs`, `time`, `exec_mode: 'cluster'`); said once at the start;
 * - refused: dropping it would change what runs, and corral has another way (`cron_restart` →
 *   `maxAge` or `corral reload` from cron); the error names it, and nothing starts.
 */
import { splitArgs } from '../options/flag-parsers.js';
import { describeValue } from '../util/describe-value.js';

/** What one PM2 key becomes. */
export interface Pm2Translation {
  /** corral keys to set (a dotted key sets a field of a nested option: `restart.minUptime`). */
  readonly set?: Readonly<Record<string, unknown>>;
  /** Why leaving the key out changes nothing (said at the start). */
  readonly note?: string;
  /** Why corral cannot take it, and what to use instead (the start is refused). */
  readonly refuse?: string;
}

type Translate = (value: unknown) => Pm2Translation;

const to = (key: string, convert: (value: unknown) => unknown = (value) => value): Translate => (value) => ({ set: { [key]: convert(value) } });
const noted = (note: string): Translate => () => ({ note });
const refused = (refuse: string): Translate => () => ({ refuse });
/** PM2 reads a string of arguments as a shell would split it. */
const argList = (value: unknown): unknown => (typeof value === 'string' ? splitArgs(value) : value);

const LOG_FILES = "corral writes one log file per app, <log dir>/<name>.log ($CORRAL_LOG_DIR, else $XDG_STATE_HOME/corral or " +
  "~/.local/state/corral), with every worker's stdout and stderr tagged; read it with 'corral logs <name>'. " +
  'Set CORRAL_LOG_DIR to choose the directory, and remove this key';
const PM2_ONLY = "a PM2 feature with no part in running the app (corral's status and metrics come from its control socket)";
const TIMESTAMPS = "every line of corral's log file carries its time, in ISO 8601 UTC";

export const PM2_KEYS: Readonly<Record<string, Translate>> = {
  script: to('exec'),
  node_args: to('execArgv', argList),
  interpreter_args: to('execArgv', argList),
  interpreter: (value) => (value === 'node' || value === undefined
    ? { note: "corral's workers run on the Node.js that runs corral" }
    : { refuse: `corral's workers are node:cluster workers, run by the Node.js that runs corral, so ${describeValue(value)} cannot run them. ` +
      'To use another Node.js, start corral with it (/path/to/node node_modules/corral/bin/corral.js start …), and remove interpreter' }),
  instances: to('workers', (value) => (value === 0 || value === '0' ? 'max' : typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value)),
  exec_mode: (value) => (value === 'cluster' || value === 'cluster_mode'
    ? { note: 'corral always runs an app as a cluster' }
    : { refuse: `${typeof value === 'string' ? value : describeValue(value)} mode: corral runs every app as a cluster of workers. For one process, set instances: 1 ` +
      "(and readyWhen: 'online' if it never listens on a port), and remove exec_mode" }),
  ignore_watch: (value) => {
    const entries = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [value];
    return entries.every((entry) => typeof entry === 'string' && /^(\.\/)?(node_modules|\.git)\/?$/.test(entry))
      ? { note: 'corral always leaves node_modules and .git out of --watch' }
      : { refuse: 'corral leaves node_modules, .git and its log directory out of --watch, and has no other ignore list: ' +
        "name what to watch instead (watch: ['src', 'config']), and remove ignore_watch" };
  },
  watch_delay: noted('corral gathers file changes for 300 ms before it reloads'),
  max_memory_restart: to('maxMemory'),
  instance_var: to('instanceVar'),
  kill_timeout: to('shutdownTimeout'),
  kill_signal: to('killSignal'),
  listen_timeout: to('startTimeout'),
  min_uptime: to('restart.minUptime'),
  restart_delay: to('restart.minDelay'),
  exp_backoff_restart_delay: to('restart.minDelay'),
  max_restarts: to('crashLoop.maxCrashes'),
  autorestart: (value) => (value === false ? { set: { restart: false } } : { note: 'corral restarts crashed workers unless restart is false' }),
  port: (value) => ({ set: { 'env.PORT': typeof value === 'number' ? String(value) : value } }),
  // Under readyWhen 'manual', the app's process.send('ready') is its readiness, as under PM2.
  wait_ready: (value) => (value === true ? { set: { readyWhen: 'manual' } }
    : value === false ? { note: 'off, as in corral' }
    : { refuse: `expected true or false, got ${describeValue(value)}. true waits for the app's process.send('ready') (readyWhen: 'manual')` }),
  shutdown_with_message: refused("corral drains a worker on its own (new connections go elsewhere, in-flight requests finish): put the app's " +
    "cleanup in onShutdown() from 'corral/worker', and remove shutdown_with_message"),
  cron_restart: refused("corral has no cron of its own: maxAge: '24h' replaces each worker after that age with no downtime, or let cron or " +
    "a systemd timer run 'corral reload <name>'. Remove cron_restart"),
  stop_exit_codes: refused('corral restarts a worker that exits with any code (but not one it drained); restart: false turns restarts off. ' +
    'Remove stop_exit_codes'),
  increment_var: refused("each worker has its slot (0, 1, …) in NODE_APP_INSTANCE (instanceVar) and CORRAL_SLOT: derive a per-worker value " +
    'from it, or let the workers share one port, as corral\'s workers do. Remove increment_var'),
  filter_env: refused("workers get corral's environment plus env; start corral with a cleaner environment to leave variables out, " +
    'and remove filter_env'),
  append_env_name: refused('corral does not rename apps by profile: give each its own name, and remove append_env_name'),
  treekill: (value) => (value === false
    ? { refuse: "corral always ends a worker's process tree when it stops or kills the worker. Remove treekill" }
    : { note: "corral always ends a worker's process tree" }),
  error_file: refused(LOG_FILES),
  out_file: refused(LOG_FILES),
  log_file: refused(LOG_FILES),
  pid_file: refused("'corral list' and 'corral status <name>' give the primary's and each worker's pid; remove pid_file"),
  log_type: (value) => (value === 'json' ? { set: { logFormat: 'json' } } : { note: "corral's log lines are text unless logFormat is 'json'" }),
  merge_logs: noted("corral's log file always has every worker's lines, tagged with slot and pid"),
  combine_logs: noted("corral's log file always has every worker's lines, tagged with slot and pid"),
  log_date_format: noted(TIMESTAMPS),
  time: noted(TIMESTAMPS),
  source_map_support: noted("for source-mapped stack traces give Node's --enable-source-maps in node_args"),
  disable_source_map_support: noted('corral adds no source-map support of its own'),
  vizion: noted(PM2_ONLY),
  pmx: noted(PM2_ONLY),
  automation: noted(PM2_ONLY),
  trace: noted(PM2_ONLY),
  disable_trace: noted(PM2_ONLY),
  namespace: noted("PM2's grouping of apps for its commands; corral's commands take an app's name, or all"),
  force: noted('corral refuses to start a second primary under a running name'),
  post_update: noted("pm2 deploy's hook; corral does not deploy"),
};

/**
 * Keys corral and PM2 share by name, in the shapes PM2 also takes: `args: '--port 80'` (split as a
 * shell would) and `watch: 'src'` (one path).
 */
export const PM2_SHAPES: Readonly<Record<string, (value: unknown) => unknown>> = {
  args: argList,
  watch: (value) => (typeof value === 'string' ? [value] : value),
};

/** Keys a PM2 ecosystem file may have beside `apps`. */
export const PM2_FILE_KEYS: Readonly<Record<string, string>> = {
  deploy: "pm2 deploy's settings; corral does not deploy",
};
