/**
 * Loaded by corral into every worker it starts (`node --require <this file> app.js`), before the
 * app. It creates the worker runtime (runtime.cts) and then hides its own traces, so that the app
 * sees what it would under node:cluster: its `--require` pair leaves `process.execArgv` (children
 * the app forks do not load it) and the settings variable leaves `process.env`. CORRAL_SLOT and
 * NODE_APP_INSTANCE stay: they are documented.
 */
import cluster = require('node:cluster');
import protocol = require('./runtime-protocol.cjs');
import registry = require('./registry.cjs');
import WorkerRuntime = require('./runtime.cjs');

const raw = process.env[protocol.SETTINGS_ENV];
delete process.env[protocol.SETTINGS_ENV];
const flag = process.execArgv.findIndex((arg, index) => arg === '--require' && process.execArgv[index + 1] === __filename);
if (flag !== -1) process.execArgv.splice(flag, 2);

const settings = parseSettings(raw);
// node:cluster's CommonJS export is the cluster object (its types describe the ES module face).
if ((cluster as unknown as typeof cluster.default).isWorker && settings !== undefined && registry.get() === undefined) {
  const slot = Number.parseInt(process.env[protocol.SLOT_ENV] ?? '', 10);
  registry.set(new WorkerRuntime(settings, Number.isInteger(slot) ? slot : undefined));
}

function parseSettings(text: string | undefined): protocol.RuntimeSettings | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Partial<protocol.RuntimeSettings> | null;
    if (value?.v === protocol.VERSION && typeof value.shutdownTimeout === 'number' &&
        (value.reportInterval === undefined || typeof value.reportInterval === 'number') &&
        (value.maxMessageSize === undefined || typeof value.maxMessageSize === 'number')) {
      return value as protocol.RuntimeSettings;
    }
  } catch {
    // Not ours, or from another version: run without the runtime, as under node:cluster.
  }
  return undefined;
}
