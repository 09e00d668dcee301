/** Starting one worker process: a plain Node child whose NODE_UNIQUE_ID makes it a cluster worker. */
import { fork, type ChildProcess } from 'node:child_process';
import type { ClusterSettings } from '../types.js';

const INSPECT_ARG = /--inspect(?:-brk|-port)?|--debug-port/;
let debugPortOffset = 1;

export function spawnWorkerProcess(
  id: number,
  exec: string,
  settings: ClusterSettings,
  env: NodeJS.ProcessEnv | undefined,
): ChildProcess {
  // NODE_UNIQUE_ID makes Node run its own worker half of node:cluster before any user code.
  const workerEnv = { ...process.env, ...env, NODE_UNIQUE_ID: String(id) };
  const execArgv = [...(settings.execArgv ?? [])];
  if (usesInspector(execArgv)) execArgv.push(`--inspect-port=${nextInspectPort(settings.inspectPort)}`);
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

/** As node:cluster: each worker debugs on the primary's port + n, wrapping from 65535 to 1024. */
function nextInspectPort(inspectPort: ClusterSettings['inspectPort']): number {
  if (typeof inspectPort === 'function') return inspectPort();
  if (typeof inspectPort === 'number') return inspectPort;
  let port = process.debugPort + debugPortOffset;
  if (port > 65535) port = port - 65535 + 1024 - 1;
  debugPortOffset += 1;
  return port;
}
