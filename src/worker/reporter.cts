/**
 * The worker's periodic runtime report (protocol.RuntimeReport): event loop delay and
 * utilization, memory, open connections and requests served, in one frame every
 * `reportInterval` ms. Its arrival is also the heartbeat.
 *
 * Kept off the app's hot path: nothing is measured per request or per connection (the request
 * count is one increment in a diagnostics channel subscription the drain already has; the
 * connection count is net.Server's own, read when the report is taken). The timer is unref'ed,
 * so the report never keeps a worker alive, and a blocked event loop simply sends nothing.
 */
import perfHooks = require('node:perf_hooks');
import type ConnectionDrain = require('./connection-drain.cjs');
import internals = require('./node-internals.cjs');
import protocol = require('./protocol.cjs');

const { performance } = perfHooks;

function startReporter(interval: number, connections: ConnectionDrain): () => void {
  let seq = 0;
  let last = performance.now();
  let lastUtilization = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.now();
    const elapsed = now - last;
    last = now;
    const current = performance.eventLoopUtilization();
    const utilization = performance.eventLoopUtilization(current, lastUtilization);
    lastUtilization = current;
    const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
    const delay = Math.max(0, elapsed - interval);
    void connections.connections().then((open) => {
      seq += 1;
      const report: protocol.RuntimeReport = {
        v: protocol.REPORT_VERSION,
        seq,
        at: Date.now(),
        interval: Math.round(elapsed),
        loop: { delay: Math.round(delay * 10) / 10, utilization: Math.round(utilization.utilization * 1000) / 1000 },
        memory: { rss, heapUsed, heapTotal, external },
        connections: open,
        requests: connections.requests,
      };
      internals.sendCorralFrame({ act: 'report', report });
    });
  }, interval);
  timer.unref();
  return () => clearInterval(timer);
}

export = startReporter;
