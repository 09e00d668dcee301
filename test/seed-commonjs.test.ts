// The seed programs exactly as the tutorials write them (CommonJS, `require`, `var`), with only
// require('cluster') changed to require('corral'), under examples/seed/. Each runs as a real
// process twice, once on corral and once with the original require('cluster'), and both runs
// must show the same behaviour over real HTTP, signals and IPC.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { countBy, fetchMany, freePort } from './helpers/net-client.js';
import { exitOf, killPrograms, startProgram, type Program } from './helpers/program.js';

const CPUS = os.cpus().length;
const SEED_DIR = fileURLToPath(new URL('../../examples/seed/', import.meta.url));
const PORT_MAP = fileURLToPath(new URL('../../test/fixtures/seed/port-map.cjs', import.meta.url));
const NODE_COPIES = mkdtempSync(path.join(os.tmpdir(), 'corral-seed-'));
afterEach(killPrograms);
after(() => rmSync(NODE_COPIES, { recursive: true, force: true }));

type Runtime = 'corral' | 'node:cluster';
const RUNTIMES: readonly Runtime[] = ['corral', 'node:cluster'];

/**
 * Runs a seed program as shipped (corral), or a copy with the tutorial's original require line.
 * `port`: the free port its hard-coded 8000 is mapped to (fixtures/seed/port-map.cjs), in the
 * primary and in every worker, so that the test binds no fixed port.
 */
function runSeed(name: string, runtime: Runtime, port?: number): Program {
  const shipped = path.join(SEED_DIR, name);
  const env = port === undefined ? {} : { NODE_OPTIONS: `--require ${PORT_MAP}`, CORRAL_TEST_PORT_MAP: `8000:${port}` };
  if (runtime === 'corral') return startProgram(shipped, [], { env });
  const source = readFileSync(shipped, 'utf8');
  assert.match(source, /require\('corral'\)/);
  const original = path.join(NODE_COPIES, name);
  writeFileSync(original, source.replace("require('corral')", "require('cluster')"));
  return startProgram(original, [], { env });
}

/** Runs `scenario` on both runtimes and asserts they observed the same thing. */
async function sameOnBoth<T>(scenario: (runtime: Runtime) => Promise<T>): Promise<T> {
  const observed = new Map<Runtime, T>();
  for (const runtime of RUNTIMES) {
    observed.set(runtime, await scenario(runtime));
    await killPrograms();
  }
  assert.deepEqual(observed.get('corral'), observed.get('node:cluster'));
  return observed.get('corral')!;
}

describe('seed programs in CommonJS on corral, against node:cluster', () => {
  test('the shipped files differ from the tutorials only in the require line', () => {
    for (const name of ['master-worker.cjs', 'online-exit.cjs', 'each-worker.cjs', 'hello-world.cjs', 'data-isolation.cjs']) {
      const source = readFileSync(path.join(SEED_DIR, name), 'utf8');
      assert.equal(source.match(/require\('corral'\)/g)?.length, 1, name);
      assert.doesNotMatch(source, /require\('(node:)?cluster'\)/, name);
    }
  });

  test('master-worker (seed 1): every worker throws ReferenceError for the undeclared `http`, then the primary exits', async () => {
    const seen = await sameOnBoth(async (runtime) => {
      const program = runSeed('master-worker.cjs', runtime);
      const { code, signal } = await exitOf(program);
      return {
        code, signal, stdout: program.lines.filter(Boolean),
        referenceErrors: program.stderr().match(/ReferenceError: http is not defined/g)?.length ?? 0,
      };
    });
    assert.equal(seen.referenceErrors, CPUS);
    assert.equal(seen.code, 0);
  });

  test('online-exit (seed 1): logs online per worker; a killed worker is logged and replaced', async () => {
    await sameOnBoth(async (runtime) => {
      const program = runSeed('online-exit.cjs', runtime);
      const [setup] = await program.waitFor(/^Master cluster setting up \d+ workers\.\.\.$/);
      const online = await program.waitFor(/^Worker \d+ is online$/, CPUS);
      const victim = Number(online[0]!.split(' ')[1]);
      process.kill(victim, 'SIGTERM');
      const [died] = await program.waitFor(new RegExp(`^Worker ${victim} died with code: `));
      await program.waitFor(/^Starting a new worker$/);
      const after = await program.waitFor(/^Worker \d+ is online$/, CPUS + 1);
      return {
        setup,
        died: died!.replace(String(victim), 'PID'),
        replacementIsNew: !after.slice(0, CPUS).includes(after[CPUS]!),
        online: after.length,
      };
    });
  });

  test('each-worker (seed 1): eachWorker() delivers the announcement to every worker over IPC', async () => {
    const seen = await sameOnBoth(async (runtime) => {
      const program = runSeed('each-worker.cjs', runtime);
      const { code } = await exitOf(program);
      return { code, received: [...program.lines].filter(Boolean).sort() };
    });
    assert.deepEqual(seen.received, Array.from({ length: CPUS }, (_, i) => `Worker ${i + 1} received: big announcement to all workers`));
  });

  test('hello-world (seed 2): one worker per CPU on one port (its 8000), every answer "hello world", a dead worker is logged', async () => {
    const seen = await sameOnBoth(async (runtime) => {
      const port = await freePort();
      const program = runSeed('hello-world.cjs', runtime, port);
      const [master] = await program.waitFor(/^Master process id is \d+$/);
      const started = await program.waitFor(/^Worker started, process id \d+$/, CPUS);
      const workerPids = [...new Set(started.map((line) => Number(line.split(' ').pop())))];
      // The seed says 'Worker started' before it listens: wait until every worker's server does.
      await program.waitForErr(/^port-map: listening on \d+$/, CPUS);
      const bodies = await fetchMany(port, 40);
      process.kill(workerPids[0]!, 'SIGKILL');
      await program.waitFor(new RegExp(`^worker process died id  ${workerPids[0]}$`));
      const stillServing = await fetchMany(port, 4);
      return {
        masterIsPrimary: master === `Master process id is ${program.child.pid}`,
        workers: workerPids.length,
        bodies: [...countBy([...bodies, ...stillServing])],
      };
    });
    assert.equal(seen.masterIsPrimary, true);
    assert.equal(seen.workers, CPUS);
    assert.deepEqual(seen.bodies, [['hello world\n', 44]]);
  });

  test('data-isolation (seed 2): the primary sets 5, every worker still sees 0', async () => {
    const seen = await sameOnBoth(async (runtime) => {
      const program = runSeed('data-isolation.cjs', runtime);
      const [main] = await program.waitFor(/^DATA VALUE in MainProcess: \d+ $/);
      const children = await program.waitFor(/^DATA VALUE in ChildProcess \d+: \d+ $/, CPUS);
      return { main, children: [...children].sort() };
    });
    assert.equal(seen.main, 'DATA VALUE in MainProcess: 5 ');
    assert.deepEqual(seen.children, Array.from({ length: CPUS }, (_, i) => `DATA VALUE in ChildProcess ${i + 1}: 0 `));
  });
});
