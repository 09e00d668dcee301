/** Options of `createCluster()`: the public shape, the defaults, and the one place they are checked. */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BALANCERS, isBalancerName, type BalancerName } from '../primary/balancers/balancers.js';
import { DEFAULT_MAX_SERVERS_PER_WORKER, existingDirectory } from '../primary/settings.js';
import {
  InvalidBalancerError, InvalidOptionError, InvalidWorkerCountError,
} from '../errors.js';

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
}

export interface CrashLoopOptions {
  /** This many crashes of one slot within `window` ms put it in the `crashloop` state. @default 5 */
  maxCrashes?: number;
  /** The sliding window in which crashes are counted, in ms. @default 60000 */
  window?: number;
  /** How often a crash-looping slot is retried, in ms. @default 30000 */
  retryDelay?: number;
}

/** When a worker counts as ready: it listens, it is online, or it called `ready()` from corral/worker. */
export type ReadyWhen = 'listening' | 'online' | 'manual';

export interface ClusterOptions {
  /** The app's name (status, logs, the control socket). @default the script's base name */
  name?: string;
  /** The worker script: a path (absolute or relative to `cwd`) or a `file:` URL. */
  exec: string | URL;
  /** Arguments for the worker script. @default [] */
  args?: readonly string[];
  /** Node options for workers. @default process.execArgv */
  execArgv?: readonly string[];
  /**
   * How many workers: a whole number; 'auto' or 'max' for one per CPU (`os.availableParallelism()`);
   * or -N for all CPUs but N (at least one). @default 'auto'
   */
  workers?: number | 'auto' | 'max';
  /** How connections reach workers. @default 'round-robin' */
  balancer?: BalancerName;
  /** Extra environment variables for workers (over the primary's environment). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Working directory of the workers. @default process.cwd() */
  cwd?: string;
  /** IPC serialization. @default 'json' */
  serialization?: 'json' | 'advanced';
  /** Pipe worker stdout/stderr to the primary instead of inheriting them. @default false */
  silent?: boolean;
  /**
   * When a worker counts as ready: once one of its servers listens, once it is online, or once
   * it calls `ready()` from `corral/worker`. @default 'listening'
   */
  readyWhen?: ReadyWhen;
  /** A worker not ready this many ms after its fork is stopped and counts as a failed start. @default 30000 */
  startTimeout?: number;
  /** While the cluster first starts, a slot whose worker fails to start this many times in a row makes `start()` reject. @default 3 */
  startAttempts?: number;
  /** Restart policy for workers that exit; `false` never restarts. */
  restart?: RestartOptions | false;
  /** When repeated crashes put a slot in the `crashloop` state, and how often it is retried then. */
  crashLoop?: CrashLoopOptions;
  /** How many slots a rolling reload replaces at a time. @default 1 */
  reloadConcurrency?: number;
  /** How long a draining worker (shutdown, reload, scale-down) may take before SIGKILL, in ms. @default 10000 */
  shutdownTimeout?: number;
  /** How many servers one worker may hold; past it its `listen()` fails with EMFILE. @default 256 */
  maxServersPerWorker?: number;
  /**
   * How often each worker sends its runtime report (event loop, memory, connections, requests;
   * the `'report'` event and `corral status`), in ms, from 100; 0 turns the reports off. @default 1000
   */
  reportInterval?: number;
}

export interface ResolvedClusterOptions {
  readonly name: string;
  readonly exec: string;
  readonly args: readonly string[];
  readonly execArgv: readonly string[];
  readonly workers: number;
  readonly balancer: BalancerName;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly serialization: 'json' | 'advanced';
  readonly silent: boolean;
  readonly readyWhen: ReadyWhen;
  readonly startTimeout: number;
  readonly startAttempts: number;
  readonly restart: Readonly<Required<RestartOptions>> | false;
  readonly crashLoop: Readonly<Required<CrashLoopOptions>>;
  readonly reloadConcurrency: number;
  readonly shutdownTimeout: number;
  readonly maxServersPerWorker: number;
  readonly reportInterval: number;
}

export const DEFAULT_RESTART: Readonly<Required<RestartOptions>> = Object.freeze({
  minDelay: 100,
  maxDelay: 15_000,
  factor: 2,
  jitter: 0.2,
  resetAfter: 10_000,
});

export const DEFAULT_CRASH_LOOP: Readonly<Required<CrashLoopOptions>> = Object.freeze({
  maxCrashes: 5,
  window: 60_000,
  retryDelay: 30_000,
});

export const MAX_WORKERS = 1024;
/** Every option createCluster() takes (the config file's keys are the same). */
export const KNOWN_OPTIONS: ReadonlySet<string> = new Set([
  'name', 'exec', 'args', 'execArgv', 'workers', 'balancer', 'env', 'cwd', 'serialization', 'silent',
  'readyWhen', 'startTimeout', 'startAttempts', 'restart', 'crashLoop', 'reloadConcurrency',
  'shutdownTimeout', 'maxServersPerWorker', 'reportInterval',
]);

export function normalizeOptions(options: unknown): ResolvedClusterOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionError('options', 'an object such as { exec: "./server.js" }', options);
  }
  const raw = options as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw new InvalidOptionError(key, `one of the known options (${[...KNOWN_OPTIONS].join(', ')})`, raw[key],
        'Remove it or correct its spelling.');
    }
  }
  const exec = normalizeExec(raw['exec']);
  return {
    name: normalizeName(raw['name'], exec),
    exec,
    args: stringArray(raw, 'args', []),
    execArgv: stringArray(raw, 'execArgv', process.execArgv),
    workers: normalizeWorkerCount(raw['workers']),
    balancer: normalizeBalancer(raw['balancer']),
    env: normalizeEnv(raw['env']),
    cwd: existingDirectory(optionalString(raw, 'cwd') ?? process.cwd(), 'cwd'),
    serialization: oneOf(raw, 'serialization', ['json', 'advanced'], 'json'),
    silent: optionalBoolean(raw, 'silent') ?? false,
    readyWhen: oneOf(raw, 'readyWhen', ['listening', 'online', 'manual'], 'listening'),
    startTimeout: timeout(raw['startTimeout'], 'startTimeout', 30_000),
    startAttempts: positiveInteger(raw['startAttempts'], 'startAttempts', 3),
    restart: normalizeRestart(raw['restart']),
    crashLoop: normalizeCrashLoop(raw['crashLoop']),
    reloadConcurrency: positiveInteger(raw['reloadConcurrency'], 'reloadConcurrency', 1),
    shutdownTimeout: timeout(raw['shutdownTimeout'], 'shutdownTimeout', 10_000),
    maxServersPerWorker: positiveInteger(raw['maxServersPerWorker'], 'maxServersPerWorker', DEFAULT_MAX_SERVERS_PER_WORKER),
    reportInterval: reportInterval(raw['reportInterval']),
  };
}

/** The shortest report interval: reports are for the second-scale decisions of health and balancing. */
export const MIN_REPORT_INTERVAL = 100;

function reportInterval(value: unknown): number {
  const interval = timeout(value, 'reportInterval', 1000);
  if (interval !== 0 && interval < MIN_REPORT_INTERVAL) {
    throw new InvalidOptionError('reportInterval', `0 (no reports) or at least ${MIN_REPORT_INTERVAL} ms`, value);
  }
  return interval;
}

/** The longest delay a Node timer can wait; longer ones fire after 1 ms instead. */
export const MAX_TIMEOUT = 2 ** 31 - 1;

/** A delay in ms that a timer can really wait (longer ones are refused, not cut to 1 ms). */
export function timeout(value: unknown, name: string, fallback: number): number {
  const delay = nonNegativeNumber(value, name, fallback);
  if (delay > MAX_TIMEOUT) {
    throw new InvalidOptionError(name, `at most ${MAX_TIMEOUT} ms (about 24.8 days, the longest a Node timer can wait)`, value);
  }
  return delay;
}


function normalizeExec(exec: unknown): string {
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
  const cpus = os.availableParallelism();
  if (workers === undefined || workers === 'auto' || workers === 'max') return cpus;
  if (typeof workers === 'number' && Number.isInteger(workers)) {
    // -N means all CPUs but N (PM2's convention), and never fewer than one worker.
    if (workers < 0 && -workers < MAX_WORKERS) return Math.max(1, cpus + workers);
    if (workers >= 1 && workers <= MAX_WORKERS) return workers;
  }
  throw new InvalidWorkerCountError(workers, cpus);
}

export function normalizeBalancer(balancer: unknown): BalancerName {
  if (balancer === undefined) return 'round-robin';
  if (isBalancerName(balancer)) return balancer;
  throw new InvalidBalancerError(balancer, Object.keys(BALANCERS));
}

function normalizeEnv(env: unknown): Readonly<Record<string, string | undefined>> {
  if (env === undefined) return {};
  if (typeof env !== 'object' || env === null || Array.isArray(env)) {
    throw new InvalidOptionError('env', 'an object of environment variables', env);
  }
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && typeof value !== 'string') {
      throw new InvalidOptionError(`env.${key}`, 'a string (environment values are strings)', value,
        `Write it as a string, e.g. String(${JSON.stringify(value)}).`);
    }
  }
  return { ...(env as Record<string, string | undefined>) };
}

/** A name is what `corral status/reload/stop <name>` and the control socket's file use. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function normalizeName(name: unknown, exec: string): string {
  if (name === undefined) {
    const base = path.basename(exec).replace(/\.[cm]?[jt]s$/, '').replace(/[^A-Za-z0-9._-]/g, '-');
    return NAME.test(base) ? base : 'app';
  }
  if (typeof name === 'string' && NAME.test(name)) return name;
  throw new InvalidOptionError('name', 'up to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit', name,
    'For example name: "api".');
}

/** An option that is an object of its own (restart, crashLoop): an object, with only known keys. */
function nestedOptions(value: unknown, name: string, defaults: object, expected: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidOptionError(name, expected, value);
  const raw = value as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!Object.hasOwn(defaults, key)) {
      throw new InvalidOptionError(`${name}.${key}`, `one of ${Object.keys(defaults).join(', ')}`, raw[key]);
    }
  }
  return raw;
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
  };
  if (resolved.factor < 1) throw new InvalidOptionError('restart.factor', 'a number ≥ 1', resolved.factor);
  if (resolved.jitter > 1) throw new InvalidOptionError('restart.jitter', 'a fraction from 0 to 1', resolved.jitter);
  if (resolved.maxDelay < resolved.minDelay) {
    throw new InvalidOptionError('restart.maxDelay', `at least restart.minDelay (${resolved.minDelay})`, resolved.maxDelay);
  }
  return Object.freeze(resolved);
}

function positiveInteger(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (Number.isInteger(value) && (value as number) >= 1) return value as number;
  throw new InvalidOptionError(name, 'a whole number ≥ 1', value);
}

function nonNegativeNumber(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  throw new InvalidOptionError(name, 'a finite number ≥ 0', value);
}

function stringArray(raw: Record<string, unknown>, name: string, fallback: readonly string[]): readonly string[] {
  const value = raw[name];
  if (value === undefined) return [...fallback];
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return [...value];
  throw new InvalidOptionError(name, 'an array of strings', value);
}

function optionalString(raw: Record<string, unknown>, name: string): string | undefined {
  const value = raw[name];
  if (value === undefined || typeof value === 'string') return value === undefined ? undefined : path.resolve(value);
  throw new InvalidOptionError(name, 'a string', value);
}

function optionalBoolean(raw: Record<string, unknown>, name: string): boolean | undefined {
  const value = raw[name];
  if (value === undefined || typeof value === 'boolean') return value;
  throw new InvalidOptionError(name, 'a boolean', value);
}

function oneOf<T extends string>(raw: Record<string, unknown>, name: string, allowed: readonly T[], fallback: T): T {
  const value = raw[name];
  if (value === undefined) return fallback;
  if ((allowed as readonly unknown[]).includes(value)) return value as T;
  throw new InvalidOptionError(name, `one of ${allowed.map((item) => `'${item}'`).join(', ')}`, value);
}
