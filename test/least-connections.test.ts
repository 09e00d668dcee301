// The least-connections balancer with real workers and real sockets: a worker holding
// long-lived connections gets no new ones while another has fewer; the counts come from what the
// primary handed over and the closes the workers' reports say (early, after each close).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import { createCluster, type ManagedCluster, type Worker } from 'corral';
import { countBy, freePort, openAndReadFirstLine } from './helpers/net-client.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-least-'));
after(() => rmSync(dir, { recursive: true, force: true }));
/** A TCP server that says its pid and keeps the connection until the client ends it. */
const APP = path.join(dir, 'pid-server.cjs');
writeFileSync(APP, `require('node:net').createServer((socket) => {
  socket.write(process.pid + '\\n');
  socket.on('data', () => {});
  socket.on('end', () => socket.end());
}).listen(Number(process.env.PORT), '127.0.0.1');\n`);

const clusters: ManagedCluster[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(clusters.splice(0).map((cluster) => cluster.close()));
});

async function startCluster(balancer: 'least-connections' | 'round-robin', port: number): Promise<ManagedCluster> {
  const cluster = createCluster({ exec: APP, workers: 2, balancer, env: { PORT: String(port) } });
  clusters.push(cluster);
  await cluster.start();
  return cluster;
}

/** Resolves once a report of the worker with `pid` says `closed` handed-over connections have closed. */
function closedReported(cluster: ManagedCluster, pid: number, closed: number, timeout = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cluster.off('report', check);
      reject(new Error(`no report of ${closed} closed connections from pid ${pid} within ${timeout} ms`));
    }, timeout);
    function check(worker: Worker, report: { handoffs?: { closed: number } }): void {
      if (worker.process.pid !== pid || (report.handoffs?.closed ?? 0) < closed) return;
      clearTimeout(timer);
      cluster.off('report', check);
      resolve();
    }
    cluster.on('report', check);
  });
}

/** Opens a connection and returns the pid of the worker that took it, keeping it open. */
async function hold(port: number): Promise<{ pid: string; socket: Socket }> {
  const { socket, line } = await openAndReadFirstLine(port);
  sockets.push(socket);
  return { pid: line, socket };
}

/** One short connection after another (each closed before the next): the pid of each worker that took it. */
async function shortOnes(port: number, count: number): Promise<string[]> {
  const pids: string[] = [];
  for (let index = 0; index < count; index += 1) {
    const { socket, line } = await openAndReadFirstLine(port);
    pids.push(line);
    await new Promise<void>((resolve) => socket.once('close', () => resolve()).end());
  }
  return pids;
}

describe('least-connections', () => {
  test('new connections go to the worker with fewer open ones, while round-robin takes turns; reports carry the counts', { timeout: 60_000 }, async () => {
    const seen: Record<string, string[]> = {};
    for (const balancer of ['least-connections', 'round-robin'] as const) {
      const port = await freePort();
      const cluster = await startCluster(balancer, port);
      // Twenty long-lived connections, spread ten and ten (both workers start at none).
      const held = [];
      for (let index = 0; index < 20; index += 1) held.push(await hold(port));
      const perWorker = countBy(held.map((entry) => entry.pid));
      assert.deepEqual([...perWorker.values()], [10, 10], `${balancer}: ${JSON.stringify([...perWorker])}`);
      // The first worker's ten end (its reports must say so: without them it would count ten
      // open, and more with each new one); the other keeps its ten.
      const freed = held[0]!.pid;
      const closing = balancer === 'least-connections' ? closedReported(cluster, Number(freed), 10) : Promise.resolve();
      for (const entry of held.filter((candidate) => candidate.pid === freed)) entry.socket.end();
      await closing;
      seen[balancer] = (await shortOnes(port, 6)).map((pid) => (pid === freed ? 'freed' : 'busy'));
      if (balancer === 'least-connections') {
        // The freed worker's reports (early ones, after its closes) count what it was handed.
        const handoffs = cluster.status().slots.find((slot) => String(slot.worker?.pid) === freed)?.worker?.report?.handoffs;
        assert.ok(handoffs !== undefined && handoffs.received >= 10 && handoffs.closed >= 10, JSON.stringify(handoffs));
      } else {
        assert.ok(cluster.status().slots.every((slot) => slot.worker?.report?.handoffs === undefined), 'round-robin workers do not count');
      }
      for (const socket of sockets.splice(0)) socket.destroy();
      await cluster.close();
    }
    // least-connections: every short one to the worker with none open; round-robin: turns.
    assert.deepEqual(seen['least-connections'], ['freed', 'freed', 'freed', 'freed', 'freed', 'freed']);
    assert.deepEqual(countBy(seen['round-robin']!), new Map([['freed', 3], ['busy', 3]]));
  });

  test('under concurrent short connections both workers take a fair share', { timeout: 60_000 }, async () => {
    const port = await freePort();
    await startCluster('least-connections', port);
    const answers = (await Promise.all(Array.from({ length: 8 }, () => shortOnes(port, 50)))).flat();
    const counts = [...countBy(answers).values()];
    assert.equal(counts.length, 2, JSON.stringify(counts));
    assert.ok(counts.every((count) => count >= 120), `split ${counts.join(' / ')} of 400`);
  });

  test('it needs the workers\' reports: reportInterval 0 is refused with the reason', () => {
    assert.throws(() => createCluster({ exec: APP, balancer: 'least-connections', reportInterval: 0 }),
      /reportInterval.*above 0 with balancer 'least-connections'/);
  });
});
