// corral's round-robin balancer under real connections: spread, worker death, refusals.
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import fs from 'node:fs';
import type { Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, test } from 'node:test';
import corral, { type ConnectionEvent, type Worker } from 'corral';
import {
  cleanup, CORRAL, event, exited, forkWorker, report, reports,
} from './helpers/harness.js';
import { countBy, openAndReadFirstLine, readMany } from './helpers/net-client.js';

corral.schedulingPolicy = corral.SCHED_RR;
afterEach(cleanup);

async function serveOnSharedPort(count: number, env: Record<string, string> = {}): Promise<{ workers: Worker[]; port: number }> {
  // Every worker's first listen(0) shares one port, as under node:cluster.
  const workers = Array.from({ length: count }, () => forkWorker(CORRAL, 'serve', { HOST: '127.0.0.1', ...env }));
  const listening = await Promise.all(workers.map((worker) => report(worker, 'listening')));
  const port = (listening[0]!['address'] as { port: number }).port;
  return { workers, port };
}

/** Collects the balancer's diagnostics events of one kind while a test runs. */
function recordChannel(name: string): { events: ConnectionEvent[]; stop: () => void } {
  const events: ConnectionEvent[] = [];
  const listener = (message: unknown): void => { events.push(message as ConnectionEvent); };
  diagnosticsChannel.subscribe(name, listener);
  return { events, stop: () => diagnosticsChannel.unsubscribe(name, listener) };
}

/** Resolves when `list` has `count` entries; checks after each event the channel publishes. */
function waitForEvents(name: string, list: readonly unknown[], count: number, timeout = 10_000): Promise<void> {
  if (list.length >= count) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { diagnosticsChannel.unsubscribe(name, check); reject(new Error(`only ${list.length} of ${count} '${name}' events`)); }, timeout);
    const check = (): void => {
      // Runs before the recorder when subscribed later; defer the count to the next microtask.
      queueMicrotask(() => {
        if (list.length < count) return;
        clearTimeout(timer);
        diagnosticsChannel.unsubscribe(name, check);
        resolve();
      });
    };
    diagnosticsChannel.subscribe(name, check);
  });
}

describe('corral round-robin balancing', () => {
  test('1,000 short connections spread over 4 workers within ±10% of an even share', { timeout: 60_000 }, async () => {
    const { workers, port } = await serveOnSharedPort(4);
    // One client at a time: every connection finds all workers idle, so the rotation is exact.
    // (The kill-mid-load test below covers concurrent connections.)
    const answers = await readMany(port, 1000, 1);
    const counts = countBy(answers);
    assert.equal(answers.length, 1000);
    assert.equal(counts.size, 4, `answers came from ${[...counts.keys()].join(', ')}`);
    for (const worker of workers) {
      const share = counts.get(String(worker.id)) ?? 0;
      assert.ok(share >= 225 && share <= 275, `worker ${worker.id} served ${share} of 1000 (expected 225..275)`);
    }
  });

  test('a killed worker loses only the connections it accepted; its hand-off in flight and the queue survive', { timeout: 60_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-block-'));
    const release = path.join(dir, 'release');
    const handoffs = recordChannel('corral:connection:handoff');
    const queued = recordChannel('corral:connection:queued');
    const reclaimed = recordChannel('corral:connection:reclaimed');
    try {
      // Two workers that hold each connection open after writing their id.
      const { workers: [victim, survivor], port } = await serveOnSharedPort(2, { HOLD: '1' }) as { workers: [Worker, Worker]; port: number };
      // The victim accepts one connection and keeps it: that one dies with it.
      const held = await openVia(port, victim);
      // Block both event loops: hand-offs to them now stay unacknowledged.
      victim.send({ cmd: 'block', file: release });
      survivor.send({ cmd: 'block', file: release });
      await Promise.all([report(victim, 'blocking'), report(survivor, 'blocking')]);
      const handoffsBefore = handoffs.events.length;
      const queuedBefore = queued.events.length;
      // Six more connections: one in flight to each worker, four queued in the primary.
      const pending = Array.from({ length: 6 }, () => openAndReadFirstLine(port, 20_000).then(
        ({ socket, line }) => { socket.destroy(); return line; },
        (error: Error) => `error:${error.message}`,
      ));
      await waitForEvents('corral:connection:queued', queued.events, queuedBefore + 6);
      await waitForEvents('corral:connection:handoff', handoffs.events, handoffsBefore + 2);
      const inFlightToVictim = handoffs.events.slice(handoffsBefore).filter((e) => e.workerId === victim.id).length;
      assert.equal(inFlightToVictim, 1, 'one hand-off waits on the blocked victim');

      const heldClosed = new Promise<string>((resolve) => {
        held.on('close', () => resolve('closed'));
        held.on('error', () => {});
      });
      victim.process.kill('SIGKILL');
      await exited(victim);
      await waitForEvents('corral:connection:reclaimed', reclaimed.events, 1);
      assert.equal(reclaimed.events[0]?.workerId, victim.id);
      assert.equal(await heldClosed, 'closed', 'the connection the victim had accepted is lost with it');

      // Unblock the survivor: it must serve all six, including the one reclaimed from the victim.
      fs.writeFileSync(release, '');
      const answers = await Promise.all(pending.map((answer) => answer));
      assert.deepEqual(answers, Array(6).fill(String(survivor.id)));
    } finally {
      fs.writeFileSync(release, '');
      handoffs.stop();
      queued.stop();
      reclaimed.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a worker at maxConnections refuses hand-offs, which go to other workers', { timeout: 30_000 }, async () => {
    const limits = [1, 2, 7];
    const refused = recordChannel('corral:connection:refused');
    const workers = limits.map((limit) => forkWorker(CORRAL, 'max-connections', {
      HOST: '127.0.0.1', MAX_CONNECTIONS: String(limit),
    }));
    try {
      const listening = await Promise.all(workers.map((worker) => report(worker, 'listening')));
      const port = (listening[0]!['address'] as { port: number }).port;
      const sockets = [];
      for (let i = 0; i < 10; i++) sockets.push(await openAndReadFirstLine(port));
      const counts = countBy(sockets.map(({ line }) => line));
      assert.deepEqual(workers.map((worker) => counts.get(String(worker.id)) ?? 0), limits);
      assert.ok(refused.events.length > 0, 'full workers refused at least one hand-off');
      for (const { socket } of sockets) socket.destroy();
    } finally {
      refused.stop();
    }
  });

  test('a worker that closes its server stops receiving connections; the others take them', async () => {
    const { workers: [leaving, staying], port } = await serveOnSharedPort(2) as { workers: [Worker, Worker]; port: number };
    leaving.disconnect();
    await event(leaving, 'exit');
    const answers = await readMany(port, 20, 4);
    assert.deepEqual([...countBy(answers).keys()], [String(staying.id)]);
    assert.equal(reports(staying).filter((message) => message.type === 'connection').length >= 20, true);
  });
});

/** Opens connections until one is answered by `worker` (round-robin visits it within a few). */
async function openVia(port: number, worker: Worker): Promise<Socket> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const { socket, line } = await openAndReadFirstLine(port);
    if (line === String(worker.id)) return socket;
    socket.destroy();
  }
  throw new Error(`worker ${worker.id} never got a connection`);
}

