/**
 * `corral/worker`: the app's few hooks into corral's lifecycle.
 *
 *   const { ready, onShutdown, slot } = require('corral/worker');
 *   import { ready, onShutdown, slot } from 'corral/worker';
 *
 * Under corral these talk to the runtime corral loaded into the worker. Anywhere else (plain
 * `node app.js`, node:cluster, tests) they are harmless: `ready()` does nothing, `onShutdown`
 * hooks never run, and `slot` is undefined.
 */
import registry = require('./registry.cjs');
import type WorkerRuntime = require('./runtime.cjs');

/**
 * Tells corral the worker is ready for traffic. Needed only with `ready: 'manual'`
 * (`corral start --ready manual`); otherwise a worker is ready once it listens.
 */
function ready(): void {
  registry.get()?.ready();
}

/**
 * Registers `hook` to run when the worker stops (shutdown, reload, scale-down, SIGTERM): after
 * its servers stopped accepting and in-flight requests finished (or halfway to the deadline),
 * before it exits. corral waits for the returned promise until its shutdown deadline. Returns a
 * function that removes the hook.
 */
function onShutdown(hook: WorkerRuntime.ShutdownHook): () => void {
  const runtime = registry.get();
  if (runtime !== undefined) return runtime.onShutdown(hook);
  if (typeof hook !== 'function') throw new TypeError('onShutdown() takes a function, for example onShutdown(() => db.close()).');
  return () => {};
}

/**
 * This worker's slot: 0 … workers-1, stable across restarts and reloads (a replacement takes the
 * slot of the worker it replaces). Also in `process.env.CORRAL_SLOT` and `NODE_APP_INSTANCE`.
 * Undefined when the app does not run under corral.
 */
const slot: number | undefined = registry.get()?.slot;

// eslint-disable-next-line @typescript-eslint/no-namespace -- types merged with the `export =` value
declare namespace api {
  export type ShutdownHook = WorkerRuntime.ShutdownHook;
  export type ShutdownInfo = WorkerRuntime.ShutdownInfo;
}
const api = { ready, onShutdown, slot };

export = api;
