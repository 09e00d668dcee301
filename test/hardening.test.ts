// Hardening the primary: what a worker can send or do must not take it down, and node:cluster
// behaviours that Node's own tests rely on hold on corral too. Scenarios that node:cluster also
// handles run on both primaries and must agree.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, test } from 'node:test';
import {
  ClusterPrimary, createCluster, SCHED_NONE, SCHED_RR, type ManagedCluster, type RestartInfo,
} from 'corral';
import {
  cleanup, CORRAL, event, exited, forkWorker, IMPLEMENTATIONS, report, track, WORKER_FIXTURE, type Implementation,
} from './helpers/harness.js';
import { freePort, readMany } from './helpers/net-client.js';
import { killPrograms, startProgram } from './helpers/program.js';

const UV_EBADF = -os.constants.errno.EBADF;
const UV_EINVAL = -os.constants.errno.EINVAL;
const FD_PRIMARY = fileURLToPath(new URL('./fixtures/fd-primary.js', import.meta.url));
const ACTIVATED_PRIMARY = fileURLToPath(new URL('./fixtures/activated-primary.js', import.meta.url));
const managedClusters: ManagedCluster[] = [];
// Not public: the restart delay function, loaded from the build.
const { restartDelay } = await import(new URL('../../dist/managed/backoff.js', import.meta.url).href) as {
  restartDelay: (crashes: number, policy: Record<string, number>, random: () => number) => number;
};

afterEach(async () => {
  await cleanup();
  await killPrograms();
  await Promise.all(managedClusters.splice(0).map((cluster) => cluster.close({ timeout: 2000 })));
});

/** Collects process warnings with `code` while `run` runs. */
async function warningsDuring(code: string, run: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const names = new Set<string>();
  const listener = (warning: Error & { code?: string }): void => {
    if (warning.code !== code) return;
    seen.push(warning.message);
    names.add(warning.name);
  };
  process.on('warning', listener);
  try {
    await run();
  } finally {
    process.off('warning', listener);
  }
  // Every warning corral emits has one type (src/warnings.ts).
  assert.deepEqual([...names], seen.length === 0 ? [] : ['CorralWarning']);
  return seen;
}

describe('listen({ fd }): a descriptor of the primary, as systemd socket activation passes', () => {
  for (const impl of ['node:cluster', 'corral']) {
    for (const policy of ['rr', 'none']) {
      test(`${impl} (${policy === 'rr' ? 'round-robin' : 'shared'}): both workers listen on it and answer`, async () => {
        const primary = startProgram(FD_PRIMARY, [], { env: { IMPL: impl, POLICY: policy } });
        const [bound] = await primary.waitFor(/"type":"bound"/);
        const { port, fd } = JSON.parse(bound!) as { port: number; fd: number };
        const listening = await primary.waitFor(/"type":"listening"/, 2);
        for (const line of listening) assert.equal((JSON.parse(line) as { address: { port: number } }).address.port, port);
        const [primaryListening] = await primary.waitFor(/"type":"primary-listening"/);
        assert.deepEqual((JSON.parse(primaryListening!) as { address: unknown }).address, { addressType: null, address: null, port, fd });
        const answers = new Set(await readMany(port, 20, 4));
        assert.deepEqual([...answers].sort(), ['1', '2']);
        assert.doesNotMatch(primary.stderr(), /malformed/);
      });
    }
  }
});

describe('systemd socket activation', () => {
  test('a managed cluster started with an inherited listening socket (LISTEN_FDS) shares it; it stays open across worker restarts', async () => {
    // As systemd does: the socket is bound and listening before the service starts, and is
    // descriptor 3 of the service, whose own pid LISTEN_PID names (sh's `exec` keeps its pid).
    const socket = net.createServer();
    await new Promise<void>((resolve) => socket.listen(0, '127.0.0.1', resolve));
    const { port } = socket.address() as net.AddressInfo;
    const fd = (socket as unknown as { _handle: { fd: number } })._handle.fd;
    const primary = startProgram('-c', ['LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=web exec "$0" "$@"', process.execPath, ACTIVATED_PRIMARY], {
      execPath: '/bin/sh', stdio: ['ignore', 'pipe', 'pipe', fd],
    });
    // From now on only the service holds the socket.
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    const [readyLine] = await primary.waitFor(/"type":"ready"/);
    const ready = JSON.parse(readyLine!) as { sockets: unknown; pid: number };
    assert.deepEqual(ready.sockets, [{ fd: 3, name: 'web' }]);
    assert.deepEqual(new Set(await readMany(port, 10, 2)), new Set(['1', '2']));
    // A worker dies; its replacement listens on the same, still open, socket.
    const listening = await primary.waitFor(/"type":"worker-listening"/, 2);
    const victim = (JSON.parse(listening[0]!) as { pid: number }).pid;
    process.kill(victim, 'SIGKILL');
    await primary.waitFor(/"type":"worker-listening"/, 3);
    const answers = new Set(await readMany(port, 10, 2));
    assert.equal(answers.size, 2, [...answers].join(','));
    assert.ok(answers.has('3') || answers.has('4'), `a replacement answers: ${[...answers].join(',')}`);
    assert.doesNotMatch(primary.stderr(), /EBADF|REFUSED/);
  });
});

describe('control frames a worker should never send', () => {
  const frame = (fields: Record<string, unknown>): Record<string, string> => ({
    FRAME: JSON.stringify({ act: 'queryServer', address: null, index: 0, data: null, ...fields }),
  });

  test('a queryServer with both fd and port is refused with EINVAL under both balancers (it crashed the shared one)', async () => {
    for (const policy of [SCHED_RR, SCHED_NONE] as const) {
      const impl: Implementation = { name: 'corral', cluster: new ClusterPrimary({ schedulingPolicy: policy }) };
      const worker = forkWorker(impl, 'send-frame', frame({ fd: 3, port: 8123, addressType: 4 }));
      const { reply } = await report(worker, 'reply') as unknown as { reply: { errno: number } };
      assert.equal(reply.errno, UV_EINVAL);
    }
  });

  test('a flood of malformed frames is answered frame by frame, and warned about in one line per kind, with a count', async () => {
    const shown: string[] = [];
    const listener = (warning: Error & { code?: string }): void => {
      if (warning.code === 'CORRAL_ERR_INVALID_CONTROL_FRAME') shown.push(warning.message);
    };
    process.on('warning', listener);
    try {
      const worker = forkWorker(CORRAL, 'send-frames', { COUNT: '3000' });
      const { count } = await report(worker, 'replies', 30_000) as unknown as { count: number };
      assert.equal(count, 3000, 'every frame with a seq got its answer');
      assert.equal(shown.length, 1, 'one warning shown during the flood');
      worker.process.kill('SIGKILL');
      await event(worker, 'exit');
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(shown.length, 2);
      assert.match(shown[1]!, new RegExp(`^2999 more warnings of this kind \\(CORRAL_ERR_INVALID_CONTROL_FRAME\\) about worker ${worker.id} since the last one shown, which was: Worker ${worker.id} sent a malformed`));
    } finally {
      process.off('warning', listener);
    }
  });

  test('a worker may hold at most settings.maxServersPerWorker servers; past it, listen() fails with EMFILE', async () => {
    CORRAL.cluster.setupPrimary({ maxServersPerWorker: 5 });
    try {
      const warnings = await warningsDuring('CORRAL_TOO_MANY_SERVERS', async () => {
        const worker = forkWorker(CORRAL, 'many-listens', { COUNT: '8' });
        const { outcomes } = await report(worker, 'outcomes') as unknown as { outcomes: string[] };
        assert.deepEqual(outcomes, ['listening', 'listening', 'listening', 'listening', 'listening', 'EMFILE', 'EMFILE', 'EMFILE']);
        assert.equal(CORRAL.cluster.openServerCount, 5);
      });
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /holds 5, the most one worker may hold.*settings\.maxServersPerWorker/);
    } finally {
      delete (CORRAL.cluster.settings as Record<string, unknown>)['maxServersPerWorker'];
    }
  });

  test('a UDP query without an address (found by the fuzz test: the unbound socket could not be sent) is answered with EINVAL', async () => {
    const worker = forkWorker(CORRAL, 'send-frame', frame({ port: 0, addressType: 'udp4', index: 1 }));
    const { reply } = await report(worker, 'reply') as unknown as { reply: { errno: number } };
    assert.equal(reply.errno, UV_EINVAL);
  });

  test('workers that die while their listen() is answered are not said to have sent malformed frames', async () => {
    const said: string[] = [];
    const listener = (warning: Error): void => {
      if (warning.name === 'CorralWarning') said.push(warning.message);
    };
    process.on('warning', listener);
    try {
      // 60 workers: on 0.5.0 about one in ten was warned about as "malformed … write EPIPE".
      const workers = Array.from({ length: 60 }, () => forkWorker(CORRAL, 'query-then-die'));
      await Promise.all(workers.map((worker) => exited(worker)));
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(workers.map((worker) => worker.process.signalCode), workers.map(() => 'SIGKILL'));
      assert.deepEqual(said, []);
    } finally {
      process.off('warning', listener);
    }
  });

  test('a worker scanning descriptors 3-63 changes nothing: every connection is still served and exits are still seen', async () => {
    const bystander = forkWorker(CORRAL, 'serve', { HOST: '127.0.0.1' });
    const port = ((await report(bystander, 'listening'))['address'] as { port: number }).port;
    const scanner = forkWorker(CORRAL, 'fuzz-frames');
    await report(scanner, 'ready');
    await warningsDuring('CORRAL_DESCRIPTOR_REFUSED', async () => {
      const frames = Array.from({ length: 61 }, (_, i) => ({ act: 'queryServer', address: null, port: null, addressType: null, fd: i + 3, index: 0 }));
      scanner.send({ cmd: 'frames', frames, batch: 1 });
      await report(scanner, 'fuzz-done');
    });
    assert.deepEqual(new Set(await readMany(port, 50, 8)), new Set([String(bystander.id)]));
    bystander.process.kill('SIGKILL');
    await event(bystander, 'exit');
  });

  test('descriptors the primary relies on are refused with EBADF and stay open and working', async () => {
    const bystander = forkWorker(CORRAL, 'serve', { HOST: '127.0.0.1' });
    const served = await report(bystander, 'listening');
    const channelFd = (bystander.process.channel as unknown as { fd: number }).fd;
    const nonSocket = fs.openSync(fileURLToPath(import.meta.url), 'r');
    try {
      const warnings = await warningsDuring('CORRAL_DESCRIPTOR_REFUSED', async () => {
        for (const fd of [0, 1, 2, nonSocket, channelFd, 1_000_000]) {
          const worker = forkWorker(CORRAL, 'send-frame', frame({ fd, port: null, addressType: null }));
          const { reply } = await report(worker, 'reply') as unknown as { reply: { errno: number } };
          assert.equal(reply.errno, UV_EBADF, `descriptor ${fd}`);
        }
      });
      assert.equal(warnings.length, 6);
      assert.match(warnings[4]!, new RegExp(`descriptor ${channelFd} is in use by the primary`));
      // Nothing was closed: the file is readable, the bystander still talks and serves.
      assert.ok(fs.fstatSync(nonSocket).isFile());
      bystander.send({ cmd: 'ping' });
      await report(bystander, 'pong');
      const port = (served['address'] as { port: number }).port;
      assert.deepEqual(await readMany(port, 2, 1), [String(bystander.id), String(bystander.id)]);
      // And the primary still sees workers exit.
      bystander.process.kill('SIGKILL');
      await event(bystander, 'exit');
    } finally {
      fs.closeSync(nonSocket);
    }
  });
});

for (const impl of IMPLEMENTATIONS) {
  describe(`${impl.name}: behaviours Node's own cluster tests rely on`, () => {
    for (const form of ['none', 'address', 'string-port', 'udp6']) {
      test(`UDP bind() in a worker with ${form === 'none' ? 'no port' : form === 'address' ? 'only an address' : form === 'string-port' ? 'a port as a string' : 'udp6 and no port'} works`, async () => {
        const port = await freePort();
        const worker = forkWorker(impl, 'udp-bind-form', { BIND_FORM: form, PORT: String(port) });
        const listening = await report(worker, 'listening');
        const address = listening['address'] as { port: number };
        assert.ok(address.port > 0);
        if (form === 'string-port') assert.equal(address.port, port);
      });
    }

    test('cluster.fork(nonObject) starts a worker instead of throwing (Node\'s tests call cluster.fork(__filename))', async () => {
      impl.cluster.setupPrimary({ exec: WORKER_FIXTURE, args: [], execArgv: [] });
      const previous = process.env['SCENARIO'];
      process.env['SCENARIO'] = 'env-keys';
      try {
        const warnings = await warningsDuring('CORRAL_FORK_ENV_NOT_OBJECT', async () => {
          const worker = track(impl.cluster.fork('ab' as never));
          // The worker starts with the primary's environment (which chose its scenario).
          const env = await report(worker, 'env');
          assert.equal(env.workerId, worker.id);
        });
        assert.equal(warnings.length, impl.name === 'corral' ? 1 : 0);
      } finally {
        if (previous === undefined) delete process.env['SCENARIO'];
        else process.env['SCENARIO'] = previous;
      }
    });

    test('inspectPort: setupPrimary() takes any value; fork() with the inspector rejects a bad one with ERR_SOCKET_BAD_PORT', () => {
      const { cluster } = impl;
      const bad: unknown[] = ['string', null, 1293812, -9776, () => 123121, () => 'invalidPort'];
      for (const inspectPort of bad) {
        cluster.setupPrimary({ exec: WORKER_FIXTURE, args: [], execArgv: ['--inspect=127.0.0.1:0'], inspectPort: inspectPort as number });
        const before = Object.keys(cluster.workers).length;
        assert.throws(() => cluster.fork(), (error: unknown) =>
          error instanceof RangeError && (error as { code?: string }).code === 'ERR_SOCKET_BAD_PORT', String(inspectPort));
        assert.equal(Object.keys(cluster.workers).length, before);
      }
      delete (cluster.settings as Record<string, unknown>)['inspectPort'];
      cluster.setupPrimary({ execArgv: [] });
    });

    test('cluster.Worker can be called without new, as a plain function', () => {
      const WorkerClass = impl.cluster.Worker as unknown as (options?: object) => InstanceType<typeof impl.cluster.Worker>;
      const worker = WorkerClass({ id: 7, state: 'online' });
      assert.ok(worker instanceof impl.cluster.Worker);
      assert.equal(worker.id, 7);
      assert.equal(worker.state, 'online');
      assert.equal(new impl.cluster.Worker().state, 'none');
    });
  });
}

describe('the managed cluster under failing workers', () => {
  const managed = (options: Parameters<typeof createCluster>[0]): ManagedCluster => {
    const cluster = createCluster(options);
    managedClusters.push(cluster);
    return cluster;
  };

  test('a worker that leaves through cluster.worker.disconnect() with exit code 1 is a crash and backs off', async () => {
    const cluster = managed({
      exec: WORKER_FIXTURE, workers: 1, readyWhen: 'online', env: { SCENARIO: 'disconnect-self', DISCONNECT_EXIT_CODE: '1' },
      restart: { minDelay: 50, maxDelay: 400, factor: 2, jitter: 0, resetAfter: 60_000 },
    });
    const restarts: RestartInfo[] = [];
    cluster.on('restart', (info) => restarts.push(info));
    void cluster.start().catch(() => {});
    while (restarts.length < 4) await event(cluster, 'restart', 10_000);
    assert.deepEqual(restarts.map(({ crashes, delay }) => ({ crashes, delay })), [
      { crashes: 1, delay: 0 }, { crashes: 2, delay: 50 }, { crashes: 3, delay: 100 }, { crashes: 4, delay: 200 },
    ]);
  });

  test('however fast every slot restarts, the cluster forks at most max(4, 2 × workers) times in any second', { timeout: 30_000 }, async () => {
    const cluster = managed({
      exec: WORKER_FIXTURE, workers: 3, readyWhen: 'online', env: { SCENARIO: 'disconnect-self', DISCONNECT_EXIT_CODE: '1' },
      restart: { minDelay: 0, maxDelay: 0, factor: 1, jitter: 0, resetAfter: 60_000 },
      crashLoop: { maxCrashes: 1_000 },
    });
    const forks: number[] = [];
    cluster.on('fork', () => forks.push(Date.now()));
    void cluster.start().catch(() => {});
    while (forks.length < 20) await event(cluster, 'fork', 10_000);
    // 6 allowed per second: any 7 consecutive forks span about a second or more (the margin is
    // for timer and event delivery, the bound it checks is the order of magnitude: without it,
    // these 20 forks came within a few ms of each other).
    for (let i = 6; i < forks.length; i++) {
      assert.ok(forks[i]! - forks[i - 6]! >= 900, `forks ${i - 6}..${i} came within ${forks[i]! - forks[i - 6]!} ms`);
    }
  });

  test('worker.send() without a callback to a worker that died never crashes the primary; the failures are one grouped warning', async () => {
    const cluster = managed({ exec: WORKER_FIXTURE, workers: 1, env: { SCENARIO: 'serve' }, restart: false });
    await cluster.start();
    const [worker] = cluster.workers;
    const warnings = await warningsDuring('CORRAL_WORKER_ERROR', async () => {
      worker!.process.kill('SIGKILL');
      // While the channel is still open, as it closes, and after the exit.
      for (let i = 0; i < 50; i++) worker!.send({ i });
      // (Not events.once(): it rejects on the 'error' events this test provokes.)
      const exit = new Promise((resolve) => worker!.once('exit', resolve));
      while (worker!.isConnected()) {
        worker!.send({ closing: true });
        await new Promise((resolve) => setImmediate(resolve));
      }
      await exit;
      for (let i = 0; i < 50; i++) assert.equal(worker!.send({ after: i }), false);
      await new Promise((resolve) => setImmediate(resolve));
    });
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /^corral: worker \d+: (write EPIPE|Cannot send to worker)/);
  });

  test('timeouts above 2^31-1 ms are refused, not cut to 1 ms', async () => {
    const tooLong = 3e9;
    for (const options of [{ shutdownTimeout: tooLong }, { restart: { minDelay: tooLong, maxDelay: tooLong } }, { restart: { maxDelay: tooLong } }]) {
      assert.throws(() => createCluster({ exec: WORKER_FIXTURE, ...options }), /at most 2147483647 ms/);
    }
    const cluster = managed({ exec: WORKER_FIXTURE, workers: 1, env: { SCENARIO: 'serve' } });
    await cluster.start();
    await assert.rejects(cluster.close({ timeout: tooLong }), /close\(\{ timeout \}\).*at most 2147483647 ms/);
  });

  test('a missing cwd is refused by createCluster() and by fork(), naming the directory', () => {
    assert.throws(() => createCluster({ exec: WORKER_FIXTURE, cwd: '/no/such/dir' }), /`cwd` to be an existing directory, got '\/no\/such\/dir'/);
    CORRAL.cluster.setupPrimary({ exec: WORKER_FIXTURE, cwd: '/no/such/dir' });
    try {
      assert.throws(() => CORRAL.cluster.fork(), /`settings\.cwd` to be an existing directory/);
    } finally {
      delete (CORRAL.cluster.settings as Record<string, unknown>)['cwd'];
    }
  });

  test('restart jitter spreads capped delays around maxDelay instead of clipping them to it', () => {
    const policy = { minDelay: 100, maxDelay: 1000, factor: 2, jitter: 0.2, resetAfter: 10_000, minUptime: 1_000 };
    const delays = Array.from({ length: 16 }, (_, i) => restartDelay(20, policy, () => i / 15));
    assert.equal(new Set(delays).size, 16);
    assert.equal(Math.min(...delays), 800);
    assert.equal(Math.max(...delays), 1200);
  });
});
