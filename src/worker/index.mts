/**
 * `import { ready, onShutdown, slot } from 'corral/worker'`: the ES module face of index.cts
 * (which see). Both faces talk to the same runtime.
 */
import api from './index.cjs';

export type { ShutdownHook, ShutdownInfo } from './index.cjs';
export const { ready, onShutdown, slot } = api;
