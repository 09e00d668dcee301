// Production: /livez and /readyz through a start, a reload, a crash loop and a shutdown;
// --shutdown-delay under load (readyz 503 at once, nothing fails while corral keeps serving, then
// a drain and exit 0); 'max' workers under a cgroup CPU quota made by the test, and the CPU
// budget read from cgroup v1 and v2 hierarchies.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { createCluster, type ManagedCluster, type Readiness } from 'corral';
import { cpuBudget } from './helpers/internals.js';
import { freePort } from './helpers/net-client.js';
import { exitOf, killPrograms, startProgram } from './helpers/program.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const APP = fileURLToPath(new URL('../../test/fixtures/production/app.cjs', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-production-'));
const env = { CORRAL_RUN_DIR: path.join(dir, 'run'), CORRAL_LOG_DIR: path.join(dir, 'logs'), NODE_OPTIONS: '' };
let cluster: ManagedCluster | undefined;
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await cluster?.close({ force: true });
  cluster = undefined;
  await killPrograms();
});

async function readyz(admin: string): Promise<{ status: number; body: Readiness }> {
  const response = await fetch(`${admin}/readyz`);
  return { status: response.status, body: await response.json() as Readiness };
}

describe('/livez and /readyz', () => {
  test('readyz through a start, a reload, a crash loop and a shutdown; livez while the primary answers', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const crashFile = path.join(dir, 'crash-now');
    cluster = createCluster({
      exec: APP, workers: 2, admin: 0, shutdownDelay: 1000,
      env: { PORT: String(port), START_DELAY: '300', CRASH_FILE: crashFile },
      restart: { minDelay: 10, maxDelay: 50 }, crashLoop: { maxCrashes: 2, window: 60_000, retryDelay: 60_000 },
    });
    const managed = cluster;
    // The admin server opens before the first fork: while the workers start, not ready.
    const forked = once(managed, 'fork');
    const started = managed.start();
    await forked;
    const admin = managed.adminUrl!;
    const starting = await readyz(admin);
    assert.equal(starting.status, 503);
    assert.equal(starting.body.reason, 'starting');
    assert.deepEqual(starting.body.slots, { ready: 0, configured: 2 });
    const live = await fetch(`${admin}/livez`);
    assert.equal(live.status, 200);
    assert.equal((await live.json() as { live: boolean }).live, true);
    await started;
    assert.deepEqual(await readyz(admin), { status: 200, body: { ready: true, slots: { ready: 2, configured: 2 }, state: 'running' } });
    // A rolling reload keeps every slot served: ready throughout.
    const reloadChecks: Promise<number>[] = [];
    managed.on('fork', () => reloadChecks.push(readyz(admin).then((reply) => reply.status)));
    managed.on('exit', () => reloadChecks.push(readyz(admin).then((reply) => reply.status)));
    await managed.reload();
    managed.removeAllListeners('fork');
    managed.removeAllListeners('exit');
    assert.ok(reloadChecks.length >= 4);
    assert.deepEqual(await Promise.all(reloadChecks), reloadChecks.map(() => 200), 'ready throughout the reload');
    // A crash loop: slot 0 has no ready worker, so the pod is not ready.
    writeFileSync(crashFile, '');
    const crashloop = once(managed, 'crashloop');
    process.kill(managed.workers[0]!.process.pid!, 'SIGKILL');
    await crashloop;
    const looping = await readyz(admin);
    assert.equal(looping.status, 503);
    assert.equal(looping.body.reason, 'slots-not-ready');
    assert.deepEqual(looping.body.slots, { ready: 1, configured: 2 });
    assert.equal((await fetch(`${admin}/livez`)).status, 200, 'the primary itself is alive');
    // The shutdown: not ready from its first moment, while the delay keeps serving.
    const closed = managed.close();
    const stopping = await readyz(admin);
    assert.equal(stopping.status, 503);
    assert.equal(stopping.body.reason, 'shutting-down');
    assert.equal(stopping.body.state, 'closing');
    const served = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } });
    assert.equal(served.status, 200, 'still serving during the shutdown delay');
    await served.text();
    await closed;
    await assert.rejects(fetch(`${admin}/readyz`), 'the admin server closed with the cluster');
  });

  test('SIGTERM with --shutdown-delay 2000 under load: readyz 503 at once, no failed request during the delay, then a drain and exit 0', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const app = startProgram(BIN, ['start', APP, '--name', 'delay', '-i', '2', '--admin', '0', '--shutdown-delay', '2000'], {
      cwd: dir, env: { ...env, PORT: String(port), REPLY_DELAY: '20' },
    });
    const [ready] = await app.waitForErr(/ready: 2 workers/);
    const admin = / admin (http:\/\/\S+) /.exec(ready!)![1]!;
    let stop = false;
    const results: { at: number; ok: boolean; error?: string }[] = [];
    /** Resolves once the load has been answered 20 times: it runs when the signal comes. */
    let loaded: () => void = () => {};
    const underLoad = new Promise<void>((resolve) => { loaded = resolve; });
    const client = async (): Promise<void> => {
      while (!stop) {
        try {
          const response = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } });
          await response.text();
          results.push({ at: performance.now(), ok: response.status === 200 });
          if (results.length >= 20) loaded();
        } catch (error) {
          results.push({ at: performance.now(), ok: false, error: String((error as Error).cause ?? error) });
          // Refused once the drain closed the listener: the end of the test's load.
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    };
    const clients = Array.from({ length: 4 }, client);
    await underLoad;
    const termAt = performance.now();
    app.child.kill('SIGTERM');
    let notReadyAfter: number | undefined;
    while (notReadyAfter === undefined) {
      const probe = await readyz(admin);
      if (probe.status === 503) {
        assert.equal(probe.body.reason, 'shutting-down');
        notReadyAfter = performance.now() - termAt;
      }
    }
    assert.ok(notReadyAfter < 500, `readyz answered 503 ${Math.round(notReadyAfter)} ms after SIGTERM`);
    const exit = await exitOf(app, 30_000);
    stop = true;
    await Promise.all(clients);
    assert.equal(exit.code, 0, app.stderr());
    const duringDelay = results.filter((result) => result.at > termAt && result.at < termAt + 1900);
    assert.ok(duringDelay.length > 20, `requests were served during the delay (${duringDelay.length})`);
    assert.deepEqual(duringDelay.filter((result) => !result.ok), [], 'no request failed during the delay');
    assert.equal(results.filter((result) => result.at < termAt && !result.ok).length, 0);
    assert.match(app.stderr(), /SIGTERM: shutting down gracefully, serving new connections 2000 ms more first \(--shutdown-delay\)/);
  });
});

/**
 * Removes a cgroup once the processes in it are gone: the kernel refuses (EBUSY) while any is
 * there, and a killed program's children (the orphan guard, the workers) exit a moment later.
 */
async function removeWhenEmpty(group: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      rmdirSync(group);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EBUSY' || Date.now() > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A cgroup with a 1-CPU quota that this test made, or why it cannot make one here. */
function makeOneCpuCgroup(name: string): { procs: string; remove: () => Promise<void> } | string {
  const v1 = '/sys/fs/cgroup/cpu';
  const v2 = '/sys/fs/cgroup';
  const v2Mounted = existsSync(path.join(v2, 'cgroup.controllers'));
  try {
    if (existsSync(path.join(v1, 'cpu.cfs_quota_us'))) {
      const group = path.join(v1, name);
      mkdirSync(group);
      writeFileSync(path.join(group, 'cpu.cfs_period_us'), '100000');
      writeFileSync(path.join(group, 'cpu.cfs_quota_us'), '100000');
      return { procs: path.join(group, 'cgroup.procs'), remove: () => removeWhenEmpty(group) };
    }
    if (v2Mounted && readFileSync(path.join(v2, 'cgroup.subtree_control'), 'utf8').includes('cpu')) {
      const group = path.join(v2, name);
      mkdirSync(group);
      writeFileSync(path.join(group, 'cpu.max'), '100000 100000');
      return { procs: path.join(group, 'cgroup.procs'), remove: () => removeWhenEmpty(group) };
    }
    return 'this machine has neither a cgroup v1 cpu controller at /sys/fs/cgroup/cpu nor a cgroup v2 hierarchy with the cpu controller enabled';
  } catch (error) {
    return `a cgroup cannot be made here (${(error as Error).message}): it needs root and a writable cgroup file system`;
  }
}

describe("'max' workers and the CPUs the app may use", () => {
  test('a cgroup with a 1-CPU quota: -i max starts 1 worker and says why', { timeout: 60_000 }, async (t) => {
    if (os.cpus().length < 2) {
      t.skip(`this machine has ${os.cpus().length} CPU: a 1-CPU quota changes nothing on it`);
      return;
    }
    const cgroup = makeOneCpuCgroup(`corral-test-${process.pid}`);
    if (typeof cgroup === 'string') {
      t.skip(cgroup);
      return;
    }
    try {
      const port = await freePort();
      // The shell moves itself into the cgroup, then becomes corral: its workers are born there.
      const script = `echo $$ > '${cgroup.procs}' && exec '${process.execPath}' '${BIN}' start '${APP}' --name quota -i max`;
      const app = startProgram('-c', [script], { execPath: '/bin/sh', cwd: dir, env: { ...env, PORT: String(port) } });
      const [starting] = await app.waitForErr(/starting \d+ workers? of/);
      assert.match(starting!, /starting 1 worker of /);
      assert.match(starting!, new RegExp(`CPUs: 1 of this machine's ${os.cpus().length} CPUs by the CPU quota: cgroup v[12] `));
      await app.waitForErr(/ready: 1 worker/);
      app.child.kill('SIGTERM');
      assert.equal((await exitOf(app)).code, 0);
    } finally {
      // The cgroup can go once its processes have exited.
      await killPrograms();
      await cgroup.remove();
    }
  });

  test('the CPU budget from cgroup v2 and v1 hierarchies, a container\'s mount root, fractions and affinity', () => {
    const files = (entries: Record<string, string>) => (file: string): string | undefined => entries[file];
    const machine = os.cpus().length;
    const mountinfo = (type: 'cgroup' | 'cgroup2', root = '/') => type === 'cgroup2'
      ? `30 25 0:26 ${root} /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n`
      : `32 31 0:29 ${root} /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n`;
    const status = (list: string) => `Name:\tnode\nCpus_allowed_list:\t${list}\n`;
    const all = `0-${machine + 7}`;
    // v2: the least quota along the hierarchy (the pod's, above the container's), rounded down.
    const v2 = cpuBudget.cpuBudget(files({
      '/proc/self/status': status(all),
      '/proc/self/cgroup': '0::/kubepods/pod1/container\n',
      '/proc/self/mountinfo': mountinfo('cgroup2'),
      '/sys/fs/cgroup/kubepods/pod1/container/cpu.max': 'max 100000\n',
      '/sys/fs/cgroup/kubepods/pod1/cpu.max': '150000 100000\n',
      '/sys/fs/cgroup/kubepods/cpu.max': '800000 100000\n',
    }));
    assert.equal(v2.quota, 1.5);
    assert.equal(v2.cpus, 1);
    assert.equal(v2.quotaSource, "cgroup v2 cpu.max '150000 100000' of /sys/fs/cgroup/kubepods/pod1");
    if (machine > 1) {
      assert.equal(v2.limitedBy, 'cpu-quota');
      assert.match(cpuBudget.describeCpuBudget(v2), /^1 of this machine's \d+ CPUs by the CPU quota \(1\.5 CPUs, rounded down\): cgroup v2/);
    }
    // v1 in a container without a cgroup namespace: the path repeats the mount's root.
    const v1 = cpuBudget.cpuBudget(files({
      '/proc/self/status': status(all),
      '/proc/self/cgroup': '4:cpu,cpuacct:/docker/abc\n3:memory:/docker/abc\n',
      '/proc/self/mountinfo': mountinfo('cgroup', '/docker/abc'),
      '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '50000\n',
      '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
    }));
    assert.equal(v1.quota, 0.5);
    assert.equal(v1.cpus, 1, 'never fewer than one');
    assert.match(v1.quotaSource!, /^cgroup v1 cpu\.cfs_quota_us 50000 \/ cpu\.cfs_period_us 100000 of \/sys\/fs\/cgroup\/cpu,cpuacct$/);
    // No quota (-1, max): the affinity decides.
    const affinity = cpuBudget.cpuBudget(files({
      '/proc/self/status': status('0'),
      '/proc/self/cgroup': '0::/\n',
      '/proc/self/mountinfo': mountinfo('cgroup2'),
      '/sys/fs/cgroup/cpu.max': 'max 100000\n',
    }));
    assert.equal(affinity.cpus, 1);
    assert.equal(affinity.quota, undefined);
    if (machine > 1) assert.equal(affinity.limitedBy, 'affinity');
    // No quota, every CPU allowed: the machine's own count, said as such.
    const whole = cpuBudget.cpuBudget(files({
      '/proc/self/status': status(all),
      '/proc/self/cgroup': '0::/\n',
      '/proc/self/mountinfo': mountinfo('cgroup2'),
      '/sys/fs/cgroup/cpu.max': 'max 100000\n',
    }));
    assert.equal(whole.cpus, machine);
    assert.equal(cpuBudget.describeCpuBudget(whole), `${machine}, all of this machine's (no CPU quota, no affinity limit)`);
    assert.equal(cpuBudget.countCpuList('0-3,6,8-9'), 7);
    assert.equal(cpuBudget.countCpuList('x'), 0);
  });
});

test('createCluster refuses a bad shutdownDelay with the fix', () => {
  assert.throws(() => createCluster({ exec: APP, shutdownDelay: -5 }), { code: 'CORRAL_ERR_INVALID_OPTION', message: /shutdownDelay/ });
  const usage = spawnSync(process.execPath, [BIN, 'start', APP, '--shutdown-delay', 'soon'], { encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /--shutdown-delay must be /);
});
