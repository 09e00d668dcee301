/**
 * The worker's periodic runtime report (protocol.RuntimeReport): event loop delay, CPU use,
 * memory, open connections and requests served, in one frame every
 * `reportInterval` ms. Its arrival is also the heartbeat.
 *
 * Kept off the app's hot path: nothing is measured per request or per connection (the request
 * count is one increment in a diagnostics channel subscription the drain already has; the
 * connection count is net.Server's own, read when the report is taken). The timer is unref'ed,
 * so the report never keeps a worker alive, and a blocked event loop simply sends nothing.
 */
import type ConnectionDrain = require('./connection-drain.cjs');
import internals = require('./node-internals.cjs');
import protocol = require('./runtime-protocol.cjs');
import HandoffCount = require('./handoff-count.cjs');

/** ms since an arbitrary start, from the monotonic clock. */
const monotonicMs = (): number => Number(process.hrtime.bigint() / 1000n) / 1000;

// CPU time, not performance.eventLoopUtilization(): loading perf_hooks' timing internals costs
// a worker about 0.8 MiB of RSS, while process.cpuUsage() costs nothing, and for the JavaScript
// thread that does the app's work the two tell the same story.
//
// With `handoffs` (least-connections), a report also goes EARLY_REPORT_DELAY ms after a
// handed-over connection closes (one for every close in that time), so that the primary's count
// of open connections lags by that much at most. An early report is cheap: its CPU, requests and
// handoffs are fresh, while the event loop's delay, memory and open connections are the timer's
// latest measures, which it repeats.
function startReporter(interval: number, connections: ConnectionDrain, handoffs: boolean): void {
  let seq = 0;
  let lastReport = monotonicMs();
  let lastTick = lastReport;
  let delay = 0;
  let lastCpu = process.cpuUsage();
  let early: NodeJS.Timeout | undefined;
  /** The timer's measures, which an early report repeats (memoryUsage() and getConnections() cost more than the rest). */
  let memory: protocol.RuntimeReport['memory'] | undefined;
  let open = 0;
  const count = handoffs ? new HandoffCount(() => {
    // Early reports start once the timer has measured (the first report is always a full one).
    if (memory === undefined) return;
    early ??= setTimeout(() => {
      early = undefined;
      send();
    }, protocol.EARLY_REPORT_DELAY).unref();
  }) : undefined;
  const send = (): void => {
    if (memory === undefined) return;
    const now = monotonicMs();
    const elapsed = now - lastReport;
    lastReport = now;
    const cpu = process.cpuUsage(lastCpu);
    lastCpu = process.cpuUsage();
    seq += 1;
    const report: protocol.RuntimeReport = {
      v: protocol.REPORT_VERSION,
      seq,
      at: Date.now(),
      interval: Math.round(elapsed),
      loop: { delay: Math.round(delay * 10) / 10 },
      cpu: elapsed > 0 ? Math.round(((cpu.user + cpu.system) / 1000 / elapsed) * 1000) / 1000 : 0,
      memory,
      connections: open,
      requests: connections.requests,
      ...(count === undefined ? {} : { handoffs: { received: count.received, closed: count.closed } }),
    };
    internals.sendCorralFrame({ act: 'report', report });
  };
  const timer = setInterval(() => {
    const now = monotonicMs();
    delay = Math.max(0, now - lastTick - interval);
    lastTick = now;
    const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
    memory = { rss, heapUsed, heapTotal, external };
    void connections.connections().then((current) => {
      open = current;
      send();
    });
  }, interval);
  timer.unref();
}

export = startReporter;
