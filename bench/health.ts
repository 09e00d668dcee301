// npm run bench, fifth part: what worker health costs, and how fast a hung worker is replaced.
//
// Cost: 2 managed workers with every health watch on (runtime reports each second, hangTimeout,
// maxMemory, maxRequests and maxAge set far above what the run reaches, so that each is checked
// but never acts) against the same cluster with monitoring off (no reports, no watches), in the
// same run, variants interleaved over rounds: CPU time of the primary and workers while idle (in
// % of one core), their RSS, and requests per second under wrk.
//
// Hung → serving: a worker's event loop is blocked for good; the time until corral has seen it
// (hangTimeout 2000 ms, reports each 1000 ms), then until its replacement listens, then until a
// request is answered by the replacement. node:cluster and PM2 have no hang detection: there the
// worker stays hung (and keeps its share of connections) until someone kills it.
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { cpuMs, rssBytes } from './proc-stats.js';
import { createCluster, type ClusterOptions, type Worker } from 'corral';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 4);
const IDLE_SECONDS = Number(process.env['BENCH_IDLE_SECONDS'] ?? 10);
const HANG_ROUNDS = Number(process.env['BENCH_HANG_ROUNDS'] ?? 5);
const PORT = Number(process.env['BENCH_PORT'] ?? 8768);

const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-bench-health-'));
const APP = path.join(dir, 'app.cjs');
writeFileSync(APP, `require('node:http').createServer((req, res) => {
  if (req.url === '/block') { res.end('blocking', () => setImmediate(() => { for (;;); })); return; }
  res.end(String(process.pid));
}).listen(${PORT}, '127.0.0.1');\n`);

const VARIANTS: readonly { label: string; options: Partial<ClusterOptions> }[] = [
  {
    label: 'health monitoring on',
    options: { reportInterval: 1000, hangTimeout: 30_000, maxMemory: '4G', maxRequests: 1e9, maxAge: '20d' },
  },
  { label: 'monitoring off', options: { reportInterval: 0, hangTimeout: 0 } },
];

interface Sample { idleCpu: number; idleRss: number; rps: number }
const samples = new Map<string, Sample[]>(VARIANTS.map((variant) => [variant.label, []]));

const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function measure(variant: (typeof VARIANTS)[number]): Promise<void> {
  const cluster = createCluster({ exec: APP, workers: 2, execArgv: [], ...variant.options });
  try {
    await cluster.start();
    // Settle: the first reports and the start's garbage are not what an idle cluster costs.
    await wait(2000);
    const pids = [process.pid, ...cluster.workers.map((worker) => worker.process.pid!)];
    const before = pids.map(cpuMs);
    await wait(IDLE_SECONDS * 1000);
    const used = pids.map((pid, i) => cpuMs(pid) - before[i]!).reduce((a, b) => a + b, 0);
    // % of one core: ms of CPU per ms of wall time.
    const idleCpu = (100 * used) / (IDLE_SECONDS * 1000);
    const idleRss = cluster.workers.map((worker) => rssBytes(worker.process.pid!)).reduce((a, b) => a + b, 0);
    // Not execFileSync: the primary, in this process, accepts the connections (round-robin).
    const { stdout } = await promisify(execFile)('wrk', ['-t1', '-c32', `-d${SECONDS}s`, `http://127.0.0.1:${PORT}/`], { encoding: 'utf8' });
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
    samples.get(variant.label)!.push({ idleCpu, idleRss, rps });
  } finally {
    await cluster.close({ timeout: 2000 });
  }
}

interface HangTiming { detected: number; listening: number; serving: number }

async function hangToServing(): Promise<HangTiming> {
  const cluster = createCluster({ exec: APP, workers: 2, execArgv: [], hangTimeout: 2000, reportInterval: 1000 });
  try {
    await cluster.start();
    // Both workers have reported: the watch is armed.
    const reported = new Set<Worker>();
    while (reported.size < 2) reported.add((await once(cluster, 'report') as [Worker])[0]);
    const response = await fetch(`http://127.0.0.1:${PORT}/block`, { headers: { connection: 'close' } });
    await response.text();
    const blockedAt = performance.now();
    await once(cluster, 'health');
    const detectedAt = performance.now();
    const [replacement] = await once(cluster, 'listening') as [Worker];
    const listeningAt = performance.now();
    // Served by the replacement: round-robin gives it every other connection.
    for (;;) {
      const reply = await (await fetch(`http://127.0.0.1:${PORT}/`, { headers: { connection: 'close' } })).text();
      if (Number(reply) === replacement.process.pid) break;
    }
    const servingAt = performance.now();
    return { detected: detectedAt - blockedAt, listening: listeningAt - detectedAt, serving: servingAt - blockedAt };
  } finally {
    await cluster.close({ force: true });
  }
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const range = (values: readonly number[], format: (value: number) => string): string =>
  `${format(Math.min(...values))}–${format(Math.max(...values))}`;
const both = (values: readonly number[], format: (value: number) => string): string => `${format(median(values))} (${range(values, format)})`;

console.log(`\nhealth monitoring cost: node ${process.version}, 2 managed workers, ${ROUNDS} rounds: ${IDLE_SECONDS} s idle, then wrk -t1 -c32 -d${SECONDS}s`);
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const variant of VARIANTS) await measure(variant);
    process.stdout.write(`round ${round + 1}/${ROUNDS} done\n`);
  }
  const mib = (value: number): string => (value / 1024 / 1024).toFixed(1);
  console.log('variant                  idle CPU % of a core (range)   workers\' idle RSS MiB (range)   req/s (range)');
  for (const variant of VARIANTS) {
    const rows = samples.get(variant.label)!;
    console.log(`${variant.label.padEnd(24)} ${both(rows.map((row) => row.idleCpu), (v) => v.toFixed(3)).padEnd(30)} ` +
      `${both(rows.map((row) => row.idleRss), mib).padEnd(31)} ${both(rows.map((row) => row.rps), (v) => v.toFixed(0))}`);
  }
  const on = samples.get(VARIANTS[0]!.label)!;
  const off = samples.get(VARIANTS[1]!.label)!;
  const cpuCost = median(on.map((row) => row.idleCpu)) - median(off.map((row) => row.idleCpu));
  console.log(`monitoring on / off: ${(median(on.map((row) => row.rps)) / median(off.map((row) => row.rps))).toFixed(3)}x req/s; ` +
    `idle CPU ${cpuCost >= 0 ? '+' : ''}${cpuCost.toFixed(3)}% of one core (target: below 1%); ` +
    `workers' idle RSS ${mib(median(on.map((row) => row.idleRss)) - median(off.map((row) => row.idleRss)))} MiB`);

  console.log(`\nhung → serving: node ${process.version}, 2 workers, hangTimeout 2000 ms, reports every 1000 ms, ${HANG_ROUNDS} rounds`);
  const timings: HangTiming[] = [];
  for (let round = 0; round < HANG_ROUNDS; round++) timings.push(await hangToServing());
  const ms = (value: number): string => `${Math.round(value)} ms`;
  console.log(`blocked → seen hung:            ${both(timings.map((t) => t.detected), ms)}`);
  console.log(`seen hung → replacement listens: ${both(timings.map((t) => t.listening), ms)}`);
  console.log(`blocked → replacement serving:   ${both(timings.map((t) => t.serving), ms)}`);
  console.log('node:cluster, PM2 cluster mode:  never (no hang detection; the worker stays hung until killed by hand)');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
