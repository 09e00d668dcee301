// `corral start --primary <module>` (and the config key `primary`): the primary halves of
// cluster-aware libraries run in corral's primary, with the managed workers, under real clients.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import { io, type Socket } from 'socket.io-client';
import { freePort } from './helpers/net-client.js';
import { exitOf, killPrograms, runCommand, startProgram, type Program } from './helpers/program.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/primary-module/', import.meta.url));
const RUN_DIR = mkdtempSync(path.join(os.tmpdir(), 'corral-primary-module-'));
after(() => rmSync(RUN_DIR, { recursive: true, force: true }));
afterEach(() => killPrograms());

function startCorral(args: string[], env: Record<string, string> = {}): Program {
  return startProgram(BIN, ['start', ...args], { cwd: FIXTURES, env: { ...env, NODE_OPTIONS: '', CORRAL_RUN_DIR: RUN_DIR } });
}

function next<T>(socket: Socket, event: string, timeout = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' within ${timeout} ms`)), timeout);
    socket.once(event, (value: T) => { clearTimeout(timer); resolve(value); });
  });
}

describe('corral start --primary', () => {
  test("socket.io's cluster adapter: its setupPrimary() in the --primary module relays broadcasts between workers", async () => {
    const port = await freePort();
    const corral = startCorral(['socket-io-app.cjs', '-i', '2', '--name', 'primary-sio', '--primary', 'socket-io-primary.cjs'], { PORT: String(port) });
    const [loaded] = await corral.waitFor(/"primaryModule":"socket.io"/);
    // Loaded before the first fork, where node:cluster is corral's primary.
    assert.deepEqual(JSON.parse(loaded!), { primaryModule: 'socket.io', isPrimary: true, workers: 0 });
    await corral.waitForErr(/ready: 2 workers/);
    const clients: Socket[] = [];
    try {
      // Round-robin puts consecutive connections on alternate workers; connect until both have one.
      const bySlot = new Map<number, Socket>();
      while (bySlot.size < 2) {
        assert.ok(clients.length < 6, 'six clients all landed on one worker');
        const client = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnection: false });
        clients.push(client);
        const slot = await next<number>(client, 'hello');
        if (!bySlot.has(slot)) bySlot.set(slot, client);
      }
      const [[fromSlot, first], [, second]] = [...bySlot] as [[number, Socket], [number, Socket]];
      const heard = [next<unknown>(first, 'news'), next<unknown>(second, 'news')];
      first.emit('shout', 'to every worker');
      assert.deepEqual(await Promise.all(heard), [{ text: 'to every worker', from: fromSlot }, { text: 'to every worker', from: fromSlot }]);
    } finally {
      for (const client of clients) client.close();
    }
    corral.child.kill('SIGTERM');
    assert.equal((await exitOf(corral)).code, 0);
  });

  test("@socket.io/sticky's setupMaster() in the --primary module: after each reload every client hears a broadcast; no new client goes to a draining worker", { timeout: 120_000 }, async () => {
    const port = await freePort();
    const env = { PORT: String(port), HOLD_MS: '1000' };
    const corral = startCorral(['socket-io-sticky-app.cjs', '-i', '2', '--ready', 'manual', '--name', 'primary-sticky', '--primary', 'socket-io-sticky-primary.cjs'], env);
    await corral.waitForErr(/ready: 2 workers/);
    const control = { cwd: FIXTURES, env: { ...env, NODE_OPTIONS: '', CORRAL_RUN_DIR: RUN_DIR } };
    // Each client's worker (by pid) while it is connected; clients reconnect 100 ms after losing it.
    const workerOf = new Map<Socket, number>();
    const changed = new Set<() => void>();
    const clients = Array.from({ length: 8 }, () => {
      const client = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnectionDelay: 100, randomizationFactor: 0 });
      client.on('hello', ({ pid }: { pid: number }) => { workerOf.set(client, pid); for (const check of changed) check(); });
      client.on('disconnect', () => workerOf.delete(client));
      return client;
    });
    /** Resolves once every client is connected to one of `pids`. */
    const settledOn = (pids: ReadonlySet<number>): Promise<void> => new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        changed.delete(check);
        reject(new Error(`clients not all on workers ${[...pids].join(', ')} within 15 s: ${clients.map((client) => workerOf.get(client)).join(', ')}`));
      }, 15_000);
      const check = (): void => {
        if (!clients.every((client) => client.connected && pids.has(workerOf.get(client) ?? -1))) return;
        clearTimeout(timer);
        changed.delete(check);
        resolve();
      };
      changed.add(check);
      check();
    });
    const servingPids = async (): Promise<Set<number>> => {
      const status = await runCommand(BIN, ['status', 'primary-sticky', '--json'], control);
      assert.equal(status.status, 0, status.stderr);
      const report = JSON.parse(status.stdout) as { slots: { worker: { pid: number } | null }[] };
      return new Set(report.slots.flatMap((slot) => (slot.worker === null ? [] : [slot.worker.pid])));
    };
    try {
      await settledOn(await servingPids());
      for (let generation = 2; generation <= 4; generation += 1) {
        // Each drain ends its worker's sessions: those clients reconnect while it still runs (HOLD_MS).
        const reload = await runCommand(BIN, ['reload', 'primary-sticky'], control);
        assert.equal(reload.status, 0, reload.stderr);
        await corral.waitForErr(new RegExp(`reloaded: every worker runs generation ${generation}`));
        await settledOn(await servingPids());
        const heard = clients.map((client) => next<{ text: string }>(client, 'news'));
        clients[0]!.emit('shout', `after reload ${generation - 1}`);
        assert.deepEqual((await Promise.all(heard)).map((news) => news.text), clients.map(() => `after reload ${generation - 1}`));
      }
    } finally {
      for (const client of clients) client.close();
    }
    corral.child.kill('SIGTERM');
    assert.equal((await exitOf(corral)).code, 0, corral.stderr());
    // The app says when a connection reaches it after its drain began (sticky picked it from cluster.workers).
    assert.deepEqual(corral.lines.filter((line) => line.includes('handedWhileDraining')), []);
  });

  test("prom-client's AggregatorRegistry, named by the config file's `primary`, sums the workers' counters", async () => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    const corral = startCorral(['--config', 'prom-client.config.mjs', '--name', 'primary-prom'], {
      PORT: String(port), METRICS_PORT: String(metricsPort),
    });
    await corral.waitFor(/"primaryModule":"prom-client"/);
    await corral.waitForErr(/ready: 2 workers/);
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    // Slots 0 and 1 count 1 and 2.
    assert.match(metrics, /^corral_primary_test_total 3$/m);
    corral.child.kill('SIGTERM');
    assert.equal((await exitOf(corral)).code, 0);
  });

  test('a primary module that throws stops the start with its error, before any worker forks', async () => {
    const corral = startCorral(['booting-app.cjs', '-i', '2', '--name', 'primary-throws', '--primary', 'throws-primary.cjs'], {
      PORT: String(await freePort()),
    });
    assert.equal((await exitOf(corral)).code, 1);
    assert.match(corral.stderr(), /The primary module .*throws-primary\.cjs failed while loading, so no worker was started/);
    assert.match(corral.stderr(), /the primary module could not reach its database/);
    assert.ok(!corral.lines.includes('worker booting'), corral.lines.join('\n'));
  });

  test('a --primary file that does not exist is a usage error (exit 2) naming the path', async () => {
    const corral = startCorral(['booting-app.cjs', '--name', 'primary-missing', '--primary', 'nowhere.mjs']);
    assert.equal((await exitOf(corral)).code, 2);
    assert.match(corral.stderr(), /--primary: no such file \(looked for .*nowhere\.mjs\)/);
  });
});
