/** The client side of the control socket: find the running apps, send a request, read the reply. */
import { readdirSync, type Stats } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ControlError } from './errors.js';
import { CONTROL_PROTOCOL_VERSION, type ControlReply, type ControlRequest } from './protocol.js';
import { checkRunDirectory, checkSocket, removeDeadSocket, runDirectories, socketPath } from './run-dir.js';

let nextId = 1;

/** Sends one request and resolves with its reply; rejects if the socket cannot be used. */
export function send(file: string, request: Omit<ControlRequest, 'v' | 'id'>, timeout = 0): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    try {
      checkSocket(file); // A socket somebody else put there is never talked to.
    } catch (error) {
      reject(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    const id = nextId++;
    const socket = net.connect(file);
    let buffered = '';
    let timer: NodeJS.Timeout | undefined;
    if (timeout > 0) timer = setTimeout(() => { socket.destroy(); reject(Object.assign(new Error('no reply'), { code: 'ETIMEDOUT' })); }, timeout);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify({ v: CONTROL_PROTOCOL_VERSION, id, ...request })}\n`));
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const newline = buffered.indexOf('\n');
      if (newline === -1) return;
      clearTimeout(timer);
      socket.end();
      try {
        resolve(JSON.parse(buffered.slice(0, newline)) as ControlReply);
      } catch {
        reject(Object.assign(new Error('the reply is not JSON'), { code: 'EPROTO' }));
      }
    });
    socket.on('error', (error) => { clearTimeout(timer); reject(error); });
    socket.on('close', () => { clearTimeout(timer); reject(Object.assign(new Error('the primary closed the connection without a reply'), { code: 'ECONNRESET' })); });
  });
}

/**
 * Whether a primary answers on `file` (and its pid). `refused`: the connection was refused, so no
 * primary listens there (a busy one still accepts, and a timeout counts as alive).
 */
export async function probe(file: string): Promise<{ alive: boolean; pid?: number; refused?: boolean }> {
  try {
    // `launch` is cheap (status samples every process's CPU for 200 ms); any reply, even an
    // error from a primary too old to know it, means it is alive.
    const reply = await send(file, { command: 'launch' }, 2_000);
    const pid = reply.ok ? (reply.result as { pid?: unknown }).pid : undefined;
    return { alive: true, ...(typeof pid === 'number' ? { pid } : {}) };
  } catch (error) {
    if (error instanceof ControlError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED') return { alive: false, refused: true };
    if (code === 'ENOENT') return { alive: false };
    // Something answered, or we may not ask (EACCES): treat it as taken rather than replace it.
    return { alive: true };
  }
}

/** A control socket found in a run directory (its primary may be gone: see probe()). */
export interface FoundApp {
  name: string;
  socket: string;
}

/**
 * Every control socket in every run directory of this user (run-dir.ts runDirectories()). The
 * first directory is checked as the primary would use it (a bad one is an error, with the fix);
 * the others are searched only when they are private directories of this user, and skipped
 * otherwise (another user may have made one of that name in the shared temporary directory).
 */
export function findApps(): FoundApp[] {
  const [first, ...others] = runDirectories();
  const found: FoundApp[] = [];
  for (const dir of [first!, ...others]) {
    let entries: string[];
    try {
      checkRunDirectory(dir);
      entries = readdirSync(dir).filter((file) => file.endsWith('.sock'));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || dir !== first) continue; // Not there (nothing runs from it), or not to be trusted.
      if (error instanceof ControlError) throw error;
      if (code === 'EACCES' || code === 'EPERM') {
        throw new ControlError('CORRAL_ERR_RUN_DIR', `cannot read the run directory ${dir}: permission denied (it belongs to another user). ` +
          'Run the command as the user who started the app.');
      }
      continue;
    }
    for (const entry of entries) found.push({ name: entry.slice(0, -'.sock'.length), socket: path.join(dir, entry) });
  }
  return found;
}

type AppState = { readonly alive: true; readonly pid?: number } | { readonly alive: false; readonly removed: boolean };

/**
 * Whether the primary behind `app`'s socket answers. A socket of this user that refuses the
 * connection is a dead primary's, and is removed (run-dir.ts removeDeadSocket()), so that no
 * command takes it for an app again; on a timeout or any other error it stays (a busy primary, a
 * socket we may not use). Throws ControlError for a socket that is not this user's.
 */
async function inspect(app: FoundApp): Promise<AppState> {
  let seen: Stats;
  try {
    seen = checkSocket(app.socket);
  } catch (error) {
    if (error instanceof ControlError) throw error;
    return { alive: false, removed: false }; // Gone since the directory was read.
  }
  const state = await probe(app.socket);
  if (state.alive) return { alive: true, ...(state.pid === undefined ? {} : { pid: state.pid }) };
  return { alive: false, removed: state.refused === true && removeDeadSocket(app.socket, seen) };
}

/** The apps whose primary answers, each once (the first directory wins), with their pids; dead primaries' sockets are removed. */
export async function liveApps(): Promise<(FoundApp & { pid: number | undefined })[]> {
  const found = findApps();
  const probes = await Promise.all(found.map(async (app) => {
    try {
      return { app, state: await inspect(app) };
    } catch {
      return { app, state: { alive: false } as const }; // Not a socket of ours: not an app.
    }
  }));
  const seen = new Set<string>();
  return probes.flatMap(({ app, state }) => {
    if (!state.alive || seen.has(app.name)) return [];
    seen.add(app.name);
    return [{ ...app, pid: state.pid }];
  });
}

/** The socket of the app named `name`, or of the only app running when no name is given. */
export async function resolveApp(name: string | undefined): Promise<FoundApp> {
  if (name !== undefined) {
    socketPath(name); // A name too long for a socket path is said as such.
    // Several directories may hold one (a stale socket beside a live one): the live one.
    let refused: ControlError | undefined;
    let dead: FoundApp | undefined;
    for (const match of findApps().filter((app) => app.name === name)) {
      let state: AppState;
      try {
        state = await inspect(match);
      } catch (error) {
        if (!(error instanceof ControlError)) throw error;
        refused ??= error; // Not this user's socket: said as such, if nothing else answers.
        continue;
      }
      if (state.alive) return match;
      if (state.removed) dead ??= match;
    }
    if (refused !== undefined) throw refused;
    // Only the apps that answer are running (any other dead primary's socket is removed too).
    const running = (await liveApps()).map((app) => app.name);
    if (dead !== undefined) {
      throw notRunning(`nothing answers on ${dead.socket}: the app is not running, its primary was killed. Its stale control socket ` +
        'was removed', running);
    }
    throw notRunning(`no app named '${name}' is running for this user`, running);
  }
  const live = await liveApps();
  if (live.length === 1) return live[0]!;
  if (live.length === 0) throw notRunning('no corral app is running for this user', []);
  throw new ControlError('CORRAL_ERR_APP_NOT_RUNNING',
    `${live.length} apps are running (${live.map((app) => app.name).join(', ')}); name one, e.g. 'corral status ${live[0]!.name}'.`);
}

function notRunning(what: string, others: readonly string[]): ControlError {
  return new ControlError('CORRAL_ERR_APP_NOT_RUNNING',
    `${what}.${others.length > 0 ? ` Running: ${others.join(', ')}.` : ''} Start one with 'corral start <script>'.`);
}

/** Turns a socket error into what the user should know. */
export function controlError(error: unknown, socket: string): ControlError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') {
    return new ControlError('CORRAL_ERR_CONTROL_SOCKET', `permission denied on ${socket}: the app belongs to another user. Run the command as that user.`, { cause: error });
  }
  if (code === 'ECONNREFUSED' || code === 'ENOENT') {
    return new ControlError('CORRAL_ERR_APP_NOT_RUNNING',
      `nothing answers on ${socket}: the app is not running (its primary was killed). 'corral start' replaces the stale socket.`, { cause: error });
  }
  return new ControlError('CORRAL_ERR_CONTROL_SOCKET', `the control socket ${socket} failed: ${(error as Error).message}.`, { cause: error });
}
