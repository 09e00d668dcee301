/**
 * The control protocol between `corral status|reload|scale|stop` and a running `corral start`:
 * one JSON object per line over the app's Unix socket. Each request carries the protocol version
 * `v`; a request of another version, or one that is not valid, gets an error reply (and the
 * primary keeps running). Replies echo the request's `id`.
 *
 *   → {"v":1,"id":1,"command":"status"}
 *   ← {"v":1,"id":1,"ok":true,"result":{…}}
 *   ← {"v":1,"id":1,"ok":false,"error":{"code":"CORRAL_ERR_RELOAD_FAILED","message":"…"}}
 */
export const CONTROL_PROTOCOL_VERSION = 1;

/** Longest request line the primary reads; anything longer is refused. */
export const MAX_REQUEST_BYTES = 64 * 1024;

export type ControlCommand = 'status' | 'reload' | 'scale' | 'stop' | 'launch';
/** `launch`: how the app was started (LaunchInfo), for `corral restart`. */
export const CONTROL_COMMANDS: readonly ControlCommand[] = ['status', 'reload', 'scale', 'stop', 'launch'];

/**
 * How a running app was started, so that `corral restart` can start it again the same way: the
 * same Node, the same corral, the same arguments, directory and environment. Only this user can
 * ask (the socket is 0600 in a private directory), which is why the environment may travel.
 */
export interface LaunchInfo {
  /** The arguments of `corral start` (without -d). */
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  execPath: string;
  execArgv: string[];
  /** corral's bin script. */
  bin: string;
  /** Started with -d (else it runs in a terminal, a unit or a container, which own its restarts). */
  detached: boolean;
  /** The primary's pid. */
  pid: number;
}

export interface ControlRequest {
  v: number;
  id: number;
  command: ControlCommand;
  /** `scale`: the worker count, `N`, `+N` or `-N`. */
  workers?: number | string;
}

export type ControlReply =
  | { v: number; id: number | null; ok: true; result: unknown }
  | { v: number; id: number | null; ok: false; error: { code: string; message: string } };

export type ParsedRequest =
  | { ok: true; request: ControlRequest }
  | { ok: false; id: number | null; code: string; message: string };

/** Checks one request line; a problem is described for the error reply. */
export function parseRequest(line: string): ParsedRequest {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, id: null, code: 'CORRAL_ERR_BAD_REQUEST', message: 'The request is not valid JSON: send one JSON object per line.' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, id: null, code: 'CORRAL_ERR_BAD_REQUEST', message: 'The request must be a JSON object such as {"v":1,"id":1,"command":"status"}.' };
  }
  const raw = value as Record<string, unknown>;
  const id = typeof raw['id'] === 'number' && Number.isInteger(raw['id']) ? raw['id'] : null;
  if (raw['v'] !== CONTROL_PROTOCOL_VERSION) {
    return { ok: false, id, code: 'CORRAL_ERR_PROTOCOL_VERSION',
      message: `This primary speaks control protocol version ${CONTROL_PROTOCOL_VERSION}, the request has ${JSON.stringify(raw['v'] ?? null)}. ` +
        'Use the corral command of the version that started the app.' };
  }
  if (id === null) return { ok: false, id, code: 'CORRAL_ERR_BAD_REQUEST', message: 'The request needs a whole-number `id`.' };
  const command = raw['command'];
  if (typeof command !== 'string' || !(CONTROL_COMMANDS as readonly string[]).includes(command)) {
    return { ok: false, id, code: 'CORRAL_ERR_BAD_REQUEST',
      message: `Unknown command ${JSON.stringify(command ?? null)}; the commands are ${CONTROL_COMMANDS.join(', ')}.` };
  }
  const workers = raw['workers'];
  if (command === 'scale' && typeof workers !== 'number' && typeof workers !== 'string') {
    return { ok: false, id, code: 'CORRAL_ERR_BAD_REQUEST', message: 'scale needs `workers`: a count, or "+N" / "-N".' };
  }
  return { ok: true, request: { v: CONTROL_PROTOCOL_VERSION, id, command: command as ControlCommand, ...(command === 'scale' ? { workers: workers as number | string } : {}) } };
}
