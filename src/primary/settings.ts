/** `cluster.settings`: validation, defaults and the scheduling policy's starting value. */
import fs from 'node:fs';
import path from 'node:path';
import { SCHED_NONE, SCHED_RR } from '../constants.js';
import { ExecNotFoundError, InvalidOptionError } from '../errors.js';
import type { ClusterSettings, SchedulingPolicy } from '../types.js';
import { isPlainObject, isPositiveInteger, isStringArray } from '../util/validators.js';
import { emitWarning } from '../warnings.js';

/** node:cluster's defaults, merged under the current settings and the new ones (cumulative). */
export function mergeSettings(current: ClusterSettings, update: ClusterSettings | undefined): ClusterSettings {
  const settings: ClusterSettings = {
    args: process.argv.slice(2),
    exec: process.argv[1],
    execArgv: process.execArgv,
    silent: false,
    ...current,
    ...update,
  };
  // Each worker needs its own V8 profile file; without --logfile they all write to one.
  const execArgv = settings.execArgv ?? [];
  if (execArgv.some((arg) => arg.startsWith('--prof')) && !execArgv.some((arg) => arg.startsWith('--logfile='))) {
    settings.execArgv = [...execArgv, '--logfile=v8-%p.log'];
  }
  return settings;
}

export function validateSettings(settings: unknown, name = 'settings'): asserts settings is ClusterSettings | undefined {
  if (settings === undefined || settings === null) return;
  if (!isPlainObject(settings)) throw new InvalidOptionError(name, 'an object of cluster settings', settings);
  const value = settings;
  const check = (key: string, ok: (field: unknown) => boolean, expected: string): void => {
    const field = value[key];
    if (field !== undefined && !ok(field)) throw new InvalidOptionError(`${name}.${key}`, expected, field);
  };
  const isId = (field: unknown): boolean => Number.isInteger(field) && (field as number) >= 0;
  check('exec', (field) => typeof field === 'string' && field.length > 0, 'a non-empty path string');
  check('args', isStringArray, 'an array of strings');
  check('execArgv', isStringArray, 'an array of strings');
  check('silent', (field) => typeof field === 'boolean', 'a boolean');
  check('windowsHide', (field) => typeof field === 'boolean', 'a boolean');
  check('cwd', (field) => typeof field === 'string', 'a directory path string');
  check('uid', isId, 'a non-negative integer user id');
  check('gid', isId, 'a non-negative integer group id');
  check('maxServersPerWorker', isPositiveInteger, 'a whole number ≥ 1 (the servers one worker may hold)');
  check('serialization', (field) => field === 'json' || field === 'advanced', "'json' or 'advanced'");
  check('stdio', (field) => Array.isArray(field) && field.includes('ipc'),
    "an array that contains 'ipc' (workers talk to the primary over IPC)");
  // inspectPort is checked at fork(), and only when the inspector is in use, as node:cluster does.
}

/** The worker script, checked now so a typo fails at fork() rather than as a worker exit code 1. */
export function resolveExec(settings: ClusterSettings): string {
  const { exec } = settings;
  if (exec === undefined || exec === '') throw new ExecNotFoundError(undefined, undefined, 'not set');
  const resolved = path.resolve(settings.cwd ?? process.cwd(), exec);
  try {
    fs.accessSync(resolved, fs.constants.R_OK);
    if (!fs.statSync(resolved).isFile()) throw new ExecNotFoundError(exec, resolved, 'it is not a file');
  } catch (error) {
    if (error instanceof ExecNotFoundError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    const reason = code === 'ENOENT' ? 'no such file (ENOENT)' : code === 'EACCES' ? 'permission denied (EACCES)' : code;
    throw new ExecNotFoundError(exec, resolved, reason, error);
  }
  return exec;
}

/** node:cluster's starting policy: NODE_CLUSTER_SCHED_POLICY, else SCHED_NONE on Windows, else SCHED_RR. */
export function initialSchedulingPolicy(): SchedulingPolicy {
  const fromEnv = process.env['NODE_CLUSTER_SCHED_POLICY'];
  if (fromEnv === 'rr') return SCHED_RR;
  if (fromEnv === 'none') return SCHED_NONE;
  if (fromEnv !== undefined && fromEnv !== '') {
    emitWarning('CORRAL_BAD_SCHED_POLICY_ENV',
      `NODE_CLUSTER_SCHED_POLICY is '${fromEnv}'; expected 'rr' or 'none'. Using the default (${process.platform === 'win32' ? 'none' : 'rr'}).`);
  }
  return process.platform === 'win32' ? SCHED_NONE : SCHED_RR;
}

export function isSchedulingPolicy(value: unknown): value is SchedulingPolicy {
  return value === SCHED_NONE || value === SCHED_RR;
}

export function policyName(policy: SchedulingPolicy): string {
  return policy === SCHED_RR ? 'SCHED_RR (round-robin)' : 'SCHED_NONE (shared)';
}

/** `cwd` must exist now: otherwise every spawn fails with an ENOENT that blames the node binary. */
export function existingDirectory(dir: string, name: string): string {
  let isDirectory = false;
  try {
    isDirectory = fs.statSync(dir).isDirectory();
  } catch {
    // reported below
  }
  if (!isDirectory) {
    throw new InvalidOptionError(name, 'an existing directory', dir, 'Workers start in it; create it or correct the path.');
  }
  return dir;
}

/** The default of `settings.maxServersPerWorker`. */
export const DEFAULT_MAX_SERVERS_PER_WORKER = 256;
