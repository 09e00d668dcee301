// npm run bench: corral's balancers against node:cluster's on the seed's hello-world server,
// 2 workers, wrk on loopback, keep-alive and Connection: close, in one run on this machine.
// Variants are interleaved over several rounds and the median is reported.
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

interface Variant { impl: 'node:cluster' | 'corral' | 'corral-managed'; policy: string; label: string }
const VARIANTS: Variant[] = [
  { impl: 'node:cluster', policy: 'rr', label: 'node:cluster SCHED_RR' },
  { impl: 'corral', policy: 'rr', label: 'corral round-robin' },
  // createCluster(): its workers run corral's runtime, which least-connections reads; the same
  // with round-robin tells the runtime's cost from the balancer's.
  { impl: 'corral-managed', policy: 'round-robin', label: 'managed round-robin' },
  { impl: 'corral-managed', policy: 'least-connections', label: 'managed least-conn' },
  { impl: 'node:cluster', policy: 'none', label: 'node:cluster SCHED_NONE' },
  { impl: 'corral', policy: 'none', label: 'corral shared' },
];
const MODES = ['keep-alive', 'close'] as const;
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 4);
const PORT = Number(process.env['BENCH_PORT'] ?? 8765);
const SERVER = fileURLToPath(new URL('./server.js', import.meta.url));

type Mode = (typeof MODES)[number];
const results = new Map<string, { rps: number[]; split: number[][] }>();

async function measure(variant: Variant, mode: Mode): Promise<void> {
  const child: ChildProcess = fork(SERVER, [], { env: { ...process.env, IMPL: variant.impl, POLICY: variant.policy, PORT: String(PORT) } });
  try {
    const [ready] = await once(child, 'message') as [{ type: string }];
    if (ready.type !== 'ready') throw new Error(`unexpected ${JSON.stringify(ready)}`);
    const args = ['-t1', '-c64', `-d${SECONDS}s`, ...(mode === 'close' ? ['-H', 'Connection: close'] : []), `http://127.0.0.1:${PORT}/`];
    const output = execFileSync('wrk', args, { encoding: 'utf8' });
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1]);
    child.send({ type: 'split' });
    const [split] = await once(child, 'message') as [{ counts: number[] }];
    const key = `${variant.label}|${mode}`;
    const entry = results.get(key) ?? { rps: [], split: [] };
    entry.rps.push(rps);
    entry.split.push(split.counts);
    results.set(key, entry);
  } finally {
    child.kill('SIGKILL');
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function splitText(splits: readonly number[][]): string {
  const totals = splits.reduce((sum, counts) => counts.map((count, i) => count + (sum[i] ?? 0)), [] as number[]);
  const all = totals.reduce((a, b) => a + b, 0);
  return totals.map((count) => `${Math.round((100 * count) / all)}%`).join('/');
}

console.log(`node ${process.version}, ${ROUNDS} rounds x ${SECONDS}s, wrk -t1 -c64, 2 workers, seed hello-world`);
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of MODES) {
    for (const variant of VARIANTS) await measure(variant, mode);
  }
  process.stdout.write(`round ${round + 1}/${ROUNDS} done\n`);
}

const TARGETS: Record<string, number> = {
  'corral round-robin|close': 0.95, 'corral round-robin|keep-alive': 0.98, 'corral shared|close': 0.95, 'corral shared|keep-alive': 0.95,
  'managed least-conn|close': 0.95, 'managed least-conn|keep-alive': 0.95,
  'managed round-robin|close': 0.95, 'managed round-robin|keep-alive': 0.95,
};
const ANCHOR: Record<string, string> = {
  'corral round-robin': 'node:cluster SCHED_RR', 'managed round-robin': 'node:cluster SCHED_RR', 'managed least-conn': 'node:cluster SCHED_RR',
  'corral shared': 'node:cluster SCHED_NONE',
};
let failed = false;
for (const mode of MODES) {
  console.log(`\n${mode === 'close' ? 'Connection: close' : 'keep-alive'}`);
  console.log('variant                    req/s (median)   vs node:cluster   target   split');
  for (const variant of VARIANTS) {
    const entry = results.get(`${variant.label}|${mode}`)!;
    const rps = median(entry.rps);
    const anchor = ANCHOR[variant.label];
    let ratio = '';
    let target = '';
    if (anchor !== undefined) {
      const value = rps / median(results.get(`${anchor}|${mode}`)!.rps);
      const goal = TARGETS[`${variant.label}|${mode}`]!;
      ratio = `${value.toFixed(3)}x`;
      target = `≥${goal}x ${value >= goal ? 'ok' : 'MISSED'}`;
      if (value < goal) failed = true;
    }
    console.log(`${variant.label.padEnd(26)} ${rps.toFixed(0).padStart(14)}   ${ratio.padStart(15)}   ${target.padEnd(11)} ${splitText(entry.split)}`);
  }
}
if (failed && process.env['BENCH_STRICT'] === '1') process.exitCode = 1;
