/**
 * Every option of createCluster() (and so of the config file), declared once: its type, how it
 * is checked and defaulted, its flag of `corral start` and the flag's help, and its JSON Schema
 * for the config file. Everything else is derived from this table: the option types
 * (managed/options.ts), the known keys, normalizeOptions(), the flags and their help text
 * (cli/start-options.ts, cli/usage.ts) and corral.config.schema.json (scripts/write-schema.js,
 * checked by test/config-schema.test.ts). As gunicorn's config.py declares its settings.
 *
 * Entries resolve in the order they are declared, which is also the order of the known keys
 * in messages (`name`, which defaults from `exec`, checks `exec` first).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidBalancerError, InvalidOptionError, InvalidWorkerCountError } from '../errors.js';
import {
  assertBalancerRuns, BALANCERS, isBalancerName, isCustomBalancer, type BalancerChoice,
} from '../primary/balancers/balancers.js';
import { DEFAULT_PROXY_HOPS, FORWARDING_HEADERS } from '../primary/balancers/forwarded-client.js';
import { DEFAULT_MAX_SERVERS_PER_WORKER, existingDirectory } from '../primary/settings.js';
import { parseAdminAddress, type AdminAddress } from './admin-address.js';
import protocol from '../worker/runtime-protocol.cjs';
import { argumentList, environment, numberOrText, pathFromCwd, type FlagParser } from './flag-parsers.js';
import { duration, formatSize, size } from './units.js';
import { cpuBudget } from './cpu-budget.js';
import {
  boolean, isPlainObject, MAX_TIMEOUT, nestedOptions, nonNegativeNumber, oneOf, positiveInteger, stringArray, timeout,
} from '../util/validators.js';

export interface RestartOptions {
  /**
   * Delay before restarting a worker that crashed twice in a row, in ms (a first crash restarts at
   * once); each further crash in a row multiplies it by `factor`. @default 100
   */
  minDelay?: number;
  /** The longest delay between restarts, in ms. @default 15000 */
  maxDelay?: number;
  /** Each further consecutive crash multiplies the delay by this. @default 2 */
  factor?: number;
  /** Random spread applied to each delay, as a fraction: 0.2 means ±20%. @default 0.2 */
  jitter?: number;
  /** A worker that ran this long (ms) before exiting restarts the backoff from `minDelay`. @default 10000 */
  resetAfter?: number;
  /**
   * A worker that exits on its own sooner than this (ms) after it became ready is an early crash:
   * it backs off and counts toward a crash loop. One that ran longer, or that a signal ended
   * from outside, is restarted at once. @default 1000
   */
  minUptime?: number;
}

export interface CrashLoopOptions {
  /** This many crashes of one slot within `window` ms put it in the `crashloop` state. @default 5 */
  maxCrashes?: number;
  /** The sliding window in which crashes are counted, in ms. @default 60000 */
  window?: number;
  /** How often a crash-looping slot is retried, in ms. @default 30000 */
  retryDelay?: number;
}

/** When a worker counts as ready: it listens, it is online, or it called `ready()` from corral/worker (or `process.send('ready')`). */
export type ReadyWhen = 'listening' | 'online' | 'manual';

/** The stop signals a draining worker's app may be sent (what Node lets a process handle and a stop means). */
const KILL_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'none'] as const;
export type KillSignal = (typeof KILL_SIGNALS)[number];

/** 'SIGINT', also written 'sigint' or 'INT' (as kill(1) and PM2's users write it). */
function killSignal(value: unknown): KillSignal {
  if (value === undefined) return 'SIGTERM';
  if (typeof value === 'string') {
    const upper = value.trim().toUpperCase();
    const name = upper === 'NONE' ? 'none' : upper.startsWith('SIG') ? upper : `SIG${upper}`;
    const found = KILL_SIGNALS.find((signal) => signal === name);
    if (found !== undefined) return found;
    if (name === 'SIGKILL' || name === 'SIGSTOP') {
      throw new InvalidOptionError('killSignal', `one of ${KILL_SIGNALS.join(', ')}`, value,
        `An app cannot handle ${name}; corral SIGKILLs a worker at shutdownTimeout anyway. Use SIGTERM (the default) or SIGINT (PM2's).`);
    }
  }
  throw new InvalidOptionError('killSignal', `one of ${KILL_SIGNALS.join(', ')}`, value);
}

export const DEFAULT_RESTART: Readonly<Required<RestartOptions>> = Object.freeze({
  minDelay: 100,
  maxDelay: 15_000,
  factor: 2,
  jitter: 0.2,
  resetAfter: 10_000,
  minUptime: 1_000,
});

export const DEFAULT_CRASH_LOOP: Readonly<Required<CrashLoopOptions>> = Object.freeze({
  maxCrashes: 5,
  window: 60_000,
  retryDelay: 30_000,
});

export const MAX_WORKERS = 1024;
/** The shortest maxAge: a worker recycled more often spends its life starting. */
export const MIN_MAX_AGE = 1000;
export const DEFAULT_HANG_TIMEOUT = 30_000;
/** The shortest report interval: reports are for the second-scale decisions of health and balancing. */
export const MIN_REPORT_INTERVAL = 100;

/** A flag of `corral start` that sets an option. */
export interface OptionFlag {
  /** The long name, without the dashes. */
  readonly name: string;
  readonly short?: string;
  /** How its value is shown in the help: `<ms>`, `KEY=VALUE`. */
  readonly value: string;
  readonly help: string;
  /** It may be given more than once. */
  readonly multiple?: boolean;
  /**
   * Values starting with a dash that still belong to the flag (`--node-args --inspect`), besides
   * negative numbers, which every flag that takes a value reads as its value (cli/dash-values.ts).
   */
  readonly dashValue?: RegExp;
  /** Its text → the option's raw value (then checked like a value from code). @default the text */
  readonly parse?: FlagParser;
}

/** One option. `Input` is what callers may pass; `Output` what the resolved options hold. */
export interface OptionSpec<Input, Output> {
  /** The config file's JSON Schema for the value, and its description there. */
  readonly schema: Readonly<Record<string, unknown>>;
  readonly description: string;
  /** In a config file the value is a path, relative to the file. */
  readonly path?: boolean;
  readonly flag?: OptionFlag;
  /** Checks the raw value (undefined when not given) and returns it resolved; `raw` is the whole options object. */
  readonly resolve: (value: unknown, raw: Readonly<Record<string, unknown>>) => Output;
  /** Carries the input type only; never set. */
  readonly input?: Input;
}

const option = <Input, Output = Input>(spec: OptionSpec<Input, Output>): OptionSpec<Input, Output> => spec;

const MS = { type: 'number', minimum: 0, maximum: MAX_TIMEOUT } as const;
export const SIZE_SCHEMA = {
  anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: '^\\s*\\d+(\\.\\d+)?\\s*([kKmMgGtT]([iI]?[bB])?|[bB])?\\s*$' }],
} as const;
const DURATION_SCHEMA = {
  anyOf: [MS, { type: 'string', pattern: '^\\s*\\d+(\\.\\d+)?\\s*([mM][sS]|[sSmMhHdD])?\\s*$' }],
} as const;

export const OPTION_TABLE = {
  /** The app's name (status, logs, the control socket). @default the script's base name */
  name: option<string>({
    description: "The app's name (status, logs, the control socket). Default: the script's base name.",
    schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
    flag: { name: 'name', value: '<name>', help: "the app's name (default: the script's base name)" },
    resolve: (value, raw) => normalizeName(value, resolveExec(raw['exec'])),
  }),
  /** The worker script: a path (absolute or relative to `cwd`) or a `file:` URL. */
  exec: option<string | URL, string>({
    description: "The app's script, relative to this file. `corral start <script>` overrides it.",
    schema: { type: 'string', minLength: 1 },
    path: true,
    resolve: resolveExec,
  }),
  /**
   * How many workers: a whole number; 'auto' or 'max' for one per CPU the app may use (its affinity and cgroup CPU quota, cpu-budget.ts);
   * or -N for all CPUs but N (at least one). @default 'auto'
   */
  workers: option<number | 'auto' | 'max', number>({
    description: "How many workers: a number, 'auto' or 'max' (one per CPU), or -N (all CPUs but N). Default: 'auto'.",
    schema: {
      oneOf: [
        { type: 'integer', minimum: 1, maximum: MAX_WORKERS },
        { type: 'integer', minimum: 1 - MAX_WORKERS, maximum: -1 },
        { enum: ['auto', 'max'] },
      ],
    },
    flag: {
      name: 'instances', short: 'i', value: '<N|max|-N>', help: 'workers: a number, max (one per CPU), or -N (all CPUs but N)',
      parse: numberOrText,
    },
    resolve: normalizeWorkerCount,
  }),
  /**
   * How connections reach workers: a balancer's name, or a balancer of one's own
   * (`{ name, createStrategy }`). @default 'round-robin'
   */
  balancer: option<BalancerChoice>({
    description: "How connections reach workers: 'round-robin' (the primary hands them out in turn), 'least-connections' (the primary hands each to the worker with the fewest open ones), 'sticky' (the same client to the same worker), 'shared' (the kernel picks) or 'reuseport' (a socket per worker, the kernel spreads; Linux, Node 22.12+). Default: 'round-robin'.",
    schema: { enum: Object.keys(BALANCERS) },
    flag: { name: 'balancer', value: '<name>', help: 'round-robin (default), least-connections, sticky, shared, or reuseport' },
    resolve: normalizeBalancer,
  }),
  /**
   * With the sticky balancer behind a proxy: the HTTP header that names the client (such as
   * `x-forwarded-for`), read by the primary from each connection's first bytes, which the worker
   * then receives unchanged. Without it, clients are told apart by their IP address. In
   * `x-forwarded-for` and `forwarded` the client is the address the proxies wrote
   * (`stickyProxyHops` from the right); any other header's first comma-separated entry is the key.
   */
  stickyHeader: option<string, string | undefined>({
    description: "With balancer 'sticky' behind a proxy: the HTTP header that names the client (such as x-forwarded-for, where the client is the address your proxy appended: see stickyProxyHops), instead of its IP address.",
    schema: { type: 'string', pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" },
    flag: { name: 'sticky-header', value: '<name>', help: 'with --balancer sticky: the HTTP header naming the client (x-forwarded-for)' },
    resolve: (value, raw) => {
      if (value === undefined) return undefined;
      if (typeof value !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(value)) {
        throw new InvalidOptionError('stickyHeader', 'an HTTP header name such as x-forwarded-for', value);
      }
      if (raw['balancer'] !== 'sticky') {
        throw new InvalidOptionError('stickyHeader', "set only with balancer: 'sticky'", value,
          "Add balancer: 'sticky', or leave stickyHeader out.");
      }
      return value.toLowerCase();
    },
  }),
  /**
   * With the sticky balancer by `x-forwarded-for` or `forwarded`: how many proxies you run in front
   * of corral, each appending the address it received the request from. The client is the Nth
   * address from the right: the entries left of it are whatever the client sent, which it could
   * choose to pin itself anywhere. As Express's numeric `trust proxy`. @default 1
   */
  stickyProxyHops: option<number>({
    description: "With balancer 'sticky' and stickyHeader x-forwarded-for or forwarded: how many proxies run in front of corral; the client is the Nth address from the right (the entries to its left are the client's own words). Default: 1.",
    schema: { type: 'integer', minimum: 1 },
    flag: {
      name: 'sticky-proxy-hops', value: '<n>', dashValue: /^-\d+$/, parse: numberOrText,
      help: 'with --sticky-header x-forwarded-for: how many proxies run in front of corral;\nthe client is the Nth address from the right (default 1)',
    },
    resolve: (value, raw) => {
      if (value === undefined) return DEFAULT_PROXY_HOPS;
      if (!Number.isSafeInteger(value) || (value as number) < 1) {
        throw new InvalidOptionError('stickyProxyHops', 'a whole number ≥ 1: how many proxies run in front of corral', value,
          'Count them: 1 for one nginx or load balancer in front of corral (the default), 2 for a CDN in front of that.');
      }
      const header = typeof raw['stickyHeader'] === 'string' ? raw['stickyHeader'].toLowerCase() : undefined;
      if (raw['balancer'] !== 'sticky' || header === undefined) {
        throw new InvalidOptionError('stickyProxyHops', "set only with balancer: 'sticky' and stickyHeader x-forwarded-for or forwarded", value,
          "Add balancer: 'sticky' and stickyHeader: 'x-forwarded-for', or leave stickyProxyHops out.");
      }
      if (!FORWARDING_HEADERS.has(header)) {
        throw new InvalidOptionError('stickyProxyHops', `set only with stickyHeader x-forwarded-for or forwarded, the lists each proxy appends to (${header} is read whole)`, value,
          'Leave stickyProxyHops out, or set stickyHeader to x-forwarded-for.');
      }
      return value as number;
    },
  }),
  /**
   * The admin HTTP server of the primary, on its own port: `/metrics` (Prometheus), `/` (a live
   * dashboard). A port alone listens on loopback; `'host:port'` elsewhere. @default off
   */
  admin: option<number | string, AdminAddress | undefined>({
    description: "The primary's admin HTTP server: /metrics (Prometheus text and OpenMetrics, the app's prom-client metrics summed over the workers) and / (a live dashboard). A port (loopback only) or 'host:port'; 0: any free port. Default: off.",
    schema: { anyOf: [{ type: 'integer', minimum: 0, maximum: 65535 }, { type: 'string', pattern: '^\\s*(\\d{1,5}|(\\[[0-9a-fA-F:.]+\\]|[^\\s:\\[\\]/]+):\\d{1,5})\\s*$' }] },
    flag: { name: 'admin', value: '<[host:]port>', help: 'serve /metrics and a live dashboard on this port (loopback unless a host is given)', parse: numberOrText },
    resolve: (value) => parseAdminAddress(value),
  }),
  /** Extra environment variables for workers (over the primary's environment). */
  env: option<Readonly<Record<string, string | undefined>>>({
    description: "Environment variables for the workers, over the primary's.",
    schema: { type: 'object', additionalProperties: { type: 'string' } },
    flag: {
      name: 'env', value: 'KEY[=VALUE]', multiple: true, parse: environment,
      help: "an environment variable for the workers (repeatable); KEY alone passes on the value\n" +
        "of CORRAL_ENV_KEY, else of KEY, in corral's environment, keeping it out of the command line",
    },
    resolve: normalizeEnv,
  }),
  /** Arguments for the worker script. @default [] */
  args: option<readonly string[]>({
    description: 'Arguments for the app (process.argv.slice(2)).',
    schema: { type: 'array', items: { type: 'string' } },
    resolve: (value) => stringArray(value, 'args', []),
  }),
  /** Node options for workers. @default process.execArgv */
  execArgv: option<readonly string[]>({
    description: 'Node options for the workers (--node-args). Default: none.',
    schema: { type: 'array', items: { type: 'string' } },
    flag: {
      name: 'node-args', value: '"<args>"', help: 'Node options for the workers, e.g. "--max-old-space-size=512"',
      dashValue: /^-/, parse: argumentList,
    },
    resolve: (value) => stringArray(value, 'execArgv', process.execArgv),
  }),
  /** Working directory of the workers. @default process.cwd() */
  cwd: option<string>({
    description: 'The workers\' working directory, relative to this file. Default: where corral was started.',
    schema: { type: 'string' },
    path: true,
    flag: { name: 'cwd', value: '<dir>', help: "the workers' working directory (default: where corral was started)", parse: pathFromCwd },
    resolve: (value) => {
      if (value !== undefined && typeof value !== 'string') throw new InvalidOptionError('cwd', 'a string', value);
      return existingDirectory(value === undefined ? process.cwd() : path.resolve(value), 'cwd');
    },
  }),
  /**
   * The environment variable that also carries each worker's slot (besides CORRAL_SLOT), as PM2's
   * `instance_var`; 'none' sets none (node-config reads NODE_APP_INSTANCE for its own purpose).
   * @default 'NODE_APP_INSTANCE'
   */
  instanceVar: option<string>({
    description: "The environment variable that also carries each worker's slot (besides CORRAL_SLOT), as PM2's instance_var; 'none' sets none (for node-config, which reads NODE_APP_INSTANCE). Default: 'NODE_APP_INSTANCE'.",
    schema: { type: 'string', pattern: '^([A-Za-z_][A-Za-z0-9_]*)$' },
    flag: { name: 'instance-var', value: '<NAME|none>', help: 'the variable that also carries the slot (default NODE_APP_INSTANCE; none: no variable)' },
    resolve: (value) => {
      if (value === undefined) return protocol.PM2_SLOT_ENV;
      if (typeof value === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(value) && value !== protocol.SLOT_ENV && value !== protocol.SETTINGS_ENV) return value;
      throw new InvalidOptionError('instanceVar', "an environment variable name such as NODE_APP_INSTANCE, or 'none'", value,
        `It may not be ${protocol.SLOT_ENV} or ${protocol.SETTINGS_ENV}, which corral sets itself.`);
    },
  }),
  /**
   * How messages between the primary and workers are serialized (node:cluster's `serialization`):
   * 'json', or 'advanced' (the structured clone: Map, Set, BigInt, Date, typed arrays, circular
   * objects), which socket.io's cluster adapter needs. @default 'json'
   */
  serialization: option<'json' | 'advanced'>({
    description: "How messages between the primary and workers are serialized: 'json' (default), or 'advanced' (the structured clone: Map, Set, BigInt, Date, typed arrays), which socket.io's cluster adapter needs.",
    schema: { enum: ['json', 'advanced'] },
    flag: {
      name: 'serialization', value: '<json|advanced>',
      help: "worker messages: json (default), or advanced (Map, Set, BigInt, Date…;\nsocket.io's cluster adapter needs it)",
    },
    resolve: (value) => {
      if (value === undefined || value === 'json' || value === 'advanced') return value ?? 'json';
      throw new InvalidOptionError('serialization', "'json' or 'advanced'", value,
        "'advanced' carries Map, Set, BigInt, Date and typed arrays (socket.io's cluster adapter needs it); 'json' what JSON.stringify keeps.");
    },
  }),
  /** Pipe worker stdout/stderr to the primary instead of inheriting them. @default false */
  silent: option<boolean>({
    description: 'Pipe worker stdout/stderr to the primary instead of the terminal. Default: false.',
    schema: { type: 'boolean' },
    resolve: (value) => boolean(value, 'silent', false),
  }),
  /**
   * When a worker counts as ready: once one of its servers listens, once it is online (for apps
   * that serve no port), or once it calls `ready()` from `corral/worker` or, as under PM2's
   * wait_ready, `process.send('ready')`. @default 'listening'
   */
  readyWhen: option<ReadyWhen>({
    description: "When a worker counts as ready: 'listening' (default), 'online' (for apps that serve no port), or 'manual' (it calls ready() from corral/worker, or process.send('ready') as under PM2's wait_ready).",
    schema: { enum: ['listening', 'online', 'manual'] },
    flag: { name: 'ready', value: '<when>', help: "listening (default), online (an app that serves no port),\nor manual (the app calls ready(), or process.send('ready'))" },
    resolve: (value) => oneOf(value, 'readyWhen', ['listening', 'online', 'manual'], 'listening'),
  }),
  /** A worker not ready this many ms after its fork is stopped and counts as a failed start. @default 30000 */
  startTimeout: option<number>({
    description: 'ms a worker may take to become ready; past it, it is stopped and counts as a failed start. Default: 30000.',
    schema: MS,
    flag: { name: 'start-timeout', value: '<ms>', help: 'how long a worker may take to become ready (default 30000)', parse: numberOrText },
    resolve: (value) => timeout(value, 'startTimeout', 30_000),
  }),
  /** While the cluster first starts, a slot whose worker fails to start this many times in a row makes `start()` reject. @default 3 */
  startAttempts: option<number>({
    description: 'While the cluster first starts, a slot failing this many starts in a row makes the start fail. Default: 3.',
    schema: { type: 'integer', minimum: 1 },
    resolve: (value) => positiveInteger(value, 'startAttempts', 3),
  }),
  /** Restart policy for workers that exit; `false` never restarts. */
  restart: option<RestartOptions | false, Readonly<Required<RestartOptions>> | false>({
    description: 'Restart policy for workers that exit, or false to never restart.',
    schema: {
      oneOf: [
        { const: false },
        { const: true },
        {
          type: 'object',
          additionalProperties: false,
          properties: {
            minDelay: { description: 'ms before restarting after a first crash. Default: 100.', ...MS },
            maxDelay: { description: 'The longest delay between restarts, in ms. Default: 15000.', ...MS },
            factor: { description: 'Each further consecutive crash multiplies the delay by this. Default: 2.', type: 'number', minimum: 1 },
            jitter: { description: 'Random spread of each delay, as a fraction (0.2 = ±20%). Default: 0.2.', type: 'number', minimum: 0, maximum: 1 },
            resetAfter: { description: 'A worker that ran this many ms resets the backoff. Default: 10000.', type: 'number', minimum: 0 },
            minUptime: {
              description: 'A worker exiting on its own within this many ms of becoming ready is an early crash (backoff, crash loop); later, or killed from outside, it restarts at once. Default: 1000.',
              ...MS,
            },
          },
        },
      ],
    },
    resolve: normalizeRestart,
  }),
  /** When repeated crashes put a slot in the `crashloop` state, and how often it is retried then. */
  crashLoop: option<CrashLoopOptions, Readonly<Required<CrashLoopOptions>>>({
    description: 'When repeated crashes put a slot in the crashloop state, and how often it is retried then.',
    schema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxCrashes: { description: 'Crashes within the window that mean a crash loop. Default: 5.', type: 'integer', minimum: 1 },
        window: { description: 'The sliding window, in ms. Default: 60000.', ...MS },
        retryDelay: { description: 'How often a crash-looping slot is retried, in ms. Default: 30000.', ...MS },
      },
    },
    resolve: normalizeCrashLoop,
  }),
  /** How many slots a rolling reload replaces at a time. @default 1 */
  reloadConcurrency: option<number>({
    description: 'How many slots a rolling reload replaces at a time. Default: 1.',
    schema: { type: 'integer', minimum: 1 },
    resolve: (value) => positiveInteger(value, 'reloadConcurrency', 1),
  }),
  /** How long a draining worker (shutdown, reload, scale-down) may take before SIGKILL, in ms. @default 10000 */
  shutdownTimeout: option<number>({
    description: 'ms a draining worker (shutdown, reload, scale-down) may take before SIGKILL. Default: 10000.',
    schema: MS,
    flag: {
      name: 'shutdown-timeout', value: '<ms>', help: 'how long a draining worker may take before SIGKILL (default 10000)', parse: numberOrText,
    },
    resolve: (value) => timeout(value, 'shutdownTimeout', 10_000),
  }),
  /**
   * The signal a draining worker gets once its servers stop accepting (stop, reload, scale-down,
   * recycle), if the app listens for it: its own handler then ends it (Kubernetes' SIGTERM, PM2's
   * kill_signal). 'none': never sent; the worker exits after its drain. @default 'SIGTERM'
   */
  killSignal: option<KillSignal>({
    description: "The signal a draining worker gets once its servers stop accepting, if the app listens for it; its handler then ends the worker (before the shutdownTimeout SIGKILL). 'none' never sends one. Default: 'SIGTERM'.",
    schema: { enum: [...KILL_SIGNALS] },
    flag: { name: 'kill-signal', value: '<signal>', help: "the signal a draining worker's app gets, if it listens for it (default SIGTERM; none)" },
    resolve: (value) => killSignal(value),
  }),
  /**
   * On a graceful stop (SIGTERM, `corral stop`, close()), how long corral keeps serving new
   * connections before the drain starts, with `/readyz` answering 503 from the first moment: a
   * load balancer (Kubernetes' endpoints) stops sending new ones meanwhile. ms, or text such as
   * '5s'. @default 0
   */
  shutdownDelay: option<number | string, number>({
    description: "On a graceful stop, how long corral keeps serving new connections before the drain starts, while /readyz answers 503 (so that Kubernetes removes the pod from its endpoints first). ms, or text such as '5s'. Default: 0.",
    schema: DURATION_SCHEMA,
    flag: { name: 'shutdown-delay', value: '<ms>', help: 'on SIGTERM keep serving this long, /readyz 503, before draining (default 0)', parse: numberOrText },
    resolve: (value) => duration(value, 'shutdownDelay', 0),
  }),
  /** How many servers one worker may hold; past it its `listen()` fails with EMFILE. @default 256 */
  maxServersPerWorker: option<number>({
    description: 'How many servers one worker may hold; past it its listen() fails with EMFILE. Default: 256.',
    schema: { type: 'integer', minimum: 1 },
    resolve: (value) => positiveInteger(value, 'maxServersPerWorker', DEFAULT_MAX_SERVERS_PER_WORKER),
  }),
  /**
   * The largest message a worker may send the primary (`process.send()`), serialized, in bytes;
   * a larger one is refused in the worker (its send fails with CORRAL_ERR_MESSAGE_TOO_LARGE) and
   * the primary warns. 0: no limit. @default 67108864 (64 MiB)
   */
  maxMessageSize: option<number>({
    description: "The largest message a worker may send the primary, serialized, in bytes; a larger one is refused in the worker and the primary warns. 0: no limit. Default: 67108864 (64 MiB).",
    schema: { type: 'integer', minimum: 0 },
    flag: {
      name: 'max-message-size', value: '<bytes>', help: 'the largest message a worker may send the primary (default 67108864; 0: no limit)', parse: numberOrText,
    },
    resolve: (value) => {
      if (value === undefined) return protocol.DEFAULT_MAX_MESSAGE_SIZE;
      if (Number.isSafeInteger(value) && (value as number) >= 0) return value as number;
      throw new InvalidOptionError('maxMessageSize', 'a whole number of bytes ≥ 0 (0: no limit)', value);
    },
  }),
  /**
   * How often each worker sends its runtime report (event loop, memory, connections, requests;
   * the `'report'` event and `corral status`), in ms, from 100; 0 turns the reports off. @default 1000
   */
  reportInterval: option<number>({
    description: 'How often each worker sends its runtime report (event loop delay, CPU, memory, connections, requests), in ms: 0 (no reports) or 100 to 2147483647. Default: 1000.',
    schema: { anyOf: [{ const: 0 }, { type: 'number', minimum: MIN_REPORT_INTERVAL, maximum: MAX_TIMEOUT }] },
    resolve: (value, raw) => {
      const interval = timeout(value, 'reportInterval', protocol.DEFAULT_REPORT_INTERVAL);
      if (interval !== 0 && interval < MIN_REPORT_INTERVAL) {
        throw new InvalidOptionError('reportInterval', `0 (no reports) or at least ${MIN_REPORT_INTERVAL} ms`, value);
      }
      if (interval === 0 && (raw['balancer'] === 'least-connections' || (isCustomBalancer(raw['balancer']) && raw['balancer'].countConnections === true))) {
        throw new InvalidOptionError('reportInterval', "above 0 with balancer 'least-connections' or one that counts connections (the workers' reports carry their connection counts)", value,
          'Leave reportInterval out, or choose another balancer.');
      }
      return interval;
    },
  }),
  /**
   * A ready worker whose event loop has sent no runtime report for this many ms is hung: corral
   * says so, SIGKILLs it and starts a replacement at once. At least twice `reportInterval`; 0
   * turns hang detection off (as do `reportInterval: 0`). @default 30000
   */
  hangTimeout: option<number>({
    description: 'A ready worker whose event loop has sent no runtime report for this many ms is hung: corral SIGKILLs it and starts a replacement at once. 0: off. At least twice reportInterval. Default: 30000.',
    schema: MS,
    flag: {
      name: 'hang-timeout', value: '<ms>', help: 'replace a worker whose event loop stopped for this long (default 30000; 0: off)', parse: numberOrText,
    },
    resolve: (value, raw) => {
      const hangTimeout = timeout(value, 'hangTimeout', DEFAULT_HANG_TIMEOUT);
      const reportInterval = raw['reportInterval'] ?? protocol.DEFAULT_REPORT_INTERVAL;
      if (hangTimeout === 0 || typeof reportInterval !== 'number') return hangTimeout;
      if (reportInterval === 0) {
        // The reports are the heartbeat: without them there is nothing to watch.
        if (value === undefined) return 0;
        throw new InvalidOptionError('hangTimeout', '0 when reportInterval is 0 (hangs are seen through the runtime reports)', value,
          'Set reportInterval to 100 or more, or hangTimeout to 0.');
      }
      if (hangTimeout < 2 * reportInterval) {
        throw new InvalidOptionError('hangTimeout', `0 or at least twice reportInterval (${2 * reportInterval} ms), so that a late report is not taken for a hang`, value,
          `Raise it to ${2 * reportInterval} or more, or lower reportInterval (a createCluster() option and config file key).`);
      }
      return hangTimeout;
    },
  }),
  /**
   * Past this much memory (maxMemoryOf: RSS, or the V8 heap in use) a worker is recycled
   * gracefully: its replacement starts and is ready, then it drains. A size such as '200M' or
   * '1G' (binary units), or bytes; 0: off. Read from the runtime reports. @default 0
   */
  maxMemory: option<number | string, number>({
    description: "Past this much memory (maxMemoryOf: rss or heap) a worker is recycled: its replacement is ready before it drains, one slot at a time. A size such as '200M' or '1G' (binary units) or bytes; 0: off. Default: 0.",
    schema: SIZE_SCHEMA,
    flag: { name: 'max-memory', value: '<size>', help: 'recycle a worker past this much memory, e.g. 200M or 1G (default: off)', parse: numberOrText },
    resolve: (value, raw) => needsReports(size(value, 'maxMemory', 0), 'maxMemory', value, raw),
  }),
  /** Past this much memory a worker is SIGKILLed at once and replaced (no drain). Above maxMemory. 0: off. @default 0 */
  maxMemoryHard: option<number | string, number>({
    description: "Past this much memory (maxMemoryOf) a worker is SIGKILLed at once and replaced. Above maxMemory. A size or bytes; 0: off. Default: 0.",
    schema: SIZE_SCHEMA,
    flag: { name: 'max-memory-hard', value: '<size>', help: 'SIGKILL a worker past this much memory (default: off)', parse: numberOrText },
    resolve: (value, raw) => {
      const hard = needsReports(size(value, 'maxMemoryHard', 0), 'maxMemoryHard', value, raw);
      const soft = size(raw['maxMemory'], 'maxMemory', 0);
      if (hard !== 0 && soft !== 0 && hard <= soft) {
        throw new InvalidOptionError('maxMemoryHard', `above maxMemory (${formatSize(soft)}): the graceful recycle comes first, the kill only if memory still grows`, value,
          'Raise it, or lower maxMemory.');
      }
      return hard;
    },
  }),
  /** What maxMemory and maxMemoryHard measure: the process's resident set, or the V8 heap in use. @default 'rss' */
  maxMemoryOf: option<'rss' | 'heap'>({
    description: "What maxMemory and maxMemoryHard measure: 'rss' (the process's resident memory) or 'heap' (the V8 heap in use, to recycle before --max-old-space-size aborts the worker). Default: 'rss'.",
    schema: { enum: ['rss', 'heap'] },
    flag: { name: 'max-memory-of', value: '<rss|heap>', help: 'what --max-memory measures: rss (default) or heap' },
    resolve: (value) => oneOf(value, 'maxMemoryOf', ['rss', 'heap'], 'rss'),
  }),
  /** A worker that has served this many requests (plus its jitter) is recycled gracefully. 0: off. @default 0 */
  maxRequests: option<number>({
    description: 'A worker that has served this many HTTP requests (plus its own share of maxRequestsJitter) is recycled gracefully. 0: off. Default: 0.',
    schema: { type: 'integer', minimum: 0 },
    flag: { name: 'max-requests', value: '<N>', help: 'recycle a worker after this many requests (default: off)', parse: numberOrText },
    resolve: (value, raw) => needsReports(wholeNumber(value, 'maxRequests', 0), 'maxRequests', value, raw),
  }),
  /** Each worker's maxRequests is raised by a random 0 … this, so that workers do not recycle together. @default maxRequests / 10 */
  maxRequestsJitter: option<number>({
    description: 'Each worker recycles after maxRequests plus a random 0 to this many requests, so that workers never recycle together. Default: a tenth of maxRequests.',
    schema: { type: 'integer', minimum: 0 },
    flag: { name: 'max-requests-jitter', value: '<N>', help: 'a random 0…N more requests per worker (default: a tenth)', parse: numberOrText },
    resolve: (value, raw) => {
      const base = wholeNumber(raw['maxRequests'], 'maxRequests', 0);
      return jitterOf(wholeNumber(value, 'maxRequestsJitter', Math.floor(base / 10)), 'maxRequestsJitter', 'maxRequests', base, value);
    },
  }),
  /** A worker that has been ready this long (plus its jitter) is recycled gracefully. ms, or text such as '6h'. 0: off. @default 0 */
  maxAge: option<number | string, number>({
    description: "A worker ready for this long (plus its own share of maxAgeJitter) is recycled gracefully. ms, or text such as '90s', '30m', '6h', '1d'; at least 1000 ms; 0: off. Default: 0.",
    schema: DURATION_SCHEMA,
    flag: { name: 'max-age', value: '<ms>', help: 'recycle a worker after it has run this long, e.g. 6h (default: off)', parse: numberOrText },
    resolve: (value) => {
      const age = duration(value, 'maxAge', 0);
      if (age !== 0 && age < MIN_MAX_AGE) {
        throw new InvalidOptionError('maxAge', `0 (off) or at least ${MIN_MAX_AGE} ms`, value, 'Workers recycled more often spend their time starting.');
      }
      return age;
    },
  }),
  /** Each worker's maxAge is raised by a random 0 … this. @default maxAge / 10 */
  maxAgeJitter: option<number | string, number>({
    description: 'Each worker recycles after maxAge plus a random 0 to this many ms, so that workers never recycle together. Default: a tenth of maxAge.',
    schema: DURATION_SCHEMA,
    flag: { name: 'max-age-jitter', value: '<ms>', help: 'a random 0…ms more age per worker (default: a tenth)', parse: numberOrText },
    resolve: (value, raw) => {
      const base = duration(raw['maxAge'], 'maxAge', 0);
      // maxAge plus its jitter is one timer: together they must fit in what a timer can wait.
      const jitter = jitterOf(duration(value, 'maxAgeJitter', Math.min(Math.floor(base / 10), MAX_TIMEOUT - base)), 'maxAgeJitter', 'maxAge', base, value);
      if (base + jitter > MAX_TIMEOUT) {
        throw new InvalidOptionError('maxAgeJitter', `at most ${MAX_TIMEOUT - base} ms, so that maxAge plus it fits in what a Node timer can wait (${MAX_TIMEOUT} ms)`, value);
      }
      return jitter;
    },
  }),
} as const;



export type OptionTable = typeof OPTION_TABLE;
export type OptionKey = keyof OptionTable;
export type InputOf<Spec> = Spec extends OptionSpec<infer Input, unknown> ? Input : never;
export type OutputOf<Spec> = Spec extends OptionSpec<unknown, infer Output> ? Output : never;

/** Every option createCluster() takes (the config file's keys are the same). */
export const KNOWN_OPTIONS: ReadonlySet<string> = new Set(Object.keys(OPTION_TABLE));

function resolveExec(exec: unknown): string {
  if (exec instanceof URL) {
    if (exec.protocol !== 'file:') throw new InvalidOptionError('exec', 'a file path or a file: URL', exec.href);
    return fileURLToPath(exec);
  }
  if (typeof exec !== 'string' || exec.length === 0) {
    throw new InvalidOptionError('exec', 'the path of the worker script (a non-empty string or file: URL)', exec,
      'For example createCluster({ exec: "./server.js" }).');
  }
  return exec.startsWith('file:') ? fileURLToPath(exec) : exec;
}

export function normalizeWorkerCount(workers: unknown): number {
  const { cpus } = cpuBudget();
  if (workers === undefined || workers === 'auto' || workers === 'max') return cpus;
  if (typeof workers === 'number' && Number.isInteger(workers)) {
    // -N means all CPUs but N (PM2's convention), and never fewer than one worker.
    if (workers < 0 && -workers < MAX_WORKERS) return Math.max(1, cpus + workers);
    if (workers >= 1 && workers <= MAX_WORKERS) return workers;
  }
  throw new InvalidWorkerCountError(workers, cpus);
}

export function normalizeBalancer(balancer: unknown): BalancerChoice {
  if (balancer === undefined) return 'round-robin';
  if (isBalancerName(balancer)) {
    assertBalancerRuns(balancer);
    return balancer;
  }
  if (isCustomBalancer(balancer)) return balancer;
  throw new InvalidBalancerError(balancer, Object.keys(BALANCERS));
}

function normalizeEnv(env: unknown): Readonly<Record<string, string | undefined>> {
  if (env === undefined) return {};
  if (!isPlainObject(env)) throw new InvalidOptionError('env', 'an object of environment variables', env);
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && typeof value !== 'string') {
      throw new InvalidOptionError(`env.${key}`, 'a string (environment values are strings)', value,
        `Write it as a string, e.g. String(${JSON.stringify(value)}).`);
    }
    // Node refuses to fork with one (ERR_INVALID_ARG_VALUE): said here, before anything forks.
    const shown = (text: string): string => text.replaceAll('\0', '\\0');
    const fix = 'Remove them (a value read from a binary or UTF-16 file?).';
    if (key.includes('\0')) throw new InvalidOptionError('env', 'variable names free of NUL characters, which no environment can hold', shown(key), fix);
    if (value?.includes('\0') === true) {
      throw new InvalidOptionError(`env.${key}`, 'free of NUL characters, which no environment variable can hold', shown(value), fix);
    }
  }
  return { ...(env as Record<string, string | undefined>) };
}

/** `corral stop all`, `reload all`, `restart all`: every app; so no app may have this name. */
const ALL_APPS = 'all';

/** A name is what `corral status/reload/stop <name>` and the control socket's file use. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function normalizeName(name: unknown, exec: string): string {
  if (name === undefined) {
    const base = path.basename(exec).replace(/\.[cm]?[jt]s$/, '').replace(/[^A-Za-z0-9._-]/g, '-');
    return NAME.test(base) && base !== ALL_APPS ? base : 'app';
  }
  if (name === ALL_APPS) {
    throw new InvalidOptionError('name', `a name other than '${ALL_APPS}', which \`corral stop all\` and the like read as every app`, name,
      'For example name: "api".');
  }
  if (typeof name === 'string' && NAME.test(name)) return name;
  throw new InvalidOptionError('name', 'up to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit', name,
    'For example name: "api".');
}

function normalizeCrashLoop(crashLoop: unknown): Readonly<Required<CrashLoopOptions>> {
  if (crashLoop === undefined) return DEFAULT_CRASH_LOOP;
  const raw = nestedOptions(crashLoop, 'crashLoop', DEFAULT_CRASH_LOOP, 'an object like { maxCrashes: 5, window: 60000, retryDelay: 30000 }');
  return Object.freeze({
    maxCrashes: positiveInteger(raw['maxCrashes'], 'crashLoop.maxCrashes', DEFAULT_CRASH_LOOP.maxCrashes),
    window: timeout(raw['window'], 'crashLoop.window', DEFAULT_CRASH_LOOP.window),
    retryDelay: timeout(raw['retryDelay'], 'crashLoop.retryDelay', DEFAULT_CRASH_LOOP.retryDelay),
  });
}

function normalizeRestart(restart: unknown): Readonly<Required<RestartOptions>> | false {
  if (restart === false) return false;
  if (restart === undefined || restart === true) return DEFAULT_RESTART;
  const raw = nestedOptions(restart, 'restart', DEFAULT_RESTART, 'false or an object like { minDelay: 100, maxDelay: 15000 }');
  const resolved = {
    minDelay: timeout(raw['minDelay'], 'restart.minDelay', DEFAULT_RESTART.minDelay),
    maxDelay: timeout(raw['maxDelay'], 'restart.maxDelay', DEFAULT_RESTART.maxDelay),
    factor: nonNegativeNumber(raw['factor'], 'restart.factor', DEFAULT_RESTART.factor),
    jitter: nonNegativeNumber(raw['jitter'], 'restart.jitter', DEFAULT_RESTART.jitter),
    resetAfter: nonNegativeNumber(raw['resetAfter'], 'restart.resetAfter', DEFAULT_RESTART.resetAfter),
    minUptime: timeout(raw['minUptime'], 'restart.minUptime', DEFAULT_RESTART.minUptime),
  };
  if (resolved.factor < 1) throw new InvalidOptionError('restart.factor', 'a number ≥ 1', resolved.factor);
  if (resolved.jitter > 1) throw new InvalidOptionError('restart.jitter', 'a fraction from 0 to 1', resolved.jitter);
  if (resolved.maxDelay < resolved.minDelay) {
    throw new InvalidOptionError('restart.maxDelay', `at least restart.minDelay (${resolved.minDelay})`, resolved.maxDelay);
  }
  return Object.freeze(resolved);
}

/** A whole number ≥ 0. */
function wholeNumber(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (Number.isSafeInteger(value) && (value as number) >= 0) return value as number;
  throw new InvalidOptionError(name, 'a whole number ≥ 0 (0: off)', value);
}

/** Limits read from the runtime reports (memory, requests) need them: refused when reports are off. */
function needsReports(limit: number, name: string, value: unknown, raw: Readonly<Record<string, unknown>>): number {
  if (limit !== 0 && raw['reportInterval'] === 0) {
    throw new InvalidOptionError(name, '0 when reportInterval is 0 (it is read from the runtime reports)', value,
      `Set reportInterval to 100 or more, or ${name} to 0.`);
  }
  return limit;
}

/** A jitter given without the limit it spreads is a mistake worth naming. */
function jitterOf(jitter: number, name: string, base: string, limit: number, value: unknown): number {
  if (value !== undefined && jitter !== 0 && limit === 0) {
    throw new InvalidOptionError(name, `0 while ${base} is off`, value, `Set ${base} too, or remove ${name}.`);
  }
  return jitter;
}
