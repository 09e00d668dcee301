// The seed programs, ported under examples/, run as real processes and behave as the seeds say.
import assert from 'node:assert/strict';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, test } from 'node:test';
import { countBy, fetchMany, freePort } from './helpers/net-client.js';
import { killPrograms, startProgram, type Program } from './helpers/program.js';

const CPUS = os.cpus().length;
afterEach(killPrograms);

/** Runs an example compiled from examples/*.ts. */
function runExample(name: string, env: Record<string, string> = {}): Program {
  return startProgram(fileURLToPath(new URL(`../examples/${name}.js`, import.meta.url)), [], { env });
}

describe('seed programs on corral', () => {
  test('hello-world: one worker per CPU, distinct worker pids answer "hello world"', async () => {
    const port = await freePort();
    const example = runExample('hello-world', { PORT: String(port) });
    const started = await example.waitFor(/^Worker started, process id \d+$/, CPUS);
    const workerPids = new Set(started.map((line) => line.split(' ').pop()));
    assert.equal(workerPids.size, CPUS);
    const masterPid = (await example.waitFor(/^Master process id is \d+$/))[0]!.split(' ').pop();
    assert.equal(masterPid, String(example.child.pid));
    const bodies = await fetchMany(port, 40);
    assert.deepEqual([...countBy(bodies).keys()], ['hello world\n']);
  });

  test('restart-on-exit: logs online for each worker; a killed worker is logged and replaced', async () => {
    const example = runExample('restart-on-exit');
    await example.waitFor(new RegExp(`^Master cluster setting up ${CPUS} workers\\.\\.\\.$`));
    const online = await example.waitFor(/^Worker \d+ is online$/, CPUS);
    const victim = Number(online[0]!.split(' ')[1]);
    process.kill(victim, 'SIGTERM');
    await example.waitFor(new RegExp(`^Worker ${victim} died with code: null, and signal: SIGTERM$`));
    await example.waitFor(/^Starting a new worker$/);
    const after = await example.waitFor(/^Worker \d+ is online$/, CPUS + 1);
    assert.ok(!after.slice(CPUS).includes(`Worker ${victim} is online`));
  });

  test('broadcast: every worker receives the announcement from eachWorker()', async () => {
    const example = runExample('broadcast', { PORT: String(await freePort()) });
    const received = await example.waitFor(/^Worker \d+ received: big announcement to all workers$/, CPUS);
    assert.equal(new Set(received).size, CPUS);
    await example.waitFor(/^Worker \d+ replied: got it$/, CPUS);
  });

  test('data-isolation: the primary sets 5, every worker still sees 0', async () => {
    const example = runExample('data-isolation');
    await example.waitFor(/^DATA VALUE in MainProcess: 5 $/);
    const children = await example.waitFor(/^DATA VALUE in ChildProcess \d+: 0 $/, CPUS);
    const ids = children.map((line) => Number(/ChildProcess (\d+)/.exec(line)![1])).sort((a, b) => a - b);
    assert.deepEqual(ids, Array.from({ length: CPUS }, (_, i) => i + 1));
  });
});
