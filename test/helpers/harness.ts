// Shared test harness: runs one scenario against node:cluster and against corral, records every
// worker's reports from the moment it is forked, waits on events with deadlines (never sleeps),
// and kills every process a test started, even when the test fails.
import nodeCluster from 'node:cluster';
import { once, type EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import corral, { restoreNodeCluster, type Cluster, type Worker } from 'corral';

// These scenarios compare corral with Node's own primary, in one process: Node's node:cluster
// object must stay Node's, not become a face of corral's primary as it does when corral loads.
restoreNodeCluster();

export const WORKER_FIXTURE = fileURLToPath(new URL('../fixtures/worker.js', import.meta.url));
export const DEFAULT_TIMEOUT = 10_000;

export interface Implementation {
  readonly name: 'node:cluster' | 'corral';
  readonly cluster: Cluster;
}

/** Both primaries: node:cluster's own, and corral's. Scenarios run on each and must agree. */
export const IMPLEMENTATIONS: readonly Implementation[] = [
  { name: 'node:cluster', cluster: nodeCluster as unknown as Cluster },
  { name: 'corral', cluster: corral },
];

export const CORRAL: Implementation = IMPLEMENTATIONS[1]!;

export interface Report {
  type: string;
  pid: number;
  workerId: number;
  [key: string]: unknown;
}

const started = new Set<Worker>();
const logs = new WeakMap<Worker, MessageLog>();

/** Every message a worker sent, kept from the moment of fork so none is missed. */
class MessageLog {
  readonly messages: Report[] = [];
  readonly #waiters = new Set<() => void>();

  constructor(worker: Worker) {
    worker.on('message', (message: unknown) => {
      this.messages.push(message as Report);
      for (const waiter of this.#waiters) waiter();
    });
  }

  wait(predicate: (report: Report) => boolean, what: string, timeout: number): Promise<Report> {
    const found = this.messages.find(predicate);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`timed out after ${timeout} ms waiting for ${what}; got ${JSON.stringify(this.messages)}`));
      }, timeout);
      const check = (): void => {
        const match = this.messages.find(predicate);
        if (match === undefined) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(match);
      };
      this.#waiters.add(check);
    });
  }
}

/** Forks a fixture worker running `scenario` with `env`, tracked for cleanup. */
export function forkWorker(impl: Implementation, scenario: string, env: Record<string, string> = {}): Worker {
  impl.cluster.setupPrimary({ exec: WORKER_FIXTURE, args: [], execArgv: [] });
  const worker = impl.cluster.fork({ SCENARIO: scenario, ...env });
  track(worker);
  return worker;
}

/** Tracks a worker forked some other way, so the cleanup kills it. */
export function track(worker: Worker): Worker {
  started.add(worker);
  // node:cluster's primary emits EPIPE as a worker 'error' when it answers a worker that just
  // died; without a listener that would crash the test process.
  worker.on('error', () => {});
  if (!logs.has(worker)) logs.set(worker, new MessageLog(worker));
  return worker;
}

/** The first report of `type` (optionally matching more) from `worker`. */
export function report(worker: Worker, type: string, timeout = DEFAULT_TIMEOUT): Promise<Report> {
  const log = logs.get(worker);
  if (log === undefined) throw new Error(`worker ${worker.id} is not tracked`);
  return log.wait((message) => message.type === type, `'${type}' from worker ${worker.id}`, timeout);
}

export function reports(worker: Worker): readonly Report[] {
  return logs.get(worker)?.messages ?? [];
}

/** Waits for `event` on `emitter`, failing with a clear message after `timeout` ms. */
export async function event<T extends unknown[] = unknown[]>(
  emitter: EventEmitter | NodeJS.EventEmitter, name: string, timeout = DEFAULT_TIMEOUT,
): Promise<T> {
  try {
    return await once(emitter as EventEmitter, name, { signal: AbortSignal.timeout(timeout) }) as T;
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw new Error(`timed out after ${timeout} ms waiting for '${name}'`);
    throw error;
  }
}

/** Resolves when `worker` has exited (at once if it already has). */
export async function exited(worker: Worker, timeout = DEFAULT_TIMEOUT): Promise<void> {
  if (worker.process.exitCode !== null || worker.process.signalCode !== null) return;
  await event(worker.process, 'exit', timeout);
}

/** Kills every worker the test started and waits for them to exit. Use as afterEach. */
export async function cleanup(): Promise<void> {
  const workers = [...started];
  started.clear();
  for (const worker of workers) {
    if (worker.process.exitCode === null && worker.process.signalCode === null) worker.process.kill('SIGKILL');
  }
  await Promise.all(workers.map((worker) => exited(worker).catch(() => {})));
}

/** Calls `check` after each of `emitter`'s `name` events until it returns true. */
export function until(emitter: EventEmitter, name: string, check: () => boolean, timeout = DEFAULT_TIMEOUT): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(name, listener);
      reject(new Error(`timed out after ${timeout} ms waiting for '${name}' events to satisfy a condition`));
    }, timeout);
    const listener = (): void => {
      if (!check()) return;
      clearTimeout(timer);
      emitter.off(name, listener);
      resolve();
    };
    emitter.on(name, listener);
  });
}
