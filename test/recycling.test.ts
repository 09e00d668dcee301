// Worker recycling (maxMemory, maxMemoryHard, maxRequests, maxAge), with real processes, real
// leaks and real load: a worker past a limit is replaced by a ready worker before it drains, one
// slot at a time, and no request fails.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { createCluster, type HealthAction, type ManagedCluster, type RuntimeReport, type Worker } from 'corral';
import { startLoad } from './helpers/load.js';
import { memoryBudget } from './helpers/internals.js';
import { freePort } from './helpers/net-client.js';
import { exitOf, killPrograms, runCommand, startProgram } from './helpers/program.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-recycling-'));
const RUN_DIR = path.join(dir, 'run');
const MiB = 1024 * 1024;
const clusters: ManagedCluster[] = [];
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await killPrograms();
  await Promise.all(clusters.splice(0).map((cluster) => cluster.close({ force: true })));
});

/** Serves its pid; leaks LEAK_MB_PER_S MiB a second of memory that counts in its RSS (Buffers, filled). */
const LEAKING_APP = path.join(dir, 'leaking.cjs');
writeFileSync(LEAKING_APP, `'use strict';
const kept = [];
const perTick = Number(process.env.LEAK_MB_PER_S ?? 0) * 1024 * 1024 / 10;
if (perTick > 0) setInterval(() => { kept.push(Buffer.allocUnsafe(perTick).fill(1)); }, 100);
require('node:http').createServer((req, res) => res.end(String(process.pid))).listen(Number(process.env.PORT), '127.0.0.1');
`);

/** Grows its V8 heap by HEAP_MB_PER_S MiB a second (arrays of doubles, kept). */
const HEAP_APP = path.join(dir, 'heap.cjs');
writeFileSync(HEAP_APP, `'use strict';
const kept = [];
const arraysPerTick = Math.round(Number(process.env.HEAP_MB_PER_S) * 8 / 10);
setInterval(() => { for (let i = 0; i < arraysPerTick; i++) kept.push(Array.from({ length: 16384 }, (_, j) => j + 0.5)); }, 100);
require('node:http').createServer((req, res) => res.end(String(process.pid))).listen(Number(process.env.PORT), '127.0.0.1');
`);

function managed(options: Parameters<typeof createCluster>[0]): ManagedCluster {
  const cluster = createCluster(options);
  clusters.push(cluster);
  return cluster;
}

/** Resolves with the first `count` health actions (with a deadline). */
function healthActions(cluster: ManagedCluster, count: number, timeout: number): Promise<HealthAction[]> {
  const actions: HealthAction[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cluster.off('health', onAction);
      reject(new Error(`only ${actions.length} of ${count} health actions within ${timeout} ms`));
    }, timeout);
    const onAction = (action: HealthAction): void => {
      actions.push(action);
      if (actions.length < count) return;
      clearTimeout(timer);
      cluster.off('health', onAction);
      resolve(actions);
    };
    cluster.on('health', onAction);
  });
}

/**
 * Watches what recycling must never do: run more than one extra worker process (two slots
 * recycling at once), or drain a worker while a slot has no ready worker (fewer serving than
 * configured). Returns the figures seen.
 */
function watchRecycling(cluster: ManagedCluster): { maxProcesses: () => number; drainsWhileShort: () => number; drains: () => number } {
  let processes = 0;
  let maxProcesses = 0;
  let drains = 0;
  let drainsWhileShort = 0;
  cluster.on('fork', () => {
    processes += 1;
    maxProcesses = Math.max(maxProcesses, processes);
  });
  cluster.on('exit', () => {
    processes -= 1;
  });
  cluster.on('draining', (_worker, reason) => {
    if (reason !== 'recycle') return;
    drains += 1;
    if (!cluster.status().slots.every((slot) => slot.state === 'ready')) drainsWhileShort += 1;
  });
  return { maxProcesses: () => maxProcesses, drainsWhileShort: () => drainsWhileShort, drains: () => drains };
}

describe('maxMemory', () => {
  test('a worker leaking 20 MB/s under keep-alive load with maxMemory 150M is recycled again and again: no request fails, memory never far above the limit', { timeout: 60_000 }, async (t) => {
    const port = await freePort();
    const cluster = managed({ exec: LEAKING_APP, workers: 2, env: { PORT: String(port), LEAK_MB_PER_S: '20' }, maxMemory: '150M' });
    assert.equal(cluster.options.maxMemory, 150 * MiB);
    const watch = watchRecycling(cluster);
    let highest = 0;
    cluster.on('report', (_worker, report: RuntimeReport) => {
      highest = Math.max(highest, report.memory.rss);
    });
    await cluster.start();
    const load = startLoad(port, { connections: 8, keepAlive: true });
    // Both workers start together and leak alike: six recycles take about 18 s of load.
    const actions = await healthActions(cluster, 6, 45_000);
    const result = await load.stop();
    for (const action of actions) {
      assert.equal(action.reason, 'memory');
      assert.equal(action.action, 'recycle');
      assert.ok(action.reason === 'memory' && action.measure === 'rss');
      assert.equal(action.limit, 150 * MiB);
      assert.ok(action.value >= 150 * MiB);
    }
    assert.deepEqual({ non2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts }, { non2xx: 0, errors: 0, timeouts: 0 });
    assert.ok(result.ok > 1000, `${result.ok} responses`);
    t.diagnostic(`${result.ok} responses; highest RSS reported ${(highest / MiB).toFixed(1)} MiB; ` +
      `recycled at ${actions.map((action) => (action.value / MiB).toFixed(1)).join(', ')} MiB; at most ${watch.maxProcesses()} worker processes`);
    // Reports come each second and a recycle takes a moment: two seconds of growth at most.
    assert.ok(highest < 150 * MiB + 40 * MiB, `highest RSS reported: ${(highest / MiB).toFixed(1)} MiB`);
    assert.equal(watch.drainsWhileShort(), 0, 'a worker drained while a slot had no ready worker');
    assert.ok(watch.maxProcesses() <= 3, `${watch.maxProcesses()} worker processes at once: two slots recycled together`);
    assert.ok(cluster.status().health.memory >= actions.length);
    assert.ok(cluster.status().slots.some((slot) => slot.lastExit?.reason === 'memory'));
  });

  test('maxMemoryOf heap: a worker capped by --max-old-space-size whose heap grows is recycled before V8 aborts it', { timeout: 60_000 }, async () => {
    // Without corral, the same app dies of it (V8 aborts: exit code 134, or SIGABRT).
    const alone = startProgram(HEAP_APP, [], { execArgv: ['--max-old-space-size=64'], env: { PORT: String(await freePort()), HEAP_MB_PER_S: '16' } });
    const death = await exitOf(alone);
    assert.ok(death.code === 134 || death.signal === 'SIGABRT', `alone it exited with ${JSON.stringify(death)}`);

    const port = await freePort();
    const cluster = managed({
      exec: HEAP_APP, workers: 2, env: { PORT: String(port), HEAP_MB_PER_S: '16' },
      execArgv: ['--max-old-space-size=64'], maxMemory: '40M', maxMemoryOf: 'heap', reportInterval: 250,
    });
    const exits: { code: number | null; signal: string | null }[] = [];
    cluster.on('exit', (_worker, code, signal) => exits.push({ code, signal }));
    const failures: unknown[] = [];
    cluster.on('startFailed', (failure) => failures.push(failure));
    await cluster.start();
    const load = startLoad(port, { connections: 4, keepAlive: false });
    const actions = await healthActions(cluster, 4, 40_000);
    // Recycles run one at a time: the last ones may still be under way.
    while (exits.length < 4) await once(cluster, 'exit');
    const result = await load.stop();
    for (const action of actions) {
      assert.ok(action.reason === 'memory' && action.measure === 'heap' && action.action === 'recycle', JSON.stringify(action.reason));
      assert.ok(action.value >= 40 * MiB && action.value < 64 * MiB, `heap ${action.value}`);
    }
    assert.deepEqual(exits.filter((exit) => exit.code !== 0), [], 'every recycled worker drained and exited with code 0; none aborted');
    assert.deepEqual(failures, []);
    assert.deepEqual({ non2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts }, { non2xx: 0, errors: 0, timeouts: 0 });
  });

  test('maxMemoryHard: a worker that goes on leaking while its replacement starts is SIGKILLed at the hard limit', { timeout: 30_000 }, async () => {
    const port = await freePort();
    // A replacement takes 3 s to be ready (ready() late), while the worker leaks 60 MB/s past 100M.
    const slowApp = path.join(dir, 'slow-leaking.cjs');
    writeFileSync(slowApp, `'use strict';
const { ready } = require(${JSON.stringify(fileURLToPath(new URL('../../dist/worker/index.cjs', import.meta.url)))});
const kept = [];
require('node:http').createServer((req, res) => res.end(String(process.pid))).listen(Number(process.env.PORT), '127.0.0.1', () => {
  setTimeout(() => {
    ready();
    setInterval(() => { kept.push(Buffer.allocUnsafe(6 * 1024 * 1024).fill(1)); }, 100);
  }, 3000);
});
`);
    const cluster = managed({
      exec: slowApp, workers: 1, env: { PORT: String(port) }, readyWhen: 'manual',
      maxMemory: '100M', maxMemoryHard: '160M', reportInterval: 200,
    });
    await cluster.start();
    const first = cluster.workers[0]!;
    const [recycle, kill] = await healthActions(cluster, 2, 20_000);
    assert.equal(recycle!.action, 'recycle');
    assert.equal(kill!.action, 'kill');
    assert.equal(kill!.reason, 'memory');
    assert.equal(kill!.worker, first);
    assert.equal(kill!.limit, 160 * MiB);
    const [, , signal] = await once(cluster, 'exit') as [unknown, number | null, string | null];
    assert.equal(signal, 'SIGKILL');
    // Its replacement (already starting) takes the slot once ready.
    await cluster.ready();
    assert.notEqual(cluster.workers[0], first);
    assert.equal(cluster.status().slots[0]!.lastExit?.reason, 'memory');
  });
});

describe('maxMemoryHard during a drain', () => {
  test('a worker that leaks while it drains (its onShutdown hook) is SIGKILLed at maxMemoryHard, not left to the shutdown deadline', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const drainingLeak = path.join(dir, 'draining-leak.cjs');
    writeFileSync(drainingLeak, `'use strict';
const { onShutdown } = require(${JSON.stringify(fileURLToPath(new URL('../../dist/worker/index.cjs', import.meta.url)))});
require('node:http').createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
onShutdown(() => new Promise(() => {
  const kept = [];
  // Up to 600 MiB, should the limit ever fail to act: the machine is shared.
  setInterval(() => { if (kept.length < 75) kept.push(Buffer.allocUnsafe(8 * 1024 * 1024).fill(1)); }, 100);
}));
`);
    const cluster = managed({
      exec: drainingLeak, workers: 1, env: { PORT: String(port) }, maxMemoryHard: '150M', reportInterval: 100, shutdownTimeout: 20_000,
    });
    await cluster.start();
    const first = cluster.workers[0]!;
    const actions: HealthAction[] = [];
    cluster.on('health', (action) => actions.push(action));
    const result = await cluster.close();
    assert.equal(actions.length, 1, JSON.stringify(actions.map(({ reason, action, value, limit }) => ({ reason, action, value, limit }))));
    const [kill] = actions;
    assert.deepEqual([kill!.reason, kill!.action, kill!.worker, kill!.limit], ['memory', 'kill', first, 150 * MiB]);
    assert.ok(kill!.value < 300 * MiB, `killed at ${Math.round(kill!.value / MiB)} MiB, soon after it passed 150 MiB`);
    assert.equal(result.clean, false, 'a worker SIGKILLed for its memory makes the stop unclean');
  });
});

describe('maxRequests and maxAge', () => {
  test('maxRequests under Connection: close load: many recycles, 0 failed requests, never two slots at once, never fewer ready than configured', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const cluster = managed({ exec: LEAKING_APP, workers: 2, env: { PORT: String(port) }, maxRequests: 150, reportInterval: 200 });
    assert.equal(cluster.options.maxRequestsJitter, 15, 'the jitter defaults to a tenth');
    const watch = watchRecycling(cluster);
    await cluster.start();
    const load = startLoad(port, { connections: 8, keepAlive: false });
    const actions: HealthAction[] = [];
    cluster.on('health', (action) => actions.push(action));
    // Eight recycles done (each one's worker drained), under load all along.
    while (watch.drains() < 8) await once(cluster, 'draining');
    const result = await load.stop();
    const limits = new Set<number>();
    for (const action of actions) {
      assert.equal(action.reason, 'requests');
      assert.ok(action.limit >= 150 && action.limit <= 165, `limit ${action.limit}`);
      assert.ok(action.value >= action.limit);
      limits.add(action.limit);
    }
    assert.ok(limits.size > 1, 'each worker draws its own limit');
    assert.deepEqual({ non2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts }, { non2xx: 0, errors: 0, timeouts: 0 });
    assert.equal(watch.drainsWhileShort(), 0, 'a worker drained while a slot had no ready worker');
    assert.ok(watch.maxProcesses() <= 3, `${watch.maxProcesses()} worker processes at once: two slots recycled together`);
  });

  test('a recycle whose replacement cannot be forked (the script was removed) is said, and tried again: once the script is back, the worker is recycled', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const app = path.join(dir, 'removable.cjs');
    writeFileSync(app, "require('node:http').createServer((req, res) => res.end(String(process.pid))).listen(Number(process.env.PORT), '127.0.0.1');\n");
    const cluster = managed({
      exec: app, workers: 1, env: { PORT: String(port) }, maxRequests: 3, maxRequestsJitter: 0, reportInterval: 100,
      crashLoop: { retryDelay: 300 },
    });
    await cluster.start();
    const first = cluster.workers[0]!;
    const warned = new Promise<Error>((resolve) => {
      const onWarning = (warning: Error & { code?: string }): void => {
        if (warning.code !== 'CORRAL_EXEC_UNREADABLE') return;
        process.off('warning', onWarning);
        resolve(warning);
      };
      process.on('warning', onWarning);
    });
    renameSync(app, `${app}.away`);
    for (let i = 0; i < 3; i++) await fetch(`http://127.0.0.1:${port}/`).then((response) => response.text());
    const warning = await warned;
    assert.match(warning.message, new RegExp(`^Worker ${first.id} \\(slot 0\\) could not be recycled: .*It keeps serving, and is recycled again in 300 ms`));
    assert.equal(cluster.workers[0], first, 'the worker keeps serving');
    // Before: the failure counted as a recycle done, and the worker was never recycled again.
    const exited = once(first, 'exit');
    renameSync(`${app}.away`, app);
    await exited;
    assert.notEqual(cluster.workers[0], first, 'recycled once the script was back');
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), String(cluster.workers[0]?.process.pid));
  });

  test('maxAge: each worker is recycled after its age (jitter drawn per worker), with no failed request', { timeout: 30_000 }, async () => {
    const port = await freePort();
    const cluster = managed({ exec: LEAKING_APP, workers: 2, env: { PORT: String(port) }, maxAge: '1.5s' });
    assert.equal(cluster.options.maxAge, 1_500);
    assert.equal(cluster.options.maxAgeJitter, 150);
    await cluster.start();
    const load = startLoad(port, { connections: 4, keepAlive: false });
    const actions = await healthActions(cluster, 4, 20_000);
    const result = await load.stop();
    for (const action of actions) {
      assert.equal(action.reason, 'age');
      assert.ok(action.limit >= 1_500 && action.limit <= 1_650, `limit ${action.limit}`);
      assert.ok(action.value >= action.limit, `${action.value} ≥ ${action.limit}`);
    }
    assert.deepEqual({ non2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts }, { non2xx: 0, errors: 0, timeouts: 0 });
  });

  test('corral start --max-requests: one log line per recycle; corral status counts them and shows each slot\'s last exit, heap and event-loop delay', { timeout: 40_000 }, async () => {
    const port = await freePort();
    const corral = startProgram(BIN, ['start', LEAKING_APP, '-i', '2', '--name', 'recycled', '--max-requests', '100', '--max-requests-jitter', '0'],
      { cwd: dir, env: { NODE_OPTIONS: '', CORRAL_RUN_DIR: RUN_DIR, PORT: String(port) } });
    await corral.waitForErr(/ready: 2 workers/);
    const load = startLoad(port, { connections: 4, keepAlive: false });
    const lines = await corral.waitForErr(/has served \d+ requests, its --max-requests \(100 with its jitter\); recycling it: a replacement starts, then it drains$/, 3, 30_000);
    assert.match(lines[0]!, /WARN worker \d+ \(slot \d, pid \d+\) has served/);
    await corral.waitForErr(/drains: its replacement serves the slot$/, 3);
    const result = await load.stop();
    assert.deepEqual({ errors: result.errors, timeouts: result.timeouts }, { errors: 0, timeouts: 0 });
    const env = { CORRAL_RUN_DIR: RUN_DIR };
    // The third recycle's worker may still be draining: wait for a status where a slot has a last exit.
    let json: { health: Record<string, number>; slots: { lastExit: { reason: string; code: number | null } | null; worker: { runtime: { heapUsed: number; loopDelay: number } | null } | null }[] };
    for (;;) {
      json = JSON.parse((await runCommand(BIN, ['status', 'recycled', '--json'], { cwd: dir, env })).stdout) as typeof json;
      if (json.slots.some((slot) => slot.lastExit !== null) && json.slots.every((slot) => slot.worker?.runtime != null)) break;
    }
    assert.ok(json.health['requests']! >= 3);
    assert.deepEqual(Object.keys(json.health).sort(), ['age', 'hang', 'memory', 'requests']);
    const exited = json.slots.find((slot) => slot.lastExit !== null)!;
    assert.deepEqual({ reason: exited.lastExit!.reason, code: exited.lastExit!.code }, { reason: 'requests', code: 0 });
    for (const slot of json.slots) {
      assert.ok(slot.worker!.runtime!.heapUsed > 0);
      assert.equal(typeof slot.worker!.runtime!.loopDelay, 'number');
    }
    const table = (await runCommand(BIN, ['status', 'recycled'], { cwd: dir, env })).stdout;
    assert.match(table, /health actions: requests \d+/);
    assert.match(table, /SLOT\s+WORKER\s+PID\s+GEN\s+STATE\s+UPTIME\s+RESTARTS\s+MEMORY\s+HEAP\s+LOOP\s+CPU\s+LAST EXIT/);
    assert.match(table, /\d+(\.\d)? MiB\s+\d+ ms\s+.*requests \d+s ago/);
    corral.child.kill('SIGTERM');
    await exitOf(corral);
  });
});

describe('when a recycle cannot happen', () => {
  test('a replacement that fails to start leaves the worker serving; the recycle is tried again after crashLoop.retryDelay, and succeeds once the app starts', { timeout: 40_000 }, async () => {
    const port = await freePort();
    const marker = path.join(dir, 'broken-deploy');
    const app = path.join(dir, 'sometimes-broken.cjs');
    writeFileSync(app, `'use strict';
if (require('node:fs').existsSync(${JSON.stringify(marker)})) throw new Error('broken deploy');
require('node:http').createServer((req, res) => res.end(String(process.pid))).listen(Number(process.env.PORT), '127.0.0.1');
`);
    const cluster = managed({
      exec: app, workers: 1, env: { PORT: String(port) }, maxRequests: 50, maxRequestsJitter: 0, reportInterval: 200,
      crashLoop: { retryDelay: 1_000 },
    });
    await cluster.start();
    const first = cluster.workers[0]!;
    writeFileSync(marker, '');
    const failed = once(cluster, 'startFailed');
    const load = startLoad(port, { connections: 2, keepAlive: false });
    const [firstTry] = await healthActions(cluster, 1, 15_000);
    assert.equal(firstTry!.worker, first);
    await failed;
    // Tried again after retryDelay, still broken: it keeps serving meanwhile.
    const [secondTry] = await healthActions(cluster, 1, 15_000);
    assert.equal(secondTry!.worker, first);
    await once(cluster, 'startFailed');
    rmSync(marker);
    const [thirdTry] = await healthActions(cluster, 1, 15_000);
    assert.equal(thirdTry!.worker, first);
    const [drained, reason] = await once(cluster, 'draining') as [unknown, string];
    assert.equal(drained, first);
    assert.equal(reason, 'recycle');
    await load.moreResponses(50);
    const result = await load.stop();
    assert.deepEqual({ non2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts }, { non2xx: 0, errors: 0, timeouts: 0 });
    assert.notEqual(cluster.workers[0], first);
  });

  test('a maxMemory below what a fresh worker uses is not applied (it would recycle forever): corral warns once and says what to do', { timeout: 20_000 }, async () => {
    const port = await freePort();
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      if ((warning as Error & { code?: string }).code === 'CORRAL_MAX_MEMORY_TOO_LOW') warnings.push(warning);
    };
    process.on('warning', onWarning);
    try {
      const cluster = managed({ exec: LEAKING_APP, workers: 1, env: { PORT: String(port) }, maxMemory: '8M', reportInterval: 100 });
      const recycles: HealthAction[] = [];
      cluster.on('health', (action) => recycles.push(action));
      await cluster.start();
      const worker = cluster.workers[0]!;
      // Three reports after readiness: the first decided, the next ones changed nothing.
      for (let reports = 0; reports < 3;) {
        const [from] = await once(cluster, 'report') as [unknown];
        if (from === worker && worker.isConnected()) reports += 1;
      }
      assert.deepEqual(recycles, []);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!.message, /already uses [\d.]+ MiB \(rss\) once ready, over maxMemory \(8 MiB\).*Raise maxMemory above what a fresh worker uses/);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('a maxMemoryHard that would SIGKILL forever', () => {
  /** Collects corral's process warnings of one code while `body` runs. */
  async function withWarnings(code: string, body: (warnings: Error[]) => Promise<void>): Promise<void> {
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      if ((warning as Error & { code?: string }).code === code) warnings.push(warning);
    };
    process.on('warning', onWarning);
    try {
      await body(warnings);
    } finally {
      process.off('warning', onWarning);
    }
  }

  /** Resolves after `count` reports of `worker`; rejects if it exits first, or at the deadline. */
  function reportsFrom(cluster: ManagedCluster, worker: Worker, count: number, timeout = 15_000): Promise<void> {
    return new Promise((resolve, reject) => {
      let reports = 0;
      const done = (error?: Error): void => {
        clearTimeout(timer);
        cluster.off('report', onReport);
        cluster.off('exit', onExit);
        if (error === undefined) resolve();
        else reject(error);
      };
      const timer = setTimeout(() => done(new Error(`only ${reports} of ${count} reports within ${timeout} ms`)), timeout);
      const onReport = (from: Worker): void => {
        if (from === worker && (reports += 1) >= count) done();
      };
      const onExit = (from: Worker, code: number | null, signal: string | null): void => {
        if (from === worker) done(new Error(`the worker exited (${signal ?? `code ${code}`}) after ${reports} reports`));
      };
      cluster.on('report', onReport);
      cluster.on('exit', onExit);
    });
  }

  test('below what a fresh worker uses: no worker is ever SIGKILLed for it (bound: 0); corral warns once, naming --max-memory-hard and the fix', { timeout: 20_000 }, async () => {
    const port = await freePort();
    await withWarnings('CORRAL_MAX_MEMORY_HARD_TOO_LOW', async (warnings) => {
      const cluster = managed({ exec: LEAKING_APP, workers: 1, env: { PORT: String(port) }, maxMemoryHard: '8M', reportInterval: 100 });
      const actions: HealthAction[] = [];
      cluster.on('health', (action) => actions.push(action));
      let exits = 0;
      cluster.on('exit', () => { exits += 1; });
      await cluster.start();
      const worker = cluster.workers[0]!;
      // Ten reports once ready, each over the limit: the first decided, the others changed nothing.
      await reportsFrom(cluster, worker, 10);
      assert.deepEqual(actions, [], 'no kill, no recycle');
      assert.equal(exits, 0);
      assert.equal(cluster.workers[0], worker, 'the same worker serves');
      assert.equal(cluster.status().slots[0]!.restarts, 0);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!.message, /already uses [\d.]+ MiB \(rss\) once ready, over maxMemoryHard \(--max-memory-hard, 8 MiB\): SIGKILLing it would only start another like it.*so maxMemoryHard is not applied to it\. Raise maxMemoryHard above what a fresh worker uses \([\d.]+ MiB here\)/);
      assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 200);
    });
  });

  test('below both limits: neither applies, and one warning names both', { timeout: 20_000 }, async () => {
    const port = await freePort();
    await withWarnings('CORRAL_MAX_MEMORY_HARD_TOO_LOW', async (warnings) => {
      const cluster = managed({ exec: LEAKING_APP, workers: 1, env: { PORT: String(port) }, maxMemory: '4M', maxMemoryHard: '8M', reportInterval: 100 });
      const actions: HealthAction[] = [];
      cluster.on('health', (action) => actions.push(action));
      await cluster.start();
      await reportsFrom(cluster, cluster.workers[0]!, 5);
      assert.deepEqual(actions, []);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!.message, /over maxMemoryHard \(--max-memory-hard, 8 MiB\) and maxMemory \(--max-memory, 4 MiB\).*so neither limit is applied to it\. Raise maxMemoryHard and maxMemory above/);
    });
  });

  test('reached soon after each start: the kills back off as early crashes and the slot enters crashloop after crashLoop.maxCrashes kills (bound: 3 here)', { timeout: 40_000 }, async () => {
    const port = await freePort();
    // Under the limit at its first report once ready, past it 1.5 s later (longer than minUptime,
    // so before the fix each kill was a crash after serving, refilled at once, forever).
    const growing = path.join(dir, 'grows-after-start.cjs');
    writeFileSync(growing, `'use strict';
const kept = [];
require('node:http').createServer((req, res) => res.end(String(process.pid))).listen(Number(process.env.PORT), '127.0.0.1', () => {
  setTimeout(() => { kept.push(Buffer.alloc(160 * 1024 * 1024, 1)); }, 1500);
});
`);
    const cluster = managed({
      exec: growing, workers: 1, env: { PORT: String(port) }, maxMemoryHard: '150M', reportInterval: 100,
      crashLoop: { maxCrashes: 3, retryDelay: 60_000 },
    });
    const kills: HealthAction[] = [];
    cluster.on('health', (action) => kills.push(action));
    await cluster.start();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no crashloop within 30 s; ${kills.length} kills so far`)), 30_000);
    });
    try {
      const [info] = await Promise.race([once(cluster, 'crashloop'), deadline]) as [{ crashes: number; retryIn: number; signal: string | null }];
      assert.equal(info.crashes, 3);
      assert.equal(info.signal, 'SIGKILL');
      assert.ok(info.retryIn >= 60_000, `the next start is ${info.retryIn} ms away`);
    } finally {
      clearTimeout(timer);
    }
    assert.equal(kills.length, 3, 'one kill per crash, then the slot waits retryDelay');
    for (const kill of kills) assert.deepEqual([kill.reason, kill.action, kill.limit], ['memory', 'kill', 150 * MiB]);
    assert.equal(cluster.status().slots[0]!.state, 'crashloop');
  });
});

describe('recycling options', () => {
  test('sizes, durations and jitters are read as written, and bad ones are refused with the fix', () => {
    const exec = LEAKING_APP;
    const options = (extra: Record<string, unknown>) => createCluster({ exec, ...extra }).options;
    assert.equal(options({ maxMemory: '1G' }).maxMemory, 1024 * MiB);
    assert.equal(options({ maxMemory: '1.5g' }).maxMemory, 1536 * MiB);
    assert.equal(options({ maxMemory: '512KiB' }).maxMemory, 512 * 1024);
    assert.equal(options({ maxMemory: '200MB' }).maxMemory, 200 * MiB);
    assert.equal(options({ maxMemory: 1_000_000 }).maxMemory, 1_000_000);
    assert.equal(options({}).maxMemory, 0);
    assert.equal(options({ maxAge: '6h' }).maxAge, 6 * 3_600_000);
    assert.equal(options({ maxAge: '6h' }).maxAgeJitter, 36 * 60_000);
    assert.equal(options({ maxAge: '30m', maxAgeJitter: '5m' }).maxAgeJitter, 5 * 60_000);
    assert.equal(options({ maxRequests: 10_000 }).maxRequestsJitter, 1_000);
    assert.equal(options({ maxRequests: 10_000, maxRequestsJitter: 0 }).maxRequestsJitter, 0);
    assert.throws(() => options({ maxMemory: '200 elephants' }), /Expected `maxMemory` to be a size such as 200M, 1.5G or 512K/);
    assert.throws(() => options({ maxMemory: -1 }), /Expected `maxMemory` to be a size/);
    assert.throws(() => options({ maxMemory: '200M', maxMemoryHard: '150M' }), /Expected `maxMemoryHard` to be above maxMemory \(200 MiB\).*Raise it, or lower maxMemory/);
    assert.throws(() => options({ maxMemoryOf: 'vsz' }), /Expected `maxMemoryOf` to be one of 'rss', 'heap'/);
    assert.throws(() => options({ maxRequests: 1.5 }), /Expected `maxRequests` to be a whole number ≥ 0/);
    assert.throws(() => options({ maxRequestsJitter: 10 }), /Expected `maxRequestsJitter` to be 0 while maxRequests is off.*Set maxRequests too/);
    assert.equal(options({ maxAge: '24d' }).maxAgeJitter, 2 ** 31 - 1 - 24 * 86_400_000, 'maxAge and its jitter fit in one timer');
    assert.throws(() => options({ maxAge: '24d', maxAgeJitter: '1d' }), /Expected `maxAgeJitter` to be at most \d+ ms, so that maxAge plus it fits/);
    assert.throws(() => options({ maxAge: 500 }), /Expected `maxAge` to be 0 \(off\) or at least 1000 ms/);
    assert.throws(() => options({ maxAge: '3 fortnights' }), /Expected `maxAge` to be a duration in ms, or text such as 90s/);
    assert.throws(() => options({ maxMemory: '200M', reportInterval: 0 }), /Expected `maxMemory` to be 0 when reportInterval is 0.*Set reportInterval to 100 or more, or maxMemory to 0/);
  });

  test('under a cgroup memory limit with no memory limit set, the start line gives each worker its share', () => {
    const GiB = 1024 * MiB;
    const limit2G = { value: 2 * GiB, source: 'cgroup v2 memory.max of /sys/fs/cgroup/app' };
    assert.equal(memoryBudget.memoryBudgetNote(limit2G, 4, { maxMemory: 0, maxMemoryHard: 0 }),
      "the cgroup's memory limit is 2 GiB (cgroup v2 memory.max of /sys/fs/cgroup/app): about 512 MiB per worker, the primary included; " +
      '--max-memory recycles a worker before the OOM killer ends one mid-request');
    assert.equal(memoryBudget.memoryBudgetNote(limit2G, 4, { maxMemory: 400 * MiB, maxMemoryHard: 0 }), undefined, 'a limit is set: nothing to say');
    assert.equal(memoryBudget.memoryBudgetNote(undefined, 4, { maxMemory: 0, maxMemoryHard: 0 }), undefined, 'no cgroup limit');
    // The least limit along the hierarchy, v2 and v1, as the CPU quota is read.
    const files = (entries: Record<string, string>) => (file: string): string | undefined => entries[file];
    const v2 = memoryBudget.cgroupMemoryLimit(files({
      '/proc/self/cgroup': '0::/kubepods/pod1/app\n',
      '/proc/self/mountinfo': '30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n',
      '/sys/fs/cgroup/kubepods/pod1/app/memory.max': 'max\n',
      '/sys/fs/cgroup/kubepods/pod1/memory.max': `${256 * MiB}\n`,
    }));
    assert.deepEqual(v2, { value: 256 * MiB, source: 'cgroup v2 memory.max of /sys/fs/cgroup/kubepods/pod1' });
    const v1 = memoryBudget.cgroupMemoryLimit(files({
      '/proc/self/cgroup': '4:memory:/app\n',
      '/proc/self/mountinfo': '35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n',
      '/sys/fs/cgroup/memory/app/memory.limit_in_bytes': `${128 * MiB}\n`,
      '/sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712\n',
    }));
    assert.deepEqual(v1, { value: 128 * MiB, source: 'cgroup v1 memory.limit_in_bytes of /sys/fs/cgroup/memory/app' });
    // This machine's own: a number below its memory, or none.
    const limit = memoryBudget.cgroupMemoryLimit();
    assert.ok(limit === undefined || (limit.value > 0 && limit.value < os.totalmem()));
  });

  test('corral start names the flag of a bad limit, and its usage lists the recycling flags', async () => {
    const bad = await runCommand(BIN, ['start', LEAKING_APP, '--max-memory', '2 lots'], { cwd: dir, env: { CORRAL_RUN_DIR: RUN_DIR } });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--max-memory must be a size such as 200M/);
    const help = await runCommand(BIN, ['start', '--help'], { cwd: dir });
    for (const flag of ['--max-memory <size>', '--max-memory-hard <size>', '--max-memory-of <rss|heap>', '--max-requests <N>', '--max-requests-jitter <N>', '--max-age <ms>', '--max-age-jitter <ms>']) {
      assert.ok(help.stdout.includes(flag), `${flag} in the usage`);
    }
  });
});
