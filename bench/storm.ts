// npm run bench, fourth part: workers killed from outside, as an OOM killer or a chaos test kills
// them, under load. corral start (4 workers) beside a bare node:cluster primary that reforks on
// exit, same app, one after the other in each round:
//   storm: a random worker SIGKILLed every 200 ms for 20 s;
//   soak:  a random worker SIGKILLed every 2 s for 60 s;
// each with 64 keep-alive connections and with `Connection: close`. Prints requests that
// succeeded and failed, and corral's failed / node:cluster's failed (median and range of rounds).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { crashStorm, writeStormPrograms, type StormResult } from './crash-storm.js';

const CORRAL = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const STORM_ROUNDS = Number(process.env['BENCH_STORM_ROUNDS'] ?? 3);
const SOAK_ROUNDS = Number(process.env['BENCH_SOAK_ROUNDS'] ?? 1);
let port = Number(process.env['BENCH_PORT'] ?? 8767);

const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-bench-storm-'));
const runDir = path.join(dir, 'run');
mkdirSync(runDir, { mode: 0o700 });
const { app: APP, nodeCluster: NODE_CLUSTER } = writeStormPrograms(dir);

type Primary = 'node:cluster' | 'corral';
interface Scenario { name: string; interval: number; duration: number; keepAlive: boolean }
const SCENARIOS: { scenario: Scenario; rounds: number }[] = [
  { scenario: { name: 'storm, keep-alive', interval: 200, duration: 20_000, keepAlive: true }, rounds: STORM_ROUNDS },
  { scenario: { name: 'storm, Connection: close', interval: 200, duration: 20_000, keepAlive: false }, rounds: STORM_ROUNDS },
  { scenario: { name: 'soak, keep-alive', interval: 2_000, duration: 60_000, keepAlive: true }, rounds: SOAK_ROUNDS },
  { scenario: { name: 'soak, Connection: close', interval: 2_000, duration: 60_000, keepAlive: false }, rounds: SOAK_ROUNDS },
];

/** Starts the primary and resolves once its 4 workers listen. */
async function start(primary: Primary, target: number): Promise<ChildProcess> {
  const args = primary === 'corral' ? [CORRAL, 'start', APP, '-i', '4', '--name', `storm-${target}`] : [NODE_CLUSTER];
  const child = spawn(process.execPath, args, { env: { ...process.env, PORT: String(target), CORRAL_RUN_DIR: runDir }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (/^ready$|ready: 4 workers/m.test(output)) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${primary} exited (${code}) before it was ready:\n${output}`)));
  });
  return child;
}

async function run(primary: Primary, scenario: Scenario): Promise<StormResult> {
  const target = port++;
  const child = await start(primary, target);
  try {
    return await crashStorm({ ...scenario, port: target, primaryPid: child.pid!, connections: 64 });
  } finally {
    child.kill('SIGKILL');
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  }
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const range = (values: readonly number[], digits = 0): string =>
  `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;

console.log(`\nworkers SIGKILLed from outside under load: corral start vs a node:cluster primary that reforks, 4 workers, ` +
  `64 connections (autocannon), node ${process.version}`);
try {
  for (const { scenario, rounds } of SCENARIOS) {
    const results: Record<Primary, StormResult[]> = { 'node:cluster': [], corral: [] };
    for (let round = 0; round < rounds; round += 1) {
      for (const primary of ['node:cluster', 'corral'] as const) results[primary].push(await run(primary, scenario));
    }
    const ratios = results.corral.map((result, index) => result.failed / Math.max(1, results['node:cluster'][index]!.failed));
    const describe = (primary: Primary): string => {
      const list = results[primary];
      return `${primary} ok ${median(list.map((result) => result.ok))} failed ${median(list.map((result) => result.failed))} ` +
        `(rounds: failed ${range(list.map((result) => result.failed))}, kills ${range(list.map((result) => result.kills))})`;
    };
    console.log(`${scenario.name} (every ${scenario.interval} ms for ${scenario.duration / 1000} s, ${rounds} round${rounds === 1 ? '' : 's'}):`);
    console.log(`  ${describe('node:cluster')}`);
    console.log(`  ${describe('corral')}`);
    console.log(`  corral failed / node:cluster failed: ${median(ratios).toFixed(2)}× (rounds ${range(ratios, 2)})`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
