// npm run bench, tenth part: the primary's loop is the data path, and its surfaces must not stall
// it. `corral start -i 2 --admin` of an app whose prom-client counter has SERIES label sets in
// each worker (10,000 and 100,000, as an app with many tenants or routes has); a client opens a
// new connection for each request (Connection: close), one after another, so that every request
// waits for the primary to accept and hand over its connection. Measured: that request's latency
// (median, 99th percentile, worst) with no scrape, and while /metrics is scraped back to back (the
// scraper in this process, not in the primary); and how long a scrape takes.
//
// Then the log disk stalls: `corral start -i 2 --log-file` of an app that logs a line per request,
// its log directory on a small ext4 image mounted here, which `fsfreeze` freezes for
// FREEZE_SECONDS while the client goes on (writes to a frozen filesystem wait until it thaws, as
// on a disk that stopped answering). Measured: the latency of the requests begun during the
// freeze. This part needs root, loop devices and fsfreeze (util-linux); without them it says so.
//
// CORRAL_BENCH_BIN runs another build's bin/corral.cjs (a checkout of an older version), for a
// before-and-after figure from the same machine.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 8);
const BIN = process.env['CORRAL_BENCH_BIN'] ?? fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const PROM_CLIENT = createRequire(import.meta.url).resolve('prom-client');
const SERIES = [10_000, 100_000];

const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-bench-surfaces-'));
const APP = path.join(dir, 'app.cjs');
writeFileSync(APP, `const client = require(${JSON.stringify(PROM_CLIENT)});
const wide = new client.Counter({ name: 'app_tenant_requests_total', help: 'Requests per tenant.', labelNames: ['tenant'] });
for (let i = 0; i < Number(process.env.SERIES); i += 1) wide.inc({ tenant: 't' + i });
require('node:http').createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');\n`);

const LOGGING_APP = path.join(dir, 'logging-app.cjs');
writeFileSync(LOGGING_APP, "require('node:http').createServer((req, res) => { console.log('request', req.url, Date.now()); res.end('ok'); })" +
  ".listen(Number(process.env.PORT), '127.0.0.1');\n");
const FREEZE_SECONDS = Number(process.env['BENCH_FREEZE_SECONDS'] ?? 4);

function startCorral(port: number, series: number, options: { app?: string; args?: string[]; logDir?: string } = {}): Promise<{ child: ChildProcess; admin: string }> {
  const child = spawn(process.execPath, [BIN, 'start', options.app ?? APP, '-i', '2', '--admin', '0', ...(options.args ?? [])], {
    env: {
      ...process.env, PORT: String(port), SERIES: String(series), CORRAL_RUN_DIR: path.join(dir, 'run'),
      CORRAL_LOG_DIR: options.logDir ?? path.join(dir, 'logs'), NODE_OPTIONS: '',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let text = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
      const admin = / admin (http:\/\/\S+) /.exec(/ready: 2 workers.*/.exec(text)?.[0] ?? '')?.[1];
      if (admin !== undefined) resolve({ child, admin });
    });
    child.once('exit', () => reject(new Error(`corral exited before it was ready:\n${text}`)));
  });
}

/** One request on a new connection; its latency in ms. */
function timedRequest(port: number, pathname = '/'): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: pathname, agent: false, headers: { connection: 'close' } }, (response) => {
      response.resume().on('end', () => resolve(performance.now() - started));
    });
    request.on('error', reject);
    request.setTimeout(30_000, () => request.destroy(new Error('timeout')));
  });
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

interface Row { p50: number; p99: number; max: number; scrapeMs: number }
const rows = new Map<string, Row[]>();

async function measure(series: number, scraping: boolean): Promise<void> {
  const port = await freePort();
  const { child, admin } = await startCorral(port, series);
  const adminPort = Number(new URL(admin).port);
  // The first scrape gathers everything once (warm-up, not counted).
  await timedRequest(adminPort, '/metrics');
  let running = true;
  const scrapes: number[] = [];
  const scraper = (async () => {
    while (running && scraping) scrapes.push(await timedRequest(adminPort, '/metrics'));
  })();
  const latencies: number[] = [];
  const until = performance.now() + SECONDS * 1000;
  while (performance.now() < until) latencies.push(await timedRequest(port));
  running = false;
  await scraper;
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  latencies.sort((a, b) => a - b);
  const key = `${series / 1000}k series, ${scraping ? 'scraped back to back' : 'no scrape'}`;
  const sortedScrapes = [...scrapes].sort((a, b) => a - b);
  rows.set(key, [...(rows.get(key) ?? []), {
    p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? NaN, scrapeMs: percentile(sortedScrapes, 50),
  }]);
}

/** The requests begun while the log disk was frozen: their latencies, sorted; or why this could not run. */
async function measureFrozenDisk(round: number): Promise<number[] | string> {
  const image = path.join(dir, `logdisk-${round}.img`);
  const mount = path.join(dir, `logdisk-${round}`);
  mkdirSync(mount);
  try {
    execFileSync('truncate', ['-s', '64M', image]);
    execFileSync('mkfs.ext4', ['-q', '-F', image]);
    execFileSync('mount', ['-o', 'loop', image, mount], { stdio: 'pipe' });
  } catch (error) {
    return `the log-disk stall needs root, loop devices, mkfs.ext4 and fsfreeze (util-linux, e2fsprogs): ${(error as Error).message.split('\n')[0]}`;
  }
  const port = await freePort();
  let child: ChildProcess | undefined;
  try {
    ({ child } = await startCorral(port, 0, { app: LOGGING_APP, args: ['--log-file'], logDir: mount }));
    const latencies: { at: number; ms: number }[] = [];
    const started = performance.now();
    let frozenAt = Infinity;
    let thawedAt = Infinity;
    const freezer = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      execFileSync('fsfreeze', ['-f', mount]);
      frozenAt = performance.now();
      await new Promise((resolve) => setTimeout(resolve, FREEZE_SECONDS * 1000));
      execFileSync('fsfreeze', ['-u', mount]);
      thawedAt = performance.now();
    })();
    while (performance.now() - started < (FREEZE_SECONDS + 2) * 1000) {
      const at = performance.now();
      latencies.push({ at, ms: await timedRequest(port) });
    }
    await freezer;
    return latencies.filter((sample) => sample.at >= frozenAt && sample.at < thawedAt).map((sample) => sample.ms).sort((a, b) => a - b);
  } finally {
    try {
      execFileSync('fsfreeze', ['-u', mount], { stdio: 'ignore' });
    } catch {
      // Not frozen.
    }
    if (child !== undefined) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child!.once('exit', resolve));
    }
    execFileSync('umount', ['-l', mount]);
    rmSync(image, { force: true });
  }
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
const range = (values: readonly number[], digits = 1): string =>
  `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;

try {
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const series of SERIES) {
      for (const scraping of [false, true]) await measure(series, scraping);
    }
  }
  console.log(`\nThe primary's loop under its own surfaces: new-connection latency, ms (median of ${ROUNDS} rounds, range), ${SECONDS} s each, ${BIN}`);
  console.log('variant                                  p50                 p99                  max                    scrape ms');
  for (const [key, samples] of rows) {
    console.log(`${key.padEnd(40)} ${range(samples.map((row) => row.p50), 2).padEnd(19)} ${range(samples.map((row) => row.p99)).padEnd(20)} ` +
      `${range(samples.map((row) => row.max)).padEnd(22)} ${key.includes('no scrape') ? '-' : range(samples.map((row) => row.scrapeMs), 0)}`);
  }
  const frozen: number[][] = [];
  let skipped: string | undefined;
  for (let round = 0; round < ROUNDS && skipped === undefined; round += 1) {
    const result = await measureFrozenDisk(round);
    if (typeof result === 'string') skipped = result;
    else frozen.push(result);
  }
  console.log(`\nThe log disk frozen for ${FREEZE_SECONDS} s under --log-file (a line per request): latency of the requests begun meanwhile, ms (median of ${ROUNDS} rounds, range)`);
  if (skipped !== undefined) console.log(`not measured: ${skipped}`);
  else {
    console.log(`requests during the freeze ${range(frozen.map((values) => values.length), 0)}   p50 ${range(frozen.map((values) => percentile(values, 50)), 2)}   ` +
      `p99 ${range(frozen.map((values) => percentile(values, 99)))}   max ${range(frozen.map((values) => values.at(-1) ?? NaN))}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
