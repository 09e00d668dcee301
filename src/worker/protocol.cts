/**
 * The wire protocol between corral's primary and its runtime inside each worker (runtime.cts).
 *
 * Frames travel over the worker's IPC channel as `{ cmd: 'NODE_CORRAL', v, act, … }`. Node routes
 * every message whose `cmd` starts with `NODE_` to the internal channel, so they never reach the
 * app's `process.on('message')` or the primary's `worker.on('message')`; Node's own cluster code
 * ignores them because it only reads `cmd: 'NODE_CLUSTER'`. `v` is the protocol version: a side
 * that gets a frame of another version ignores it (two installed copies of corral may meet).
 */
const protocol = {
  FRAME_CMD: 'NODE_CORRAL',
  VERSION: 1,
  /** The environment variable that carries RuntimeSettings (JSON) into the worker; removed on load. */
  SETTINGS_ENV: 'CORRAL_WORKER_RUNTIME',
  /** The worker's slot, as a decimal string (documented; stays in the environment). */
  SLOT_ENV: 'CORRAL_SLOT',
  /** PM2's name for the slot (documented; stays in the environment). */
  PM2_SLOT_ENV: 'NODE_APP_INSTANCE',
  /** The most stderr text a starting worker forwards to the primary. */
  STARTUP_STDERR_LIMIT: 8192,
} as const;

// eslint-disable-next-line @typescript-eslint/no-namespace -- types merged with the `export =` value
declare namespace protocol {
  /** Why a worker drains. */
  type DrainReason = 'shutdown' | 'reload' | 'scale' | 'signal';

  /** Primary → worker. */
  type ToWorker =
    /** Stop taking work, finish in-flight requests, run onShutdown hooks, exit; `timeout` ms left. */
    | { act: 'drain'; reason: DrainReason; timeout: number }
    /** The primary counts the worker as started: stop forwarding stderr. */
    | { act: 'started' };

  /** Worker → primary. */
  type FromWorker =
    /** The runtime is loaded (sent from the preload, before the app's code runs). */
    | { act: 'hello' }
    /** The app called ready() (manual readiness). */
    | { act: 'ready' }
    /** The worker began draining on its own (it received `signal`). */
    | { act: 'draining'; reason: 'signal'; signal: string }
    /** Text a starting worker wrote to stderr, or an uncaught error it is dying of. */
    | { act: 'stderr'; text: string };

  /** What the primary tells the runtime at fork, through SETTINGS_ENV. */
  interface RuntimeSettings {
    v: 1;
    /** ms a worker that drains on its own (on SIGTERM/SIGINT) gives itself before exiting. */
    shutdownTimeout: number;
  }
}

export = protocol;
