// Every balancer through a scale-down, a scale-up and a rolling reload under real load (a new
// connection per request, 16 at a time): no request fails, so no connection that was queued,
// in flight or handed over was lost. reuseport runs where Node supports it (22.12+, 23.1+, Linux)
// and says why it does not elsewhere.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import { createCluster, type BalancerName, type ManagedCluster } from 'corral';
import { reuseportSupport } from './helpers/internals.js';
import { startLoad } from './helpers/load.js';
import { freePort } from './helpers/net-client.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-balancer-lifecycle-'));
after(() => rmSync(dir, { recursive: true, force: true }));
/** An HTTP app that answers `<slot> <pid>` after 5 ms, so requests are in flight inside the workers. */
const APP = path.join(dir, 'slow-answer.cjs');
writeFileSync(APP, `require('node:http').createServer((request, response) => {
  setTimeout(() => response.end(process.env.CORRAL_SLOT + ' ' + process.pid + '\\n'), 5);
}).listen(Number(process.env.PORT), '127.0.0.1');\n`);

const clusters: ManagedCluster[] = [];
afterEach(async () => {
  await Promise.all(clusters.splice(0).map((cluster) => cluster.close()));
});

const BALANCERS: readonly BalancerName[] = ['round-robin', 'least-connections', 'sticky', 'shared', 'reuseport'];

describe('each balancer through scale-down, scale-up and a rolling reload under load', () => {
  for (const balancer of BALANCERS) {
    const unsupported = balancer === 'reuseport' ? reuseportSupport.reuseportUnsupported() : undefined;
    test(`${balancer}: no request fails`, { timeout: 90_000, skip: unsupported === undefined ? false : `reuseport does not run here: ${unsupported}` }, async () => {
      const port = await freePort();
      const cluster = createCluster({ exec: APP, workers: 4, balancer, env: { PORT: String(port) }, shutdownTimeout: 10_000 });
      clusters.push(cluster);
      await cluster.start();
      const load = startLoad(port, { keepAlive: false, connections: 16 });
      try {
        await load.moreResponses(300);
        assert.deepEqual((await cluster.scale(2)).removed.length, 2);
        await load.moreResponses(300);
        assert.deepEqual((await cluster.scale(4)).added.length, 2);
        await load.moreResponses(300);
        const reload = await cluster.reload();
        assert.equal(reload.replaced.length, 4);
        await load.moreResponses(300);
      } finally {
        const result = await load.stop();
        assert.deepEqual({ non2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts }, { non2xx: 0, errors: 0, timeouts: 0 },
          `${balancer}: ${result.errors} errors, ${result.timeouts} timeouts in ${result.total} requests`);
        assert.ok(result.ok >= 1200, `${result.ok} requests answered`);
      }
    });
  }
});
