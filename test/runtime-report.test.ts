// The runtime report: the one periodic frame (heartbeat, event loop delay, CPU, memory,
// connections, requests) that every worker of a managed cluster sends to the primary.
import assert from 'node:assert/strict';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { createCluster, type ManagedCluster, type RuntimeReport } from 'corral';
import { symbols } from './helpers/internals.js';
import { freePort } from './helpers/net-client.js';

const APP = fileURLToPath(new URL('../../test/fixtures/runtime-report/app.cjs', import.meta.url));
const clusters: ManagedCluster[] = [];
after(() => Promise.all(clusters.map((cluster) => cluster.close({ timeout: 2_000 }))));

/** The next report for which `accept` holds, within `timeout` ms. */
function nextReport(cluster: ManagedCluster, accept: (report: RuntimeReport) => boolean, timeout = 10_000): Promise<RuntimeReport> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cluster.off('report', listener); reject(new Error(`no matching report within ${timeout} ms`)); }, timeout);
    const listener = (_worker: unknown, report: RuntimeReport): void => {
      if (!accept(report)) return;
      clearTimeout(timer);
      cluster.off('report', listener);
      resolve(report);
    };
    cluster.on('report', listener);
  });
}

function get(agent: http.Agent, port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => { body += chunk; }).on('end', () => resolve(body));
    }).on('error', reject);
  });
}

describe('runtime report', () => {
  test('every second: a versioned report with memory, open connections and requests served; never seen by the app', { timeout: 30_000 }, async () => {
    const port = await freePort();
    const cluster = createCluster({ exec: APP, workers: 1, env: { PORT: String(port) } });
    clusters.push(cluster);
    await cluster.start();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 5; i++) assert.equal(await get(agent, port, '/'), 'ok');
      // The keep-alive connection stays open while the report is taken.
      const report = await nextReport(cluster, (candidate) => candidate.requests >= 5);
      assert.equal(report.v, 1);
      assert.equal(report.connections, 1);
      assert.ok(report.memory.rss > 10 * 1024 * 1024 && report.memory.heapUsed > 0 && report.memory.heapTotal >= report.memory.heapUsed);
      assert.ok(report.interval >= 900 && report.interval < 5_000, `interval ${report.interval}`);
      assert.ok(report.cpu >= 0 && report.cpu < 2, `cpu ${report.cpu}`);
      const following = await nextReport(cluster, () => true);
      assert.equal(following.seq, report.seq + 1);
      assert.ok(following.at > report.at);
      // Status carries the latest report of each worker, and so does the worker, for the balancers.
      assert.equal(cluster.status().slots[0]!.worker!.report!.seq >= following.seq, true);
      assert.equal((cluster.workers[0] as unknown as Record<symbol, RuntimeReport>)[symbols.kRuntimeReport]!.seq >= following.seq, true);
      // Every report travelled on corral's internal channel: the app's 'message' listener saw none.
      assert.equal(await get(agent, port, '/messages'), '0');
    } finally {
      agent.destroy();
    }
  });

  test('a blocked event loop sends no report while blocked (the heartbeat stops), then reports the delay', { timeout: 30_000 }, async () => {
    const port = await freePort();
    const cluster = createCluster({ exec: APP, workers: 1, env: { PORT: String(port) } });
    clusters.push(cluster);
    await cluster.start();
    const before = await nextReport(cluster, () => true);
    const agent = new http.Agent({ keepAlive: false });
    const reports: RuntimeReport[] = [];
    const collect = (_worker: unknown, report: RuntimeReport): void => { reports.push(report); };
    cluster.on('report', collect);
    const blockedAt = Date.now();
    await get(agent, port, '/block?ms=2500');
    const unblockedAt = Date.now();
    const after = await nextReport(cluster, (report) => report.at >= unblockedAt - 50);
    cluster.off('report', collect);
    // None was taken during the block.
    assert.deepEqual(reports.filter((report) => report.at > blockedAt + 200 && report.at < unblockedAt - 200), []);
    const late = [...reports, after].find((report) => report.seq > before.seq && report.loop.delay >= 1_000);
    assert.ok(late !== undefined, `a report says the loop was late: ${JSON.stringify(reports.map((report) => report.loop))}`);
    assert.ok(late.cpu > 0.5, `a busy loop used a core: cpu ${late.cpu}`);
  });
});
