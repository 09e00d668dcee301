/**
 * Refuses Bun and Deno, checked by `import`/`require` of corral and by the `corral` command right
 * after the Node version (node-version.cts). Both report a Node.js version in
 * `process.versions.node` (26.3.0 in Bun 1.4 and Deno 2.9), so that check passes; without this one
 * the app then fails in ways that blame it (errors.ts, UnsupportedRuntimeError).
 *
 * CommonJS, as node-version.cts, so that `require('corral')` throws the error from CommonJS code:
 * Deno's require() of an ES module turns an error thrown there whose class sets its `name` (every
 * CorralError) into `undefined`.
 */
import type * as errors from '../errors.js' with { 'resolution-mode': 'import' };

interface OtherRuntime {
  readonly name: 'Bun' | 'Deno';
  readonly version: string;
}

/**
 * Bun or Deno, by the version each sets in `process.versions` (a global of its name alone may be
 * a polyfill or a test's mock on Node.js); undefined on Node.js.
 */
function otherRuntime(versions: Readonly<Record<string, unknown>> = process.versions,
  globals: Readonly<Record<string, unknown>> = globalThis): OtherRuntime | undefined {
  for (const name of ['Bun', 'Deno'] as const) {
    const key = name.toLowerCase();
    if (versions[key] === undefined) continue;
    // Bun.version is its version; Deno.version is { deno, v8, typescript }.
    const global = globals[name] as { version?: unknown } | undefined;
    const version = versions[key] ?? (typeof global?.version === 'object' ? (global.version as Record<string, unknown>)[key] : global?.version);
    return { name, version: typeof version === 'string' ? version : '' };
  }
  return undefined;
}

const runtime = otherRuntime();
if (runtime !== undefined) {
  // Loaded only here: both runtimes require() ES modules, and on Node.js nothing more loads.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- require(esm) of corral's errors
  const { UnsupportedRuntimeError } = require('../errors.js') as typeof errors;
  throw new UnsupportedRuntimeError(runtime.name, runtime.version);
}

export = { otherRuntime };
