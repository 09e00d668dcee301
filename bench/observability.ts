// npm run bench, eighth part: what the admin server costs the primary.
//
// `corral start` (2 workers) of an app that counts its requests with prom-client (a counter and a
// histogram in the default registry), under wrk load, in three variants, interleaved over rounds:
//   - admin off;
//   - --admin, with /metrics scraped every second (as Prometheus would, app metrics summed);
//   - --admin, scraped every second, and a dashboard open (its event stream, a snapshot a second).
// Measured: the primary's CPU while wrk runs (in % of one core, from /proc/<pid>/schedstat), its
// RSS after the run, and the requests per second wrk saw. The scraper runs in this process, not
// in the primary, so that its own work is not counted as the primary's.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { cpuMs, rssBytes } from './proc-stats.js';
import { freePort } from './free-port.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 10);
const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const PROM_CLIENT = createRequire(import.meta.url).resolve('prom-client');

const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-bench-observability-'));
const APP = path.join(dir, 'app.cjs');
writeFileSync(APP, `const client = require(${JSON.stringify(PROM_CLIENT)});
const requests = new client.Counter({ name: 'app_requests_total', help: 'Requests.', labelNames: ['route'] });
const latency = new client.Histogram({ name: 'app_request_duration_seconds', help: 'Latency.' });
require('node:http').createServer((req, res) => {
  const end = latency.startTimer();
  requests.inc({ route: '/' });
  res.end(String(process.pid), end);
}).listen(Number(process.env.PORT), '127.0.0.1');\n`);

type Variant = 'admin off' | 'scraped each second' | 'scraped + dashboard open';
const VARIANTS: readonly Variant[] = ['admin off', 'scraped each second', 'scraped + dashboard open'];

interface Sample { cpu: number; rss: number; rps: number; scrapes: number; scrapeMs: number }
const samples = new Map<Variant, Sample[]>(VARIANTS.map((variant) => [variant, []]));

function startCorral(args: readonly string[], port: number): Promise<{ child: ChildProcess; admin: string | undefined }> {
  const child = spawn(process.execPath, [BIN, 'start', APP, '-i', '2', ...args], {
    env: { ...process.env, PORT: String(port), CORRAL_RUN_DIR: path.join(dir, 'run'), CORRAL_LOG_DIR: path.join(dir, 'logs'), NODE_OPTIONS: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let text = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
      const ready = /ready: 2 workers.*/.exec(text);
      if (ready !== null) resolve({ child, admin: / admin (http:\/\/\S+) /.exec(ready[0])?.[1] });
    });
    child.once('exit', () => reject(new Error(`corral exited before it was ready:\n${text}`)));
  });
}

async function measure(variant: Variant): Promise<void> {
  const port = await freePort();
  const admin = variant === 'admin off' ? [] : ['--admin', '0'];
  const { child, admin: url } = await startCorral([...admin, '--name', `bench-observability-${port}`], port);
  const stop: (() => void)[] = [];
  let scrapes = 0;
  let scrapeMs = 0;
  try {
    if (url !== undefined) {
      const timer = setInterval(() => {
        const started = performance.now();
        void fetch(`${url}/metrics`).then((response) => response.text()).then(() => {
          scrapes += 1;
          scrapeMs += performance.now() - started;
        });
      }, 1000);
      stop.push(() => clearInterval(timer));
    }
    if (variant === 'scraped + dashboard open') {
      const controller = new AbortController();
      const events = await fetch(`${url}/api/events`, { signal: controller.signal });
      // Read the stream as a browser would, and drop it.
      void events.body?.pipeTo(new WritableStream()).catch(() => {});
      stop.push(() => controller.abort());
    }
    // Settle: the first reports and the start's garbage are not what a running primary costs.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const pid = child.pid!;
    const before = cpuMs(pid);
    const startedAt = performance.now();
    const { stdout } = await promisify(execFile)('wrk', ['-t1', '-c32', `-d${SECONDS}s`, `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
    const cpu = (100 * (cpuMs(pid) - before)) / (performance.now() - startedAt);
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
    samples.get(variant)!.push({ cpu, rss: rssBytes(pid), rps, scrapes, scrapeMs: scrapes === 0 ? 0 : scrapeMs / scrapes });
  } finally {
    for (const end of stop) end();
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const both = (values: readonly number[], format: (value: number) => string): string =>
  `${format(median(values))} (${format(Math.min(...values))}–${format(Math.max(...values))})`;

console.log(`\nadmin server cost: node ${process.version}, corral start -i 2, an app counting with prom-client, ${ROUNDS} rounds, wrk -t1 -c32 -d${SECONDS}s`);
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const variant of VARIANTS) await measure(variant);
    process.stdout.write(`round ${round + 1}/${ROUNDS} done\n`);
  }
  const mib = (value: number): string => (value / 1024 / 1024).toFixed(1);
  console.log('variant                    primary CPU % of a core (range)   primary RSS MiB (range)   req/s (range)          scrape ms');
  for (const variant of VARIANTS) {
    const rows = samples.get(variant)!;
    console.log(`${variant.padEnd(26)} ${both(rows.map((row) => row.cpu), (v) => v.toFixed(2)).padEnd(33)} ` +
      `${both(rows.map((row) => row.rss), mib).padEnd(25)} ${both(rows.map((row) => row.rps), (v) => v.toFixed(0)).padEnd(22)} ` +
      `${variant === 'admin off' ? '-' : both(rows.map((row) => row.scrapeMs), (v) => v.toFixed(1))}`);
  }
  const off = samples.get('admin off')!;
  for (const variant of VARIANTS.slice(1)) {
    const rows = samples.get(variant)!;
    const cpu = median(rows.map((row) => row.cpu)) - median(off.map((row) => row.cpu));
    console.log(`${variant} / admin off: ${(median(rows.map((row) => row.rps)) / median(off.map((row) => row.rps))).toFixed(3)}x req/s; ` +
      `primary CPU ${cpu >= 0 ? '+' : ''}${cpu.toFixed(2)}% of one core (target: under 1%); ` +
      `primary RSS ${(median(rows.map((row) => row.rss)) - median(off.map((row) => row.rss))) >= 0 ? '+' : ''}` +
      `${mib(median(rows.map((row) => row.rss)) - median(off.map((row) => row.rss)))} MiB`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
