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

/** ms since an arbitrary start, from the monotonic clock. */
const monotonicMs = (): number => Number(process.hrtime.bigint() / 1000n) / 1000;

// CPU time, not performance.eventLoopUtilization(): loading perf_hooks' timing internals costs
// a worker about 0.8 MiB of RSS, while process.cpuUsage() costs nothing, and for the JavaScript
// thread that does the app's work the two tell the same story.
function startReporter(interval: number, connections: ConnectionDrain): void {
  let seq = 0;
  let last = monotonicMs();
  let lastCpu = process.cpuUsage();
  const timer = setInterval(() => {
    const now = monotonicMs();
    const elapsed = now - last;
    last = now;
    const cpu = process.cpuUsage(lastCpu);
    lastCpu = process.cpuUsage();
    const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
    const delay = Math.max(0, elapsed - interval);
    void connections.connections().then((open) => {
      seq += 1;
      const report: protocol.RuntimeReport = {
        v: protocol.REPORT_VERSION,
        seq,
        at: Date.now(),
        interval: Math.round(elapsed),
        loop: { delay: Math.round(delay * 10) / 10 },
        cpu: elapsed > 0 ? Math.round(((cpu.user + cpu.system) / 1000 / elapsed) * 1000) / 1000 : 0,
        memory: { rss, heapUsed, heapTotal, external },
        connections: open,
        requests: connections.requests,
      };
      internals.sendCorralFrame({ act: 'report', report });
    });
  }, interval);
  timer.unref();
}

export = startReporter;
