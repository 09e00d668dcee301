/**
 * Opening a worker's inspector late: a replacement (a reload, a recycle) starts while the worker
 * it replaces still listens on the slot's inspector port, so it starts with none, and the primary
 * asks it to open one on that port once the old worker has exited (src/managed/inspector-slots.ts).
 * The slot's debugger address then never changes.
 */
import type Inspector = require('node:inspector');

function openInspector(host: string, port: number): void {
  try {
    // Loaded only here: a Node built without the inspector throws on loading it.
    const inspector = require('node:inspector') as typeof Inspector;
    // Opened meanwhile (the app called inspector.open() itself, or a SIGUSR1): it stays as it is.
    if (inspector.url() !== undefined) return;
    // As `--inspect` does, it says "Debugger listening on ws://…" on stderr.
    inspector.open(port, host, false);
  } catch (error) {
    process.stderr.write(`corral: this worker's inspector could not open on ${host}:${port}: ${(error as Error).message}\n`);
  }
}

export = openInspector;
