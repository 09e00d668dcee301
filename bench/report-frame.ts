// npm run bench, third part: what the runtime report costs a worker. One managed worker with
// reports every 1000 ms (the default) against the same worker with reports off
// (reportInterval: 0): CPU time and RSS while idle, and requests per second under wrk. Variants
// are interleaved over rounds; medians and the range of the rounds are printed.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { cpuMs, rssBytes } from './proc-stats.js';
import { createCluster } from 'corral';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 4);
const IDLE_SECONDS = Number(process.env['BENCH_IDLE_SECONDS'] ?? 10);
const PORT = Number(process.env['BENCH_PORT'] ?? 8766);

const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-bench-report-'));
const APP = path.join(dir, 'app.cjs');
writeFileSync(APP, `require('node:http').createServer((req, res) => res.end('hello world\\n')).listen(${PORT}, '127.0.0.1');\n`);

interface Sample { idleCpuMs: number; idleRss: number; rps: number }
const VARIANTS = [{ label: 'reports every 1000 ms', reportInterval: 1000 }, { label: 'reports off', reportInterval: 0 }] as const;
const samples = new Map<string, Sample[]>(VARIANTS.map((variant) => [variant.label, []]));

async function measure(variant: (typeof VARIANTS)[number]): Promise<void> {
  const cluster = createCluster({ exec: APP, workers: 1, reportInterval: variant.reportInterval, execArgv: [] });
  try {
    await cluster.start();
    const pid = cluster.workers[0]!.process.pid!;
    // Idle: nothing but the worker's own timers.
    const before = cpuMs(pid);
    await new Promise((resolve) => setTimeout(resolve, IDLE_SECONDS * 1000));
    const idleCpuMs = ((cpuMs(pid) - before) * 60) / IDLE_SECONDS;
    const idleRss = rssBytes(pid);
    // Not execFileSync: the primary, in this process, accepts the connections (round-robin).
    const { stdout: output } = await promisify(execFile)('wrk', ['-t1', '-c32', `-d${SECONDS}s`, `http://127.0.0.1:${PORT}/`], { encoding: 'utf8' });
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1]);
    samples.get(variant.label)!.push({ idleCpuMs, idleRss, rps });
  } finally {
    await cluster.close({ timeout: 2000 });
  }
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const range = (values: readonly number[], format: (value: number) => string): string =>
  `${format(Math.min(...values))}–${format(Math.max(...values))}`;

console.log(`\nruntime report cost: node ${process.version}, 1 managed worker, ${ROUNDS} rounds: ${IDLE_SECONDS} s idle, then wrk -t1 -c32 -d${SECONDS}s`);
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const variant of VARIANTS) await measure(variant);
    process.stdout.write(`round ${round + 1}/${ROUNDS} done\n`);
  }
  const mib = (value: number): string => (value / 1024 / 1024).toFixed(1);
  console.log('variant                  idle CPU ms/min (range)   idle RSS MiB (range)   req/s (range)');
  for (const variant of VARIANTS) {
    const rows = samples.get(variant.label)!;
    const cpu = rows.map((row) => row.idleCpuMs);
    const rss = rows.map((row) => row.idleRss);
    const rps = rows.map((row) => row.rps);
    console.log(`${variant.label.padEnd(24)} ${`${median(cpu).toFixed(1)} (${range(cpu, (v) => v.toFixed(1))})`.padEnd(25)} ` +
      `${`${mib(median(rss))} (${range(rss, mib)})`.padEnd(22)} ${median(rps).toFixed(0)} (${range(rps, (v) => v.toFixed(0))})`);
  }
  const on = samples.get(VARIANTS[0].label)!;
  const off = samples.get(VARIANTS[1].label)!;
  const ratio = median(on.map((row) => row.rps)) / median(off.map((row) => row.rps));
  const rssDelta = median(on.map((row) => row.idleRss)) - median(off.map((row) => row.idleRss));
  console.log(`reports on / off: ${ratio.toFixed(3)}x req/s; idle RSS ${rssDelta >= 0 ? '+' : ''}${mib(rssDelta)} MiB; ` +
    `idle CPU +${(median(on.map((row) => row.idleCpuMs)) - median(off.map((row) => row.idleCpuMs))).toFixed(1)} ms per minute`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
