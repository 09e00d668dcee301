/**
 * Installs esm-hooks.ts: in the main thread with `module.registerHooks()` where Node has it,
 * otherwise off-thread with `module.register()` (Node 20 and 22 before 22.15).
 */
import Module from 'node:module';
import { resolve } from './esm-hooks.js';

let installed = false;

export function installNodeClusterHooks(): void {
  if (installed) return;
  installed = true;
  const registerHooks = (Module as { registerHooks?: (hooks: { resolve: typeof resolve }) => unknown }).registerHooks;
  if (typeof registerHooks === 'function') {
    registerHooks({ resolve });
    return;
  }
  Module.register(new URL('./esm-hooks.js', import.meta.url));
}
