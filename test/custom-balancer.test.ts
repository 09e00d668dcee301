// A balancer of one's own (`createCluster({ balancer: { name, createStrategy } })`), with real
// workers and sockets: it sees every candidate's slot, whether it is busy and its load, and the
// connection's address; it may pick among the free workers or among all of them; a pick that
// throws or answers nonsense still places the connection, with a warning.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import {
  createCluster, InvalidBalancerError, type BalancingStrategy, type Candidate, type ConnectionInfo, type CustomBalancer, type ManagedCluster,
} from 'corral';
import { freePort, openAndReadFirstLine } from './helpers/net-client.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-custom-balancer-'));
after(() => rmSync(dir, { recursive: true, force: true }));
/** A TCP server that says its slot and keeps the connection until the client ends it. */
const APP = path.join(dir, 'slot-server.cjs');
writeFileSync(APP, `const slot = process.env.CORRAL_SLOT;
require('node:net').createServer((socket) => {
  socket.write(slot + '\\n');
  socket.on('data', () => {});
  socket.on('end', () => socket.end());
}).listen(Number(process.env.PORT), '127.0.0.1');\n`);

const clusters: ManagedCluster[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(clusters.splice(0).map((cluster) => cluster.close()));
});

async function startWith(balancer: CustomBalancer, port: number): Promise<ManagedCluster> {
  const cluster = createCluster({ exec: APP, workers: 2, balancer, env: { PORT: String(port) } });
  clusters.push(cluster);
  await cluster.start();
  return cluster;
}

async function slotsOf(port: number, count: number, keepOpen: boolean): Promise<string[]> {
  const slots: string[] = [];
  for (let index = 0; index < count; index += 1) {
    const { socket, line } = await openAndReadFirstLine(port);
    slots.push(line);
    if (keepOpen) sockets.push(socket);
    else await new Promise<void>((resolve) => socket.once('close', () => resolve()).end());
  }
  return slots;
}

describe('a balancer of your own', () => {
  test('it picks among the free workers, seeing slots, load (with counted connections) and the client address', { timeout: 30_000 }, async () => {
    const seen: { slots: number[]; busy: boolean[]; open: (number | undefined)[]; address: string | undefined }[] = [];
    const strategy = (): BalancingStrategy => ({
      pick: (candidates: readonly Candidate[], connection: ConnectionInfo): Candidate => {
        seen.push({
          slots: candidates.map((candidate) => candidate.slot),
          busy: candidates.map((candidate) => candidate.busy),
          open: candidates.map((candidate) => candidate.load.open),
          address: connection.remoteAddress,
        });
        return candidates.find((candidate) => candidate.slot === 1) ?? candidates[0]!;
      },
    });
    const port = await freePort();
    const cluster = await startWith({ name: 'prefer-slot-1', createStrategy: strategy, countConnections: true }, port);
    assert.equal(cluster.status().balancer, 'prefer-slot-1');
    // One connection at a time: slot 1 is always free, so it takes them all.
    assert.deepEqual(await slotsOf(port, 6, false), ['1', '1', '1', '1', '1', '1']);
    assert.deepEqual(seen[0]!.slots.toSorted(), [0, 1]);
    assert.deepEqual(seen[0]!.busy, [false, false]);
    assert.equal(seen[0]!.address, '127.0.0.1');
    // countConnections: once both workers have reported (slot 1 with its 6 closes), each
    // candidate's open connections are known.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no reports of both workers, one counting 6 closed connections, within 10 s')), 10_000);
      const counted = new Map<number, number>();
      cluster.on('report', function check(worker, report) {
        if (report.handoffs === undefined) return;
        counted.set(worker.id, report.handoffs.closed);
        if (counted.size < 2 || Math.max(...counted.values()) < 6) return;
        clearTimeout(timer);
        cluster.off('report', check);
        resolve();
      });
    });
    await slotsOf(port, 1, false);
    assert.deepEqual(seen.at(-1)!.open.toSorted(), [0, 0]);
  });

  test("with candidates: 'all' it sees busy workers too, and its connections wait for the worker picked", { timeout: 30_000 }, async () => {
    const port = await freePort();
    const offered: number[] = [];
    await startWith({
      name: 'all-to-slot-0',
      createStrategy: () => ({
        candidates: 'all',
        pick: (candidates) => {
          offered.push(candidates.length);
          return candidates.find((candidate) => candidate.slot === 0)!;
        },
      }),
    }, port);
    // Twenty connections opened at once, all kept open: every one lands on slot 0.
    const opened = await Promise.all(Array.from({ length: 20 }, () => openAndReadFirstLine(port)));
    for (const { socket } of opened) sockets.push(socket);
    assert.deepEqual(new Set(opened.map(({ line }) => line)), new Set(['0']));
    // Both workers are offered for every connection, slot 0 busy or not.
    assert.deepEqual(new Set(offered), new Set([2]));
    assert.ok(offered.length >= 20);
  });

  test('a pick that throws or returns something else still places the connection, with one CorralWarning', { timeout: 30_000 }, async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => { warnings.push(warning); };
    process.on('warning', onWarning);
    try {
      const port = await freePort();
      let calls = 0;
      await startWith({
        name: 'broken',
        createStrategy: () => ({
          pick: (candidates) => {
            calls += 1;
            if (calls % 2 === 0) throw new Error('no idea');
            return { ...candidates[0]!, workerId: -1 };
          },
        }),
      }, port);
      const slots = await slotsOf(port, 4, true);
      assert.equal(slots.length, 4);
      assert.ok(calls >= 2, `pick() ran ${calls} times`);
      const ours = warnings.filter((warning) => (warning as { code?: string }).code === 'CORRAL_BALANCER_FAILED');
      assert.equal(ours.length, 1, `warnings: ${warnings.map((warning) => warning.message).join(' | ')}`);
      assert.match(ours[0]!.message, /pick\(\) (returned|threw)/);
    } finally {
      process.off('warning', onWarning);
    }
  });

  test('a balancer object without a name or createStrategy is refused, naming the shape', () => {
    for (const balancer of [{ name: 'x' }, { createStrategy: () => ({ pick: () => undefined }) }, { name: '', createStrategy: () => ({}) }]) {
      assert.throws(() => createCluster({ exec: APP, balancer: balancer as never }), (error: unknown) =>
        error instanceof InvalidBalancerError && /a balancer of your own \(\{ name, createStrategy \}\)/.test(error.message));
    }
  });
});
