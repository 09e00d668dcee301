/**
 * Where the worker runtime lives: one per process, under a global symbol, so that the preload
 * and every copy of corral/worker the app loads (even from another installed copy of corral)
 * share it.
 */
import type WorkerRuntime = require('./runtime.cjs');

const kRuntime = Symbol.for('corral.workerRuntime');

interface RuntimeHolder {
  [kRuntime]?: WorkerRuntime;
}

const registry = {
  get(): WorkerRuntime | undefined {
    return (globalThis as RuntimeHolder)[kRuntime];
  },
  set(runtime: WorkerRuntime): void {
    Object.defineProperty(globalThis, kRuntime, { value: runtime, configurable: true });
  },
};

export = registry;
