// Listening in workers, as node:cluster does it, for one scheduling policy. Each test file sets
// the policy on both primaries before any fork (it freezes then) and calls this suite.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { ClusterPrimary, type Worker } from 'corral';
import {
  cleanup, exited, forkWorker, IMPLEMENTATIONS, report, reports, until, type Implementation, type Report,
} from './harness.js';
import { countBy, freePort, readAll, readMany, udpRoundTrip } from './net-client.js';

const [nodeMajor = 0, nodeMinor = 0] = process.versions.node.split('.').map(Number);
/** net's `reusePort` listen option exists from Node 22.12 and 23.1. */
export const HAS_REUSE_PORT = nodeMajor > 23 || (nodeMajor === 23 && nodeMinor >= 1) || (nodeMajor === 22 && nodeMinor >= 12);

function portOf(listening: Report): number {
  return (listening['address'] as { port: number }).port;
}

function openServers(impl: Implementation): number | undefined {
  return impl.cluster instanceof ClusterPrimary ? impl.cluster.openServerCount : undefined;
}

async function disconnectAll(impl: Implementation, workers: readonly Worker[]): Promise<void> {
  await new Promise<void>((resolve) => impl.cluster.disconnect(resolve));
  await Promise.all(workers.map((worker) => exited(worker)));
}

export function defineListenSuite(policy: 'round-robin' | 'shared'): void {
  afterEach(cleanup);

  for (const impl of IMPLEMENTATIONS) {
    describe(`${impl.name} (${policy}): listening in workers`, () => {
      test('listen(0): 8 workers x 2 servers share 2 ports; teardown leaves nothing open; twice', { timeout: 60_000 }, async () => {
        for (let round = 0; round < 2; round++) {
          let listeningEvents = 0;
          const onListening = (): void => { listeningEvents += 1; };
          impl.cluster.on('listening', onListening);
          const workers = Array.from({ length: 8 }, () => forkWorker(impl, 'serve', { SERVERS: '2', HOST: '127.0.0.1' }));
          await until(impl.cluster, 'listening', () => listeningEvents >= 16, 30_000);
          impl.cluster.off('listening', onListening);
          await Promise.all(workers.map((worker) => until(worker, 'message', () => listeningCount(worker) >= 2)));
          const ports = new Set<number>();
          for (const worker of workers) {
            for (const message of reports(worker)) {
              if (message.type === 'listening') ports.add(portOf(message));
            }
          }
          assert.equal(listeningEvents, 16);
          assert.equal(ports.size, 2, `ports: ${[...ports].join(', ')}`);
          for (const port of ports) {
            const answer = (await readAll(port)).trim();
            assert.ok(workers.some((worker) => String(worker.id) === answer), `answer ${answer}`);
          }
          await disconnectAll(impl, workers);
          if (openServers(impl) !== undefined) assert.equal(openServers(impl), 0);
        }
      });

      test('EADDRINUSE reaches the worker server\'s \'error\' event, and the primary keeps no handle', async () => {
        const blocker = net.createServer();
        await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
        const { port } = blocker.address() as net.AddressInfo;
        try {
          const worker = forkWorker(impl, 'serve', { HOST: '127.0.0.1', PORT: String(port) });
          const failure = await report(worker, 'listen-error');
          assert.equal(failure['code'], 'EADDRINUSE');
          if (openServers(impl) !== undefined) assert.equal(openServers(impl), 0);
        } finally {
          blocker.close();
        }
      });

      test('EACCES reaches the worker server\'s \'error\' event, and the primary keeps no handle', async () => {
        // libuv reports a Unix socket bind in a missing directory as EACCES (it maps ENOENT to
        // EACCES for pipes), which holds even for root, unlike a privileged port.
        const socketPath = path.join(os.tmpdir(), `corral-missing-${process.pid}`, 'server.sock');
        const worker = forkWorker(impl, 'serve', { SOCKET_PATH: socketPath });
        const failure = await report(worker, 'listen-error');
        assert.equal(failure['code'], 'EACCES');
        if (openServers(impl) !== undefined) assert.equal(openServers(impl), 0);
      });

      test('a Unix socket path is shared by the workers', async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-'));
        const socketPath = path.join(dir, 'server.sock');
        try {
          const workers = [0, 1].map(() => forkWorker(impl, 'serve', { SOCKET_PATH: socketPath }));
          await Promise.all(workers.map((worker) => report(worker, 'listening')));
          const answers = await readMany(socketPath, 20, 4);
          assert.equal(answers.length, 20);
          for (const answer of answers) assert.ok(workers.some((worker) => String(worker.id) === answer));
          if (policy === 'round-robin') assert.equal(countBy(answers).size, 2);
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      });

      test('IPv6 loopback: workers share a port on ::1', async (t) => {
        const hasIpv6 = os.networkInterfaces()['lo']?.some((entry) => entry.family === 'IPv6') === true;
        if (!hasIpv6) t.diagnostic('no IPv6 loopback on this machine; the test runs on 127.0.0.1');
        const host = hasIpv6 ? '::1' : '127.0.0.1';
        const workers = [0, 1].map(() => forkWorker(impl, 'serve', { HOST: host }));
        const listening = await Promise.all(workers.map((worker) => report(worker, 'listening')));
        assert.equal(portOf(listening[0]!), portOf(listening[1]!));
        const answer = (await readAll({ port: portOf(listening[0]!), host })).trim();
        assert.ok(workers.some((worker) => String(worker.id) === answer));
      });

      test('UDP: workers bind one shared port and answer datagrams', async () => {
        const port = await freePort();
        const workers = [0, 1].map(() => forkWorker(impl, 'udp', { PORT: String(port) }));
        const bound = await Promise.all(workers.map((worker) => report(worker, 'listening')));
        for (const message of bound) assert.equal(portOf(message), port);
        const reply = await udpRoundTrip(port, 'ping');
        assert.match(reply, /^\d+:ping$/);
      });

      test('exclusive: true bypasses the primary: each worker gets its own port', async () => {
        let clusterListening = 0;
        const onListening = (): void => { clusterListening += 1; };
        impl.cluster.on('listening', onListening);
        const workers = [0, 1].map(() => forkWorker(impl, 'exclusive'));
        const listening = await Promise.all(workers.map((worker) => report(worker, 'listening')));
        impl.cluster.off('listening', onListening);
        assert.notEqual(portOf(listening[0]!), portOf(listening[1]!));
        assert.equal(clusterListening, 0);
      });

      test(`reusePort: true ${HAS_REUSE_PORT ? 'bypasses the primary' : 'is not in this Node, so listen goes through the primary'}`, async () => {
        const port = await freePort();
        let clusterListening = 0;
        const onListening = (): void => { clusterListening += 1; };
        impl.cluster.on('listening', onListening);
        const workers = [0, 1].map(() => forkWorker(impl, 'reuse-port', { PORT: String(port) }));
        const listening = await Promise.all(workers.map((worker) => report(worker, 'listening')));
        if (!HAS_REUSE_PORT) await until(impl.cluster, 'listening', () => clusterListening >= 2);
        impl.cluster.off('listening', onListening);
        for (const message of listening) assert.equal(portOf(message), port);
        assert.equal(clusterListening, HAS_REUSE_PORT ? 0 : 2);
        const answer = (await readAll(port)).trim();
        assert.ok(workers.some((worker) => String(worker.id) === answer));
      });

      test('a worker can close its server and listen on the same port again', async () => {
        const port = await freePort();
        const worker = forkWorker(impl, 'serve', { HOST: '127.0.0.1', PORT: String(port) });
        await report(worker, 'listening');
        worker.send({ cmd: 'close-and-relisten' });
        await report(worker, 'closed');
        await until(worker, 'message', () => listeningCount(worker) >= 2);
        assert.equal((await readAll(port)).trim(), String(worker.id));
      });

      test('a worker relistens on a port another worker still holds', async () => {
        const port = await freePort();
        const [first, second] = [0, 1].map(() => forkWorker(impl, 'serve', { HOST: '127.0.0.1', PORT: String(port) })) as [Worker, Worker];
        await Promise.all([report(first, 'listening'), report(second, 'listening')]);
        first.send({ cmd: 'close-and-relisten' });
        await report(first, 'closed');
        const outcome = await Promise.race([
          until(first, 'message', () => listeningCount(first) >= 2).then(() => 'listening'),
          report(first, 'listen-error').then((failure) => String(failure['code'])),
        ]);
        assert.equal(outcome, 'listening');
        assert.equal((await readAll(port)).trim().length > 0, true);
      });
    });
  }
}

function listeningCount(worker: Worker): number {
  return reports(worker).filter((message) => message.type === 'listening').length;
}
