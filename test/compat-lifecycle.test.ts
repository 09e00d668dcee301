// node:cluster compatibility: lifecycle, events, exit flags, disconnect, messages. Every scenario
// runs on node:cluster's primary and on corral's, and both must produce the same observations.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { Worker } from 'corral';
import {
  cleanup, event, exited, forkWorker, IMPLEMENTATIONS, report, until,
} from './helpers/harness.js';
import { openAndReadFirstLine } from './helpers/net-client.js';

afterEach(cleanup);

for (const impl of IMPLEMENTATIONS) {
  describe(`${impl.name}: lifecycle`, () => {
    test('fork, online, listening and exit come in order with node:cluster\'s arguments', async () => {
      const { cluster } = impl;
      const seen: string[] = [];
      const states: string[] = [];
      let listeningAddress: unknown;
      const worker = forkWorker(impl, 'exit-after-listen', { EXIT_CODE: '42' });
      const onFork = (w: Worker): void => { if (w === worker) { seen.push('fork'); states.push(w.state); } };
      const onOnline = (w: Worker): void => { if (w === worker) { seen.push('online'); states.push(w.state); } };
      const onListening = (w: Worker, address: unknown): void => {
        if (w === worker) { seen.push('listening'); states.push(w.state); listeningAddress = address; }
      };
      cluster.on('fork', onFork);
      cluster.on('online', onOnline);
      cluster.on('listening', onListening);
      assert.equal(worker.state, 'none');
      assert.equal(cluster.workers[worker.id], worker);
      const [exitedWorker, code, signal, ...extra] = await event<[Worker, number | null, string | null]>(cluster, 'exit');
      cluster.off('fork', onFork);
      cluster.off('online', onOnline);
      cluster.off('listening', onListening);

      assert.equal(exitedWorker, worker);
      assert.deepEqual(seen, ['fork', 'online', 'listening']);
      assert.deepEqual(states, ['none', 'online', 'listening']);
      assert.equal(code, 42);
      assert.equal(signal, null);
      assert.equal(extra.length, 0);
      assert.equal(worker.state, 'dead');
      assert.equal(worker.exitedAfterDisconnect, false);
      assert.equal(worker.isDead(), true);
      assert.equal(cluster.workers[worker.id], undefined);
      const address = listeningAddress as Record<string, unknown>;
      assert.deepEqual(Object.keys(address).sort(), ['address', 'addressType', 'fd', 'port']);
      assert.equal(address['address'], '127.0.0.1');
      assert.equal(address['addressType'], 4);
      assert.ok(Number.isInteger(address['port']) && (address['port'] as number) > 0);
      assert.ok(Object.hasOwn(address, 'fd') && address['fd'] === undefined);
    });

    test('worker ids start above the last and only increase; workers are Worker instances', async () => {
      const first = forkWorker(impl, 'idle');
      const second = forkWorker(impl, 'idle');
      assert.equal(second.id, first.id + 1);
      assert.ok(first instanceof impl.cluster.Worker);
      assert.equal(typeof first.process.pid, 'number');
      await Promise.all([event(first, 'online'), event(second, 'online')]);
    });

    test('fork(env) merges over process.env, and NODE_UNIQUE_ID is gone inside the worker', async () => {
      const worker = forkWorker(impl, 'env', { CORRAL_TEST_VALUE: 'from-fork' });
      const env = await report(worker, 'env');
      assert.equal(env['value'], 'from-fork');
      assert.equal(env['uniqueIdPresent'], false);
      assert.equal(env['workerId'], worker.id);
    });

    test('a signal from outside gives exit (null, signal) and exitedAfterDisconnect false', async () => {
      const worker = forkWorker(impl, 'idle');
      await event(worker, 'online');
      worker.process.kill('SIGKILL');
      const [code, signal] = await event<[number | null, string | null]>(worker, 'exit');
      assert.equal(code, null);
      assert.equal(signal, 'SIGKILL');
      assert.equal(worker.exitedAfterDisconnect, false);
    });

    test('the primary\'s worker.kill() is a plain signal (SIGTERM) and leaves exitedAfterDisconnect false', async () => {
      const worker = forkWorker(impl, 'idle');
      await event(worker, 'online');
      worker.kill();
      const [code, signal] = await event<[number | null, string | null]>(worker, 'exit');
      assert.deepEqual([code, signal], [null, 'SIGTERM']);
      assert.equal(worker.exitedAfterDisconnect, false);
    });

    test('exitedAfterDisconnect is true for every requested exit and false for crashes', async () => {
      const cases: { scenario: string; expected: boolean; code: number | null; act?: (w: Worker) => void }[] = [
        { scenario: 'idle', expected: true, code: 0, act: (w) => w.disconnect() },
        { scenario: 'disconnect-self', expected: true, code: 0 },
        { scenario: 'kill-self', expected: true, code: 0 },
        { scenario: 'process-disconnect', expected: false, code: 0 },
        { scenario: 'exit-after-listen', expected: false, code: 42 },
      ];
      for (const { scenario, expected, code, act } of cases) {
        const worker = forkWorker(impl, scenario, { EXIT_CODE: '42' });
        const flags: { disconnect?: boolean | undefined; exit?: boolean | undefined } = {};
        worker.once('disconnect', () => { flags.disconnect = worker.exitedAfterDisconnect; });
        if (act !== undefined) {
          await event(worker, 'online');
          act(worker);
        }
        const [exitCode] = await event<[number | null]>(worker, 'exit');
        flags.exit = worker.exitedAfterDisconnect;
        assert.equal(exitCode, code, `${scenario}: exit code`);
        assert.equal(flags.exit, expected, `${scenario}: exitedAfterDisconnect at exit`);
        if (flags.disconnect !== undefined) assert.equal(flags.disconnect, expected, `${scenario}: at disconnect`);
      }
    });

    test('worker.disconnect() returns the worker, removes it from workers at once, and it exits 0', async () => {
      const worker = forkWorker(impl, 'idle');
      await event(worker, 'online');
      assert.equal(worker.disconnect(), worker);
      assert.equal(impl.cluster.workers[worker.id], undefined);
      const [code, signal] = await event<[number | null, string | null]>(worker, 'exit');
      assert.deepEqual([code, signal], [0, null]);
      assert.equal(worker.state, 'dead');
      assert.equal(worker.isConnected(), false);
    });

    test('disconnect() waits for the worker\'s open connections before the channel closes', async () => {
      const worker = forkWorker(impl, 'serve', { HOST: '127.0.0.1', HOLD: '1' });
      const listening = await report(worker, 'listening');
      const port = (listening['address'] as { port: number }).port;
      const { socket, line } = await openAndReadFirstLine(port);
      assert.equal(line, String(worker.id));
      worker.disconnect();
      // A user message sent after the disconnect request is answered: the worker has begun
      // closing its server, and is still connected because a connection is open.
      worker.send({ cmd: 'ping' });
      await report(worker, 'pong');
      assert.equal(worker.isConnected(), true);
      let clientClosed = false;
      const disconnected = event(worker, 'disconnect').then(() => assert.equal(clientClosed, true));
      clientClosed = true;
      socket.destroy();
      await disconnected;
      await exited(worker);
    });

    test('cluster.disconnect(cb) calls back asynchronously with no workers', async () => {
      const fresh = impl.cluster;
      for (const worker of Object.values(fresh.workers)) worker?.process.kill('SIGKILL');
      await Promise.all(Object.values(fresh.workers).map((worker) => worker && exited(worker)));
      let called = false;
      const done = new Promise<void>((resolve) => fresh.disconnect(() => { called = true; resolve(); }));
      assert.equal(called, false);
      await done;
    });

    test('cluster.disconnect(cb) disconnects every worker; cb sees cluster.workers empty', async () => {
      const workers = [forkWorker(impl, 'idle'), forkWorker(impl, 'idle'), forkWorker(impl, 'idle')];
      await Promise.all(workers.map((worker) => event(worker, 'online')));
      await new Promise<void>((resolve) => impl.cluster.disconnect(() => {
        assert.deepEqual(Object.keys(impl.cluster.workers), []);
        resolve();
      }));
      const codes = await Promise.all(workers.map(async (worker) => {
        if (!worker.isDead()) await event(worker, 'exit');
        return worker.process.exitCode;
      }));
      assert.deepEqual(codes, [0, 0, 0]);
      for (const worker of workers) assert.equal(worker.exitedAfterDisconnect, true);
    });
  });

  describe(`${impl.name}: messages`, () => {
    test('user messages round-trip untouched; control frames never reach \'message\'', async () => {
      const worker = forkWorker(impl, 'echo');
      const received: unknown[] = [];
      const viaCluster: unknown[] = [];
      await report(worker, 'ready'); // ES-module workers load asynchronously (nodejs/node#48578)
      worker.on('message', (message) => received.push(message));
      const onClusterMessage = (w: Worker, message: unknown): void => { if (w === worker) viaCluster.push(message); };
      impl.cluster.on('message', onClusterMessage);
      const messages = [{ hello: 'world', n: 1 }, 'text', [1, 2, 3], { cmd: 'user-command' }];
      for (const message of messages) assert.equal(worker.send(message), true);
      await until(worker, 'message', () => received.length >= messages.length);
      impl.cluster.off('message', onClusterMessage);
      assert.deepEqual(received, messages);
      assert.deepEqual(viaCluster, messages);
    });

    test('serialization: \'advanced\' round-trips Maps, BigInts and circular objects', async () => {
      impl.cluster.setupPrimary({ serialization: 'advanced' });
      try {
        const worker = forkWorker(impl, 'echo');
        await report(worker, 'ready');
        const circular: Record<string, unknown> = { name: 'loop' };
        circular['self'] = circular;
        worker.send({ map: new Map([['a', 1]]), big: 10n ** 20n, circular });
        const [echoed] = await event<[{ map: Map<string, number>; big: bigint; circular: Record<string, unknown> }]>(worker, 'message');
        assert.deepEqual(echoed.map, new Map([['a', 1]]));
        assert.equal(echoed.big, 10n ** 20n);
        assert.equal(echoed.circular['self'], echoed.circular);
      } finally {
        impl.cluster.setupPrimary({ serialization: 'json' });
      }
    });

    test('sending to an exited worker returns false and reports an error to the callback', async () => {
      const worker = forkWorker(impl, 'idle');
      await event(worker, 'online');
      worker.process.kill('SIGKILL');
      await exited(worker);
      if (worker.isConnected()) await event(worker, 'disconnect');
      const error = await new Promise<Error>((resolve) => {
        assert.equal(worker.send('late', (err: Error | null) => resolve(err!)), false);
      });
      assert.ok(error instanceof Error);
      if (impl.name === 'corral') {
        assert.equal((error as Error & { code: string }).code, 'CORRAL_ERR_WORKER_NOT_CONNECTED');
        assert.match(error.message, new RegExp(`worker ${worker.id} \\(pid ${worker.process.pid}\\)`));
        assert.match(error.message, /isConnected\(\)/);
      }
    });
  });
}

describe('corral: primary death', () => {
  test('workers exit when their primary is killed', { timeout: 30_000 }, async () => {
    const { runPrimary } = await import('./helpers/primary-process.js');
    const primary = runPrimary({ IMPL: 'corral', WORKERS: '2', SCENARIO: 'outgoing-connection' });
    try {
      await primary.workersConnected(2);
      primary.child.kill('SIGKILL');
      await primary.workersGone();
    } finally {
      await primary.dispose();
    }
  });
});
