// createCluster(): the supervised cluster for new code.
import assert from 'node:assert/strict';
import os from 'node:os';
import { after, describe, test } from 'node:test';
import {
  ClusterClosedError, createCluster, ExecNotFoundError, InvalidBalancerError, InvalidOptionError,
  InvalidWorkerCountError, type ManagedCluster, type RestartInfo,
} from 'corral';
import { event, report, track, WORKER_FIXTURE } from './helpers/harness.js';
import { countBy, readMany } from './helpers/net-client.js';
import { FakeClock } from './helpers/fake-clock.js';
import { clusterPrimary } from './helpers/internals.js';

const clusters: ManagedCluster[] = [];
after(() => Promise.all(clusters.map((cluster) => cluster.close({ timeout: 2_000 }))));

function managed(options: Parameters<typeof createCluster>[0], context?: Parameters<typeof createCluster>[1]): ManagedCluster {
  const cluster = createCluster(options, context);
  clusters.push(cluster);
  cluster.on('fork', (worker) => track(worker));
  return cluster;
}

describe('createCluster', () => {
  test('start() forks the workers and resolves once all listen; close() stops them all', async () => {
    const cluster = managed({ exec: WORKER_FIXTURE, workers: 3, env: { SCENARIO: 'serve', HOST: '127.0.0.1' } });
    await cluster.start();
    assert.equal(cluster.state, 'running');
    assert.equal(cluster.workers.length, 3);
    const port = ((await report(cluster.workers[0]!, 'listening'))['address'] as { port: number }).port;
    const answers = await readMany(port, 30, 3);
    assert.equal(countBy(answers).size, 3);
    const workers = [...cluster.workers];
    await cluster.close();
    assert.equal(cluster.state, 'closed');
    for (const worker of workers) {
      assert.equal(worker.isDead(), true);
      assert.equal(worker.exitedAfterDisconnect, true);
    }
    await assert.rejects(cluster.start(), ClusterClosedError);
  });

  test('the cluster runs on an injected clock: a second crash in a row waits for its backoff on that clock, not on real time', { timeout: 30_000 }, async () => {
    const clock = new FakeClock();
    const cluster = managed({
      exec: WORKER_FIXTURE, workers: 1, env: { SCENARIO: 'exit-after-listen', EXIT_CODE: '3' },
      restart: { minDelay: 60_000, maxDelay: 60_000, factor: 2, jitter: 0, resetAfter: 600_000 },
    }, { clock });
    const restarts: RestartInfo[] = [];
    cluster.on('restart', (info) => restarts.push(info));
    const nextRestart = () => new Promise<RestartInfo>((resolve) => cluster.once('restart', resolve));
    const firstRestart = nextRestart();
    await cluster.start();
    assert.equal((await firstRestart).delay, 0, 'a first crash restarts at once');
    const secondRestart = nextRestart();
    clock.advance(0);
    assert.notEqual(cluster.status().slots[0]!.worker, undefined, 'the first refill forked when the clock moved');
    assert.equal((await secondRestart).delay, 60_000);
    assert.equal(cluster.status().slots[0]!.state, 'backoff');
    clock.advance(59_999);
    assert.equal(cluster.status().slots[0]!.worker, undefined, 'still waiting 1 ms before the backoff ends');
    clock.advance(1);
    assert.notEqual(cluster.status().slots[0]!.worker, undefined, 'forked when the backoff ended on the injected clock');
    assert.deepEqual(restarts.map((info) => info.crashes), [1, 2]);
    await cluster.close({ timeout: 2_000 });
  });

  test("workers: 'auto' forks one worker per CPU", () => {
    const cluster = managed({ exec: WORKER_FIXTURE, workers: 'auto' });
    assert.equal(cluster.options.workers, os.availableParallelism());
    assert.equal(managed({ exec: WORKER_FIXTURE }).options.workers, os.availableParallelism());
  });

  test('a crashed worker is restarted with growing, jittered delays; a long-lived one resets the backoff', { timeout: 30_000 }, async () => {
    const cluster = managed({
      exec: WORKER_FIXTURE, workers: 1, env: { SCENARIO: 'exit-after-listen', EXIT_CODE: '3' },
      restart: { minDelay: 20, maxDelay: 200, factor: 2, jitter: 0.2, resetAfter: 60_000 },
      crashLoop: { maxCrashes: 100 },
    });
    const restarts: RestartInfo[] = [];
    cluster.on('restart', (info) => restarts.push(info));
    void cluster.start().catch(() => {});
    while (restarts.length < 5) await event(cluster, 'restart', 10_000);
    await cluster.close();
    assert.deepEqual(restarts.map((info) => info.crashes), [1, 2, 3, 4, 5]);
    // A first crash restarts at once; crashes in a row back off from minDelay.
    const bounds = [0, 20, 40, 80, 160].map((base) => [Math.round(base * 0.8), Math.round(base * 1.2)]);
    restarts.forEach((info, index) => {
      const [low, high] = bounds[index]!;
      assert.ok(info.delay >= low! && info.delay <= high!, `restart ${index + 1}: delay ${info.delay} outside ${low}..${high}`);
      assert.equal(info.slot, 0);
    });
  });

  test('restart: false leaves a crashed worker down', async () => {
    const cluster = managed({ exec: WORKER_FIXTURE, workers: 1, restart: false, env: { SCENARIO: 'exit-after-listen' } });
    let restarted = false;
    cluster.on('restart', () => { restarted = true; });
    const exit = event(cluster, 'exit');
    await cluster.start(); // it listened (ready) before it crashed
    await exit;
    assert.equal(restarted, false);
    assert.equal(cluster.workers.length, 0);
    assert.equal(cluster.isReady, false);
    await cluster.close();
    await assert.rejects(cluster.ready(), ClusterClosedError);
  });

  test('broadcast() reaches every worker', async () => {
    const cluster = managed({ exec: WORKER_FIXTURE, workers: 2, readyWhen: 'online', env: { SCENARIO: 'echo' } });
    await cluster.start();
    await Promise.all(cluster.workers.map((worker) => report(worker, 'ready')));
    assert.equal(cluster.broadcast({ announcement: 'hello' }), 2);
    await Promise.all(cluster.workers.map((worker) => event(worker, 'message')));
    await cluster.close();
  });

  test("readyWhen 'manual' takes PM2's process.send('ready') as ready(); the message still reaches the cluster's 'message' listeners", { timeout: 30_000 }, async () => {
    // startTimeout far beyond the wait below: only the message can make it ready in time.
    const cluster = managed({ exec: WORKER_FIXTURE, workers: 1, readyWhen: 'manual', startTimeout: 120_000, env: { SCENARIO: 'pm2-ready' } });
    const heard: [number, unknown][] = [];
    cluster.on('message', (worker, message) => heard.push([worker.id, message]));
    const started = cluster.start();
    await event(cluster, 'ready', 20_000);
    await started;
    assert.deepEqual(heard, [[cluster.workers[0]!.id, 'ready']]);
    await cluster.close();
  });

  test("a draining worker leaves the primary's workers at once, as node:cluster's disconnected ones do; status, counts and events still cover it", async () => {
    const primary = new clusterPrimary.ClusterPrimary();
    const cluster = managed({ exec: WORKER_FIXTURE, workers: 2, env: { SCENARIO: 'serve', HOST: '127.0.0.1' } }, { primary });
    await cluster.start();
    const port = ((await report(cluster.workers[0]!, 'listening'))['address'] as { port: number }).port;
    await readMany(port, 6, 2);
    const handoffs = primary.handoffStats.handoffs;
    assert.ok(handoffs >= 6, `${handoffs} handoffs`);
    const old = [...cluster.workers];
    const seen: { inWorkers: boolean; state: string | undefined; handoffs: number }[] = [];
    const exits: number[] = [];
    primary.on('exit', (worker) => exits.push(worker.id));
    cluster.on('draining', (worker) => {
      // The drain begins right after this event (stopRouting()).
      queueMicrotask(() => seen.push({
        inWorkers: Object.hasOwn(primary.workers, worker.id),
        state: cluster.status().others.find((other) => other.id === worker.id)?.state,
        handoffs: primary.handoffStats.handoffs,
      }));
    });
    await cluster.reload();
    assert.deepEqual(seen, old.map(() => ({ inWorkers: false, state: 'draining', handoffs })));
    assert.deepEqual(exits.sort(), old.map((worker) => worker.id).sort());
    assert.deepEqual(Object.values(primary.workers).sort((a, b) => a.id - b.id), [...cluster.workers].sort((a, b) => a.id - b.id));
    assert.equal(primary.handoffStats.handoffs, handoffs);
  });

  test('close() SIGKILLs workers that do not finish within the timeout', async () => {
    const cluster = managed({ exec: WORKER_FIXTURE, workers: 1, env: { SCENARIO: 'outgoing-connection', TARGET_PORT: '9' }, readyWhen: 'online' });
    await cluster.start();
    const [worker] = cluster.workers;
    await cluster.close({ timeout: 200 });
    assert.ok(worker!.isDead());
  });

  test('bad options fail at once with coded errors that name the value and the fix', () => {
    assert.throws(() => createCluster({ exec: WORKER_FIXTURE, workers: 0 }), (error: unknown) =>
      error instanceof InvalidWorkerCountError && error.code === 'CORRAL_ERR_INVALID_WORKER_COUNT' &&
      /got `0` \(number\)/.test(error.message) && /'auto'/.test(error.message));
    assert.throws(() => createCluster({ exec: WORKER_FIXTURE, workers: 2.5 }), InvalidWorkerCountError);
    assert.throws(() => createCluster({ exec: WORKER_FIXTURE, balancer: 'rr' as never }), (error: unknown) =>
      error instanceof InvalidBalancerError && error.code === 'CORRAL_ERR_INVALID_BALANCER' &&
      /'round-robin', 'least-connections', 'sticky', 'shared', 'reuseport'/.test(error.message) && /got 'rr'/.test(error.message));
    assert.throws(() => createCluster({ exec: '/nonexistent/server.js' }), (error: unknown) =>
      error instanceof ExecNotFoundError && error.code === 'CORRAL_ERR_EXEC_NOT_FOUND' &&
      /\/nonexistent\/server\.js/.test(error.message) && /ENOENT/.test(error.message));
    assert.throws(() => createCluster({ exec: WORKER_FIXTURE, restart: { minDelay: -1 } }), (error: unknown) =>
      error instanceof InvalidOptionError && /restart\.minDelay/.test(error.message));
    assert.throws(() => createCluster({ exec: WORKER_FIXTURE, wokers: 2 } as never), (error: unknown) =>
      error instanceof InvalidOptionError && /wokers/.test(error.message) && /spelling/.test(error.message));
    assert.throws(() => createCluster({ exec: WORKER_FIXTURE, env: { PORT: 8000 as never } }), /String\(8000\)/);
  });
});
