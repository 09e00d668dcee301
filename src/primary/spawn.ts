/** Starting one worker process: a plain Node child whose NODE_UNIQUE_ID makes it a cluster worker. */
import { fork, type ChildProcess } from 'node:child_process';
import type { ClusterSettings } from '../types.js';
import { describeValue } from '../util/describe-value.js';

const INSPECT_ARG = /--inspect(?:-brk|-port)?|--debug-port/;
let debugPortOffset = 1;

/**
 * `inspectArgs`: a managed cluster's inspector options for this worker (its slot's port,
 * src/managed/inspector-slots.ts), instead of node:cluster's port numbering.
 */
export function spawnWorkerProcess(
  id: number,
  exec: string,
  settings: ClusterSettings,
  env: NodeJS.ProcessEnv | undefined,
  inspectArgs?: readonly string[],
): ChildProcess {
  // NODE_UNIQUE_ID makes Node run its own worker half of node:cluster before any user code.
  const workerEnv = { ...process.env, ...env, NODE_UNIQUE_ID: String(id) };
  const execArgv = [...(settings.execArgv ?? [])];
  if (inspectArgs !== undefined) execArgv.push(...inspectArgs);
  else if (usesInspector(execArgv)) execArgv.push(`--inspect-port=${nextInspectPort(settings)}`);
  return fork(exec, settings.args ?? [], {
    cwd: settings.cwd,
    env: workerEnv,
    serialization: settings.serialization,
    silent: settings.silent,
    windowsHide: settings.windowsHide,
    execArgv,
    stdio: settings.stdio,
    gid: settings.gid,
    uid: settings.uid,
  } as Parameters<typeof fork>[2]);
}

function usesInspector(execArgv: readonly string[]): boolean {
  return execArgv.some((arg) => INSPECT_ARG.test(arg)) || INSPECT_ARG.test(process.env['NODE_OPTIONS'] ?? '');
}

/**
 * As node:cluster: `settings.inspectPort` (a port, or a function returning one) when it is set,
 * checked here and not in setupPrimary(); otherwise the primary's port + n, wrapping from 65535
 * to 1024.
 */
function nextInspectPort(settings: ClusterSettings): number {
  if ('inspectPort' in settings) {
    const { inspectPort } = settings as { inspectPort: unknown };
    return validInspectPort(typeof inspectPort === 'function' ? (inspectPort as () => unknown)() : inspectPort);
  }
  let port = process.debugPort + debugPortOffset;
  if (port > 65535) port = port - 65535 + 1024 - 1;
  debugPortOffset += 1;
  return port;
}

/** node:cluster's check (validatePort): a RangeError with code ERR_SOCKET_BAD_PORT. */
function validInspectPort(port: unknown): number {
  const numeric = typeof port === 'string' && port.trim() !== '' ? Number(port) : port;
  if (typeof numeric === 'number' && Number.isInteger(numeric) && numeric >= 0 && numeric <= 65535) return numeric;
  const error = new RangeError(
    `cluster.settings.inspectPort should be >= 0 and < 65536, got ${describeValue(port)}. ` +
    'Set it to a port number, or to a function that returns one for each worker.',
  ) as RangeError & { code: string };
  error.code = 'ERR_SOCKET_BAD_PORT';
  throw error;
}
