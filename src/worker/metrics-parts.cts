/**
 * The app's metrics cut into parts for the IPC channel: the primary parses each IPC message in one
 * go on its event loop, which also accepts every connection, so an answer of 100,000 series (8 MB
 * of JSON, 0.4 s to parse) must come as many small messages instead. A metric with more values
 * than fit in a part is split into several of the same name; the primary's sum groups by name and
 * label set, so the parts add up to the whole (each label set is still in one part only).
 */
import protocol = require('./runtime-protocol.cjs');

interface Metric {
  values?: unknown;
}

function metricParts(metrics: readonly unknown[], limit: number = protocol.METRICS_PART_VALUES): unknown[][] {
  const parts: unknown[][] = [];
  let part: unknown[] = [];
  let size = 0;
  const close = (): void => {
    if (part.length > 0) parts.push(part);
    part = [];
    size = 0;
  };
  for (const metric of metrics) {
    const values = (metric as Metric | null)?.values;
    if (!Array.isArray(values) || values.length <= limit) {
      const count = Array.isArray(values) ? values.length : 1;
      if (size + count > limit) close();
      part.push(metric);
      size += count;
      continue;
    }
    close();
    for (let start = 0; start < values.length; start += limit) {
      parts.push([{ ...(metric as object), values: values.slice(start, start + limit) }]);
    }
  }
  close();
  return parts.length === 0 ? [[]] : parts;
}

export = metricParts;
