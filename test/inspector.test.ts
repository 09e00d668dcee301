// The workers' debugger: the app's own inspector flags (--node-args, NODE_OPTIONS, createCluster's
// execArgv) give the host and a base port, and the worker of slot n listens on base + n + 1, which
// it keeps through reloads and restarts, so that a debugger can attach again to the same address.
// Checked on the inspectors themselves (http://host:port/json/list), in real processes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { createCluster, InvalidOptionError, type ManagedCluster } from 'corral';
import { track, WORKER_FIXTURE } from './helpers/harness.js';
import { inspectorPorts } from './helpers/internals.js';
import { freePort } from './helpers/net-client.js';
import { exitOf, killPrograms, runCommand, startProgram, type Program } from './helpers/program.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-inspector-'));
const RUN_DIR = mkdtempSync(path.join(os.tmpdir(), 'corral-inspector-run-'));
const APP = path.join(dir, 'app.cjs');
writeFileSync(APP, "require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');\n");
const clusters: ManagedCluster[] = [];
after(async () => {
  await Promise.all(clusters.map((cluster) => cluster.close({ timeout: 2_000 })));
  rmSync(dir, { recursive: true, force: true });
  rmSync(RUN_DIR, { recursive: true, force: true });
});
afterEach(() => killPrograms());

/** A port P with P … P + count - 1 all free a moment ago. */
async function freePorts(count: number): Promise<number> {
  for (;;) {
    const base = await freePort();
    if (base + count > 65535) continue;
    const free = await Promise.all(Array.from({ length: count - 1 }, (_, index) => canListen(base + index + 1)));
    if (free.every(Boolean)) return base;
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** The ids of the inspector targets on `port` (one per process: a new process has a new id). */
async function targetIds(port: number): Promise<string[]> {
  const response = await fetch(`http://127.0.0.1:${port}/json/list`);
  const targets = await response.json() as { id: string }[];
  return targets.map((target) => target.id);
}

const listening = (port: number): RegExp => new RegExp(`Debugger listening on ws://127\\.0\\.0\\.1:${port}/`);

interface SlotReport { worker: { pid: number; inspector: { host: string; port: number; open: boolean } | null } | null }

describe('the workers\' inspector ports', () => {
  test('--node-args "--inspect=127.0.0.1:P": slot n listens on P + n + 1, said in the start line and corral status, and kept through a reload and a restart', { timeout: 90_000 }, async () => {
    const base = await freePorts(3);
    const ports = [base + 1, base + 2];
    const env = { PORT: String(await freePort()), NODE_OPTIONS: '', CORRAL_RUN_DIR: RUN_DIR };
    const corral: Program = startProgram(BIN, ['start', APP, '-i', '2', '--name', 'inspect-args', '--node-args', `--inspect=127.0.0.1:${base}`], { cwd: dir, env });
    const [starting] = await corral.waitForErr(/starting 2 workers/);
    assert.match(starting!, new RegExp(`; inspector on 127\\.0\\.0\\.1:${ports[0]} to ${ports[1]} \\(port ${ports[0]} \\+ slot\\)$`));
    await corral.waitForErr(/ready: 2 workers/);
    const first = await Promise.all(ports.map(targetIds));
    for (const ids of first) assert.equal(ids.length, 1);

    const status = async (): Promise<SlotReport[]> => {
      const result = await runCommand(BIN, ['status', 'inspect-args', '--json'], { cwd: dir, env });
      assert.equal(result.status, 0, result.stderr);
      return (JSON.parse(result.stdout) as { slots: SlotReport[] }).slots;
    };
    assert.deepEqual((await status()).map((slot) => slot.worker?.inspector), ports.map((port) => ({ host: '127.0.0.1', port, open: true })));
    const text = await runCommand(BIN, ['status', 'inspect-args'], { cwd: dir, env });
    assert.match(text.stdout, /LAST EXIT\s+INSPECTOR\n/);
    assert.match(text.stdout, new RegExp(`\\n0 .*127\\.0\\.0\\.1:${ports[0]}\\n1 .*127\\.0\\.0\\.1:${ports[1]}\\n`));

    // A reload's replacements start while the old workers hold the ports, and take them once those exited.
    const reload = await runCommand(BIN, ['reload', 'inspect-args'], { cwd: dir, env });
    assert.equal(reload.status, 0, reload.stderr);
    await Promise.all(ports.map((port) => corral.waitForErr(listening(port), 2)));
    const second = await Promise.all(ports.map(targetIds));
    second.forEach((ids, slot) => assert.notDeepEqual(ids, first[slot], `slot ${slot}: a new worker answers on its port`));
    assert.doesNotMatch(corral.stderr(), /address already in use/);

    // A crashed worker's successor listens on the slot's port from its start.
    const [slot0] = await status();
    process.kill(slot0!.worker!.pid, 'SIGKILL');
    await corral.waitForErr(listening(ports[0]!), 3);
    assert.notDeepEqual(await targetIds(ports[0]!), second[0]);
    assert.deepEqual((await status()).map((slot) => slot.worker?.inspector?.port), ports);

    corral.child.kill('SIGTERM');
    assert.equal((await exitOf(corral)).code, 0, corral.stderr());
  });

  test('NODE_OPTIONS="--inspect=:P" (which opens the primary\'s own inspector on P): the workers listen on P + 1 and P + 2, also after a reload', { timeout: 60_000 }, async () => {
    const base = await freePorts(3);
    const env = { PORT: String(await freePort()), NODE_OPTIONS: `--inspect=:${base}`, CORRAL_RUN_DIR: RUN_DIR };
    const corral = startProgram(BIN, ['start', APP, '-i', '2', '--name', 'inspect-env'], { cwd: dir, env });
    await corral.waitForErr(/ready: 2 workers/);
    const ids = await Promise.all([base, base + 1, base + 2].map(targetIds));
    assert.equal(new Set(ids.flat()).size, 3, 'the primary and each worker, one inspector each');
    // The command itself runs without NODE_OPTIONS (else it would try to open P too).
    const reload = await runCommand(BIN, ['reload', 'inspect-env'], { cwd: dir, env: { ...env, NODE_OPTIONS: '' } });
    assert.equal(reload.status, 0, reload.stderr);
    await Promise.all([base + 1, base + 2].map((port) => corral.waitForErr(listening(port), 2)));
    const reloaded = await Promise.all([base + 1, base + 2].map(targetIds));
    reloaded.forEach((list, slot) => assert.notDeepEqual(list, ids[slot + 1], `slot ${slot}: its new worker answers on its port`));
    assert.doesNotMatch(corral.stderr(), /address already in use/);
    corral.child.kill('SIGTERM');
    assert.equal((await exitOf(corral)).code, 0, corral.stderr());
  });

  test("createCluster({ execArgv: ['--inspect-port', P, '--inspect'] }): status() gives each worker's address", async () => {
    const base = await freePorts(3);
    const cluster = createCluster({ exec: WORKER_FIXTURE, workers: 2, env: { SCENARIO: 'serve', HOST: '127.0.0.1' }, execArgv: ['--inspect-port', String(base), '--inspect'] });
    clusters.push(cluster);
    cluster.on('fork', (worker) => track(worker));
    await cluster.start();
    assert.deepEqual(cluster.status().slots.map((slot) => slot.worker?.inspector), [
      { host: '127.0.0.1', port: base + 1, open: true }, { host: '127.0.0.1', port: base + 2, open: true },
    ]);
    for (const port of [base + 1, base + 2]) assert.equal((await targetIds(port)).length, 1);
    await cluster.close();
  });

  test('the inspector flags Node takes: --inspect, --inspect-brk, --inspect-wait, with host:port, :port, a port or a host; NODE_OPTIONS first, the command line after', () => {
    const { inspectorPlan, slotPort, inspectorArgs } = inspectorPorts;
    assert.equal(inspectorPlan(['--max-old-space-size=100'], '--enable-source-maps'), undefined);
    assert.deepEqual(inspectorPlan(['--inspect'], undefined), { mode: 'inspect', host: '127.0.0.1', base: 9229 });
    assert.deepEqual(inspectorPlan(['--inspect-brk=0.0.0.0:9400'], undefined), { mode: 'inspect-brk', host: '0.0.0.0', base: 9400 });
    assert.deepEqual(inspectorPlan(['--inspect-wait=:9400'], undefined), { mode: 'inspect-wait', host: '127.0.0.1', base: 9400 });
    assert.deepEqual(inspectorPlan(['--inspect=9400'], undefined), { mode: 'inspect', host: '127.0.0.1', base: 9400 });
    assert.deepEqual(inspectorPlan(['--inspect=[::1]:9400'], undefined), { mode: 'inspect', host: '::1', base: 9400 });
    assert.deepEqual(inspectorPlan(['--inspect=localhost'], undefined), { mode: 'inspect', host: 'localhost', base: 9229 });
    assert.deepEqual(inspectorPlan(['--inspect-port', '9500'], undefined), { mode: undefined, host: '127.0.0.1', base: 9500 });
    assert.deepEqual(inspectorPlan(['--inspect=9600'], '--require "./a b.js" --inspect-brk=0.0.0.0:9500'), { mode: 'inspect-brk', host: '0.0.0.0', base: 9600 });
    assert.deepEqual(inspectorPlan([], '--inspect-wait'), { mode: 'inspect-wait', host: '127.0.0.1', base: 9229 });
    const plan = { mode: 'inspect-brk', host: '0.0.0.0', base: 9400 } as const;
    assert.deepEqual([0, 1, 7].map((slot) => slotPort(plan, slot)), [9401, 9402, 9408]);
    assert.equal(slotPort({ ...plan, base: 65535 }, 0), 1024, 'past 65535 it wraps to 1024, as node:cluster does');
    assert.deepEqual(inspectorArgs(plan, 1, false), ['--inspect-port=0.0.0.0:9402']);
    assert.deepEqual(inspectorArgs(plan, 1, true), ['--no-inspect-brk', '--no-inspect'], 'a replacement waits for the port without an inspector');
    assert.throws(() => inspectorPlan(['--inspect=127.0.0.1:80'], undefined), (error: Error) => error instanceof InvalidOptionError &&
      /Expected `execArgv` to be Node options whose inspector port is 0 or from 1024 to 65535 .*got '--inspect=127\.0\.0\.1:80'/.test(error.message));
    assert.throws(() => inspectorPlan([], '--inspect=99999'), /Expected `NODE_OPTIONS` .*got '--inspect=99999'/);
  });
});
