/**
 * The app's own prom-client metrics, read inside the worker for the primary's `/metrics` (the
 * admin server sums them over the workers, src/observability/app-metrics.ts).
 *
 * Nothing is loaded for it: prom-client is found among the modules the app has already loaded
 * (`require.cache`; an `import` of prom-client, a CommonJS package, goes through the same cache),
 * and its default registry is read, the one `new Counter()` and `collectDefaultMetrics()` use. An
 * app without prom-client answers `null` and costs nothing more. Every copy the app loaded is read
 * (two versions in one tree each have their own default registry).
 */
import protocol = require('./runtime-protocol.cjs');

/** prom-client's registry module, under its old and its new package name. */
const REGISTRY_MODULE = /[\\/](?:prom-client|@prometheus[\\/]client)[\\/]lib[\\/]registry\.js$/;

interface PromClientRegistry {
  getMetricsAsJSON(): Promise<unknown[]>;
}

const isRegistry = (value: unknown): value is PromClientRegistry =>
  typeof value === 'object' && value !== null && typeof (value as Partial<PromClientRegistry>).getMetricsAsJSON === 'function';

let found: PromClientRegistry[] = [];

/** The default registry of each prom-client the app loaded (looked for again until one is found). */
function registries(): PromClientRegistry[] {
  if (found.length > 0) return found;
  const registries: PromClientRegistry[] = [];
  for (const [file, loaded] of Object.entries(require.cache)) {
    if (!REGISTRY_MODULE.test(file)) continue;
    const registry = (loaded?.exports as { globalRegistry?: unknown } | undefined)?.globalRegistry;
    if (isRegistry(registry)) registries.push(registry);
  }
  found = registries;
  return registries;
}

/** The app's metrics as prom-client's `getMetricsAsJSON()` gives them; null when it has none. */
async function collectAppMetrics(): Promise<protocol.AppMetricsReply> {
  const sources = registries();
  if (sources.length === 0) return { metrics: null };
  try {
    const lists = await Promise.all(sources.map((registry) => registry.getMetricsAsJSON()));
    return { metrics: lists.flat() };
  } catch (error) {
    // A collect() callback of the app threw: the primary says so and leaves this worker out.
    return { metrics: null, error: error instanceof Error ? error.message : String(error) };
  }
}

export = collectAppMetrics;
