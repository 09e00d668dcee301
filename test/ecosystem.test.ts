// The node:cluster ecosystem on corral: libraries that take node:cluster themselves, run with
// their real packages in real two-worker programs (test/fixtures/ecosystem/), three ways:
//  - plain: the app loads corral before the library (no flags);
//  - --import corral/register, with the library loaded before corral;
//  - --require corral/register, likewise.
// Also every import form of 'corral', and an ES module library that imports node:cluster
// statically, under the preload.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, test } from 'node:test';
import { io, type Socket } from 'socket.io-client';
import { countBy, fetchMany, freePort } from './helpers/net-client.js';
import { exitOf, killPrograms, startProgram, type Program } from './helpers/program.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = `${ROOT}test/fixtures/ecosystem/`;
afterEach(killPrograms);

interface Way {
  readonly name: string;
  readonly order: 'corral-first' | 'library-first';
  readonly execArgv: string[];
  /** An entry that loads every library before corral, in its own module order, then runs the fixture. */
  readonly entry?: string;
}
const WAYS: readonly Way[] = [
  { name: 'corral loaded first', order: 'corral-first', execArgv: [] },
  { name: 'library first, --import corral/register', order: 'library-first', execArgv: ['--import', 'corral/register'] },
  { name: 'library first, --require corral/register', order: 'library-first', execArgv: ['--require', 'corral/register'] },
  // No preload flag: corral adopts Node's node:cluster object that the libraries took first.
  { name: 'libraries required first from CommonJS', order: 'corral-first', execArgv: [], entry: 'order-commonjs.cjs' },
  { name: 'libraries imported statically before corral', order: 'corral-first', execArgv: [], entry: 'order-static.mjs' },
  { name: 'libraries imported before a dynamic import of corral', order: 'corral-first', execArgv: [], entry: 'order-dynamic.mjs' },
  { name: 'libraries evaluated while a top-level await picks corral', order: 'corral-first', execArgv: [], entry: 'order-top-level-await.mjs' },
];

interface Started { program: Program; port: number; ready: Record<string, unknown> }

/** Starts a fixture and waits for its primary's ready line; node:cluster must be corral's. */
async function start(fixture: string, way: Way): Promise<Started> {
  const port = await freePort();
  const program = startProgram(`${FIXTURES}${way.entry ?? fixture}`, [], {
    cwd: ROOT, execArgv: way.execArgv, env: { PORT: String(port), ORDER: way.order, FIXTURE: `${FIXTURES}${fixture}` },
  });
  const [line] = await program.waitFor(/^\{"ready":true/);
  const ready = JSON.parse(line!) as Record<string, unknown>;
  assert.equal(ready['redirected'], true, 'require(\'node:cluster\') is corral in the primary');
  assert.equal(ready['corralWorkers'], 2, "the library's workers are corral's");
  if (way.entry !== undefined) assert.equal(ready['librariesBeforeCorral'], true, 'the libraries loaded before corral');
  return { program, port, ready };
}

// A client's first polling request can race the worker's 'sticky:connection' message to the
// primary and land on the other worker ("Session ID unknown"); @socket.io/sticky's answer is the
// client's retry (socketio/socket.io-sticky#2), the same on node:cluster. So clients reconnect.
function connect(port: number): Socket {
  return io(`http://127.0.0.1:${port}`, {
    transports: ['polling', 'websocket'], reconnectionAttempts: 5, reconnectionDelay: 50, timeout: 5000,
  });
}

/**
 * Connects clients one at a time (each upgraded to websocket) until both workers have one. The
 * same race as above can strike a client's websocket probe or a later poll (its engine then
 * fails the upgrade, or closes and reconnects): that client is set aside and another one tried.
 */
async function clientOnEachWorker(port: number, clients: Socket[]): Promise<Map<number, Socket>> {
  const byWorker = new Map<number, Socket>();
  const setAside: string[] = [];
  while (byWorker.size < 2) {
    assert.ok(clients.length < 8, `eight clients did not give one upgraded client on each worker: ${setAside.join('; ')}`);
    const client = connect(port);
    clients.push(client);
    const worker = await next<number>(client, 'hello');
    const outcome = await upgraded(client);
    if (outcome !== 'websocket') { setAside.push(outcome); continue; }
    if (!byWorker.has(worker)) byWorker.set(worker, client);
  }
  return byWorker;
}

function next<T>(socket: Socket, event: string, timeout = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' within ${timeout} ms`)), timeout);
    socket.once(event, (value: T) => { clearTimeout(timer); resolve(value); });
    socket.io.once('reconnect_failed', () => { clearTimeout(timer); reject(new Error(`could not connect; waiting for '${event}'`)); });
  });
}

/** 'websocket' once the client's engine has upgraded; else why it will not (the client is then retried). */
function upgraded(socket: Socket, timeout = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const engine = socket.io.engine;
    if (engine.transport.name === 'websocket') { resolve('websocket'); return; }
    const timer = setTimeout(() => reject(new Error(
      `still on ${engine.transport.name} after ${timeout} ms (engine ${engine.readyState})`,
    )), timeout);
    const settle = (outcome: string): void => { clearTimeout(timer); resolve(outcome); };
    engine.once('upgrade', (transport: { name: string }) => settle(transport.name));
    engine.once('upgradeError', (error: Error) => settle(`upgrade failed: ${error.message}`));
    engine.once('close', (reason: string) => settle(`engine closed before its upgrade: ${reason}`));
  });
}

for (const way of WAYS) {
  describe(`cluster-aware libraries on corral (${way.name})`, () => {
    test('prom-client AggregatorRegistry: /metrics sums the counters of both workers', async () => {
      const { port } = await start('prom-client.cjs', way);
      const response = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(response.status, 200);
      assert.match(await response.text(), /^corral_test_total 3$/m);
    });

    test('socket.io with @socket.io/sticky and @socket.io/cluster-adapter: polling, then websocket; broadcasts reach the other worker', async () => {
      const { port } = await start('socket-io.cjs', way);
      const clients: Socket[] = [];
      try {
        const byWorker = await clientOnEachWorker(port, clients);
        const [[firstWorker, first], [, second]] = [...byWorker] as [[number, Socket], [number, Socket]];
        const heard = [next<{ text: string; from: number }>(first, 'news'), next<{ text: string; from: number }>(second, 'news')];
        first.emit('shout', 'hello everyone');
        assert.deepEqual(await Promise.all(heard), [
          { text: 'hello everyone', from: firstWorker }, { text: 'hello everyone', from: firstWorker },
        ]);
      } finally {
        for (const client of clients) client.close();
      }
    });

    test('log4js clustering: the primary writes both workers\' log lines', async () => {
      const { program } = await start('log4js.cjs', way);
      const lines = await program.waitFor(/^log line from worker \d$/, 2);
      assert.deepEqual([...lines].sort(), ['log line from worker 1', 'log line from worker 2']);
    });

    test('rate-limiter-flexible RateLimiterClusterMaster: both workers share 5 points', async () => {
      const { port } = await start('rate-limiter.cjs', way);
      const results: string[] = [];
      for (let i = 0; i < 8; i++) {
        const response = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } });
        results.push(`${response.status} ${await response.text()}`);
      }
      const counts = countBy(results);
      assert.equal(counts.get('429 limited'), 3, results.join('\n'));
      // Connections alternate between the workers, so both spent points from the one store.
      assert.ok((counts.get('200 ok from worker 1') ?? 0) >= 2, results.join('\n'));
      assert.ok((counts.get('200 ok from worker 2') ?? 0) >= 2, results.join('\n'));
    });

    test('throng: its workers are corral\'s; a dead one is revived through corral\'s events', async () => {
      const { program, port } = await start('throng.cjs', way);
      const answers = new Set(await fetchMany(port, 4));
      assert.equal(answers.size, 2, [...answers].join(''));
      const victim = Number(/pid (\d+)/.exec([...answers][0]!)![1]);
      process.kill(victim, 'SIGKILL');
      const [revived] = await program.waitFor(/^\{"revived":true/);
      assert.deepEqual(JSON.parse(revived!), { revived: true, corralWorkers: 2 });
    });

    test('express in the workers', async () => {
      const { port } = await start('express.cjs', way);
      assert.deepEqual([...new Set(await fetchMany(port, 4))].sort(), ['worker 1\n', 'worker 2\n']);
    });
  });
}

describe('import forms', () => {
  test('default, named, namespace, require and destructured require all reach one primary; named settings is live', async () => {
    const program = startProgram(`${FIXTURES}named-imports.mjs`, [], { cwd: ROOT });
    const [line] = await program.waitFor(/^\{"ready":true/);
    const worker = { isWorker: true, isPrimary: false, argv: ['--from-named-setupPrimary'], fork: 'undefined', workers: 'undefined', sameWorker: true };
    assert.deepEqual(JSON.parse(line!), {
      ready: true, isPrimary: true, isMaster: true, isWorker: false, worker: true, SCHED_RR: 2, SCHED_NONE: 1,
      schedulingPolicy: 2, sameWorkers: true, workerIds: [1, 2], aliases: true, settingsLive: true,
      args: ['--from-named-setupPrimary'], namespaceDefault: true, requiredForm: true,
      reports: [{ id: 1, workerId: 1, ...worker }, { id: 2, workerId: 2, ...worker }],
    });
    assert.equal((await exitOf(program)).code, 0);
  });

  test('under --import corral/register, an ES module library that imports node:cluster statically shares corral\'s primary; workers keep Node\'s worker half', async () => {
    const program = startProgram(`${FIXTURES}esm-static.mjs`, [], { cwd: ROOT, execArgv: ['--import', 'corral/register'] });
    const [line] = await program.waitFor(/^\{"ready":true/);
    assert.deepEqual(JSON.parse(line!), {
      ready: true, libraryCluster: true, libraryIsPrimary: true, forkedIsCorralWorker: true,
      fromWorker: { id: 1, libraryIsNodeWorkerHalf: true, isWorker: true },
    });
    assert.equal((await exitOf(program)).code, 0);
  });
});

describe('an ES module dependency', () => {
  test('without corral/register, an ES module library that imported node:cluster statically before corral forks corral\'s workers', async () => {
    const program = startProgram(`${FIXTURES}esm-dependency.mjs`, [], { cwd: ROOT });
    const [line] = await program.waitFor(/^\{"ready":true/);
    assert.deepEqual(JSON.parse(line!), {
      ready: true, libraryHoldsNodeObject: true, libraryIsPrimary: true, sameWorkers: true, forkedIsCorralWorker: true,
      fromWorker: { id: 1, libraryIsNodeWorkerHalf: true, isWorker: true },
    });
    assert.equal((await exitOf(program)).code, 0);
  });
});

describe('redirection controls', () => {
  test('restoreNodeCluster() and CORRAL_REDIRECT_NODE_CLUSTER=0 give node:cluster back', async () => {
    const on = startProgram(`${FIXTURES}opt-out.cjs`, [], { cwd: ROOT });
    const off = startProgram(`${FIXTURES}opt-out.cjs`, [], { cwd: ROOT, env: { CORRAL_REDIRECT_NODE_CLUSTER: '0' } });
    const [onLine] = await on.waitFor(/^\{/);
    const [offLine] = await off.waitFor(/^\{/);
    assert.deepEqual(JSON.parse(onLine!), {
      before: { require: true, getBuiltinModule: true, adopted: true },
      after: { require: false, getBuiltinModule: false, adopted: false },
      nodePrimary: true,
    });
    assert.deepEqual(JSON.parse(offLine!), {
      before: { require: false, getBuiltinModule: false, adopted: false },
      after: { require: false, getBuiltinModule: false, adopted: false },
      nodePrimary: true,
    });
  });

  test("node:cluster used before corral loads: its listeners hear corral's workers, its settings carry over, chained calls return it", async () => {
    const program = startProgram(`${FIXTURES}adopted.cjs`, [], { cwd: ROOT });
    const [line] = await program.waitFor(/^\{/);
    assert.deepEqual(JSON.parse(line!), {
      seen: ['fork 1', 'online 1', 'exit 1'], chained: true, workerArgv: ['--from-node-setupPrimary'],
      corralWorker: true, sameObjects: true, listenerCount: true,
    });
    assert.equal((await exitOf(program)).code, 0);
  });

  test("corral refuses to load once Node's own primary has forked, with a coded error that says what to do", async () => {
    const program = startProgram(`${FIXTURES}node-forked-first.cjs`, [], { cwd: ROOT });
    const [line] = await program.waitFor(/^\{/);
    const outcome = JSON.parse(line!) as { code: string; name: string; message: string };
    assert.equal(outcome.code, 'CORRAL_ERR_NODE_CLUSTER_IN_USE');
    assert.equal(outcome.name, 'NodeClusterInUseError');
    assert.match(outcome.message, /had forked 1 worker, so it cannot become/);
    assert.match(outcome.message, /Load corral before the first cluster\.fork\(\)/);
    assert.equal((await exitOf(program)).code, 0);
  });

  for (const secondVersion of ['same', '0.0.1'] as const) {
    test(`two installed copies of corral (${secondVersion === 'same' ? 'one version' : 'different versions'}) share one primary${secondVersion === 'same' ? '' : ', with a warning naming both'}`, async () => {
      const app = mkdtempSync(path.join(os.tmpdir(), 'corral-two-copies-'));
      try {
        const install = (dir: string, version: string | undefined): void => {
          mkdirSync(dir, { recursive: true });
          cpSync(`${ROOT}dist`, path.join(dir, 'dist'), { recursive: true });
          const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as Record<string, unknown>;
          writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ ...pkg, version: version ?? pkg['version'] }));
        };
        install(path.join(app, 'node_modules/corral'), undefined);
        const library = path.join(app, 'node_modules/library-with-own-corral');
        install(path.join(library, 'node_modules/corral'), secondVersion === 'same' ? undefined : secondVersion);
        writeFileSync(path.join(library, 'package.json'), JSON.stringify({ name: 'library-with-own-corral', main: 'index.js' }));
        writeFileSync(path.join(library, 'index.js'), "module.exports = require('corral');\n");
        cpSync(`${FIXTURES}two-copies.cjs`, path.join(app, 'app.cjs'));
        const program = startProgram(path.join(app, 'app.cjs'), [], { cwd: app });
        const [line] = await program.waitFor(/^\{/);
        assert.deepEqual(JSON.parse(line!), { same: true, seenByApp: true, nodeCluster: true });
        assert.equal((await exitOf(program)).code, 0);
        if (secondVersion === 'same') {
          assert.doesNotMatch(program.stderr(), /CORRAL_DUPLICATE_INSTALL|installed twice/);
        } else {
          const first = path.join(app, 'node_modules/corral/');
          const second = path.join(library, 'node_modules/corral/');
          assert.ok(program.stderr().includes(`corral is installed twice: ${first} (`), program.stderr());
          assert.ok(program.stderr().includes(`and ${second} (0.0.1)`), program.stderr());
        }
      } finally {
        rmSync(app, { recursive: true, force: true });
      }
    });
  }
});
