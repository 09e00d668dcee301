// npm run bench (sixth part): a PM2 user's operations, corral beside PM2 7 (warm daemon) in one
// run on this machine, rounds interleaved:
//  - detached start: from the command until it has exited and both workers answer (`corral start
//    -d` returns once the app is ready; `pm2 start` returns before, so both are polled);
//  - `corral list` / `pm2 ls` with 5 apps running for 1.5 s (and `pm2 jlist`, its machine-readable form);
//  - log throughput: one worker writes 200,000 lines of 100 bytes as fast as it can; the time
//    until the last one is in the log file (corral's <name>.log, PM2's out file), and whether
//    every line arrived, once and whole;
//  - memory of the primary (PM2: its daemon) with log files on: idle, and its peak during that flood.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { answer } from './http-answer.js';
import { guardOf } from './crash-storm.js';
import { cpuMs, rssBytes } from './proc-stats.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CORRAL = path.join(ROOT, 'bin/corral.cjs');
const ROUNDS = Number(process.env['BENCH_OPS_ROUNDS'] ?? 3);
const LINES = Number(process.env['BENCH_OPS_LINES'] ?? 200_000);
const PM2 = execFileSync(process.execPath, [path.join(ROOT, 'scripts/ensure-pm2.js'), '7.0.4'], { encoding: 'utf8' }).trim();
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-bench-ops-'));
const PM2_HOME = path.join(dir, 'pm2');
mkdirSync(PM2_HOME);
writeFileSync(path.join(PM2_HOME, 'touch'), ''); // PM2's first run asks its version server unless this file exists.
const RUN_DIR = path.join(dir, 'run');
mkdirSync(RUN_DIR, { mode: 0o700 });
const LOG_DIR = path.join(dir, 'logs');
const env = { ...process.env, PM2_HOME, PM2_DISABLE_VERSION_CHECK: '1', CORRAL_RUN_DIR: RUN_DIR, CORRAL_LOG_DIR: LOG_DIR, NODE_OPTIONS: '' };

/** Answers with its pid; GET /flood writes LINES lines of 100 bytes to stdout as fast as the pipe takes them, then END. */
const APP = path.join(dir, 'app.cjs');
writeFileSync(APP, `const pad = 'x'.repeat(80);
require('node:http').createServer((req, res) => {
  res.end(String(process.pid));
  if (req.url !== '/flood') return;
  let n = 0;
  // A thousand lines a turn; a write that says the stream is full (=== false) waits for 'drain'.
  // (Under PM2's cluster mode stdout.write() goes over IPC and returns undefined.)
  const pump = () => {
    for (let batch = 0; batch < 1000 && n < ${LINES}; batch += 1) {
      if (process.stdout.write('line ' + String(n++).padStart(9, '0') + ' ' + pad + '\\n') === false) return void process.stdout.once('drain', pump);
    }
    if (n < ${LINES}) setImmediate(pump);
    else process.stdout.write('END\\n');
  };
  pump();
}).listen(Number(process.env.PORT));\n`);

type Manager = 'corral' | 'PM2';
const MANAGERS: readonly Manager[] = ['corral', 'PM2'];
let port = 9400;
let serial = 0;

const pm2 = (...args: string[]): string => execFileSync(process.execPath, [PM2, ...args], { env, encoding: 'utf8' });

async function run(command: string[], extraEnv: Record<string, string> = {}): Promise<number> {
  const child = spawn(process.execPath, command, { env: { ...env, ...extraEnv }, stdio: 'ignore' });
  const [code] = await once(child, 'exit') as [number];
  return code;
}

interface Started { name: string; port: number; ms: number }

/** Starts a detached app with `workers` workers; resolves when the command has exited and every worker answers. */
async function startDetached(manager: Manager, workers: number): Promise<Started> {
  const name = `ops${serial++}`;
  const target = port++;
  const since = performance.now();
  const command = manager === 'corral'
    ? [CORRAL, 'start', APP, '-d', '-i', String(workers), '--name', name]
    : [PM2, 'start', APP, '-i', String(workers), '--name', name, '--silent'];
  const code = await run(command, { PORT: String(target) });
  if (code !== 0) throw new Error(`${manager} start exited ${code}`);
  for (;;) {
    const pids = new Set((await Promise.allSettled(Array.from({ length: workers * 3 }, () => answer(target))))
      .flatMap((result) => (result.status === 'fulfilled' ? [result.value] : [])));
    if (pids.size === workers) return { name, port: target, ms: performance.now() - since };
    if (performance.now() - since > 30_000) throw new Error(`${manager}: ${name} not ready within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function stopAll(manager: Manager): Promise<void> {
  if (manager === 'corral') await run([CORRAL, 'stop', 'all']);
  else await run([PM2, 'delete', 'all']);
}

async function timed(command: string[]): Promise<number> {
  const since = performance.now();
  const code = await run(command);
  if (code !== 0) throw new Error(`${command.slice(1).join(' ')} exited ${code}`);
  return performance.now() - since;
}

/** The primary's pid (PM2: the daemon's) and, for corral, its orphan guard, whose memory it costs. */
function primaryPids(manager: Manager, name: string): number[] {
  if (manager === 'PM2') return [Number(readFileSync(path.join(PM2_HOME, 'pm2.pid'), 'utf8'))];
  const listed = JSON.parse(execFileSync(process.execPath, [CORRAL, 'list', '--json'], { env, encoding: 'utf8' })) as { apps: { name: string; pid: number }[] };
  const pid = listed.apps.find((app) => app.name === name)!.pid;
  const guard = guardOf(pid);
  return guard === undefined ? [pid] : [pid, guard];
}

function logFileOf(manager: Manager, name: string): string {
  if (manager === 'corral') return path.join(LOG_DIR, `${name}.log`);
  const apps = JSON.parse(pm2('jlist')) as { name: string; pm2_env: { pm_out_log_path: string } }[];
  return apps.find((app) => app.name === name)!.pm2_env.pm_out_log_path;
}

function tail(file: string, bytes = 256): string {
  if (!existsSync(file)) return '';
  const size = statSync(file).size;
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(Math.min(bytes, size));
    readSync(fd, buffer, 0, buffer.length, size - buffer.length);
    return buffer.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

interface Flood { ms: number; lines: number; complete: boolean; idleRss: number; peakRss: number; cpu: number }

/** One worker floods its stdout; until END is in the log file, the primary's RSS is sampled every 20 ms. */
async function logFlood(manager: Manager): Promise<Flood> {
  const app = await startDetached(manager, 1);
  try {
    const file = logFileOf(manager, app.name);
    const pids = primaryPids(manager, app.name);
    const rss = (): number => pids.reduce((sum, pid) => sum + rssBytes(pid), 0) / 2 ** 20;
    await Promise.all(Array.from({ length: 50 }, () => answer(app.port)));
    const idleRss = rss();
    const cpuBefore = pids.reduce((sum, pid) => sum + cpuMs(pid), 0);
    let peakRss = idleRss;
    const since = performance.now();
    await answer(app.port, '/flood');
    while (!/(^|\] )END\n$/m.test(tail(file))) {
      if (performance.now() - since > 120_000) throw new Error(`${manager}: the flood did not reach ${file} within 120 s`);
      peakRss = Math.max(peakRss, rss());
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const ms = performance.now() - since;
    const cpu = pids.reduce((sum, pid) => sum + cpuMs(pid), 0) - cpuBefore;
    // Every line once and whole: the numbers 0…LINES-1 in order, each with its 80-byte pad.
    // corral rotates its file at 10M (PM2 keeps one file): the rotated ones first, oldest first.
    const files = [5, 4, 3, 2, 1].map((index) => `${file}.${index}`).filter((rotated) => existsSync(rotated));
    const text = [...files, file].map((name) => readFileSync(name, 'utf8')).join('');
    const seen = text.split('\n').flatMap((line) => {
      const match = /line (\d{9}) (x+)$/.exec(line);
      return match === null ? [] : [{ n: Number(match[1]), whole: match[2]!.length === 80 }];
    });
    const complete = seen.length === LINES && seen.every((line, index) => line.n === index && line.whole);
    return { ms, lines: seen.length, complete, idleRss, peakRss, cpu };
  } finally {
    await stopAll(manager);
  }
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const range = (values: readonly number[], digits = 0): string => `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;

try {
  pm2('ping'); // PM2's daemon starts once, outside the measurements: it is measured warm.
  const starts: Record<Manager, number[]> = { corral: [], PM2: [] };
  const lists: Record<string, number[]> = { corral: [], PM2: [], 'PM2 jlist': [] };
  const floods: Record<Manager, Flood[]> = { corral: [], PM2: [] };
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const manager of round % 2 === 0 ? MANAGERS : [...MANAGERS].reverse()) {
      starts[manager].push((await startDetached(manager, 2)).ms);
      await stopAll(manager);
      // 5 apps of one worker each, then the listing, 3 times.
      for (let app = 0; app < 5; app += 1) await startDetached(manager, 1);
      // As an operator asks: not within the second of a start (corral's CPU figure then needs a
      // 200 ms sample of the new workers; after it, their last second is already measured).
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      for (let time = 0; time < 3; time += 1) {
        if (manager === 'corral') lists['corral']!.push(await timed([CORRAL, 'list']));
        else {
          lists['PM2']!.push(await timed([PM2, 'ls']));
          lists['PM2 jlist']!.push(await timed([PM2, 'jlist']));
        }
      }
      await stopAll(manager);
      floods[manager].push(await logFlood(manager));
    }
    process.stdout.write(`round ${round + 1}/${ROUNDS} done\n`);
  }
  const row = (label: string, corral: readonly number[], peer: readonly number[], unit: string, digits = 0): string => {
    const ratio = median(corral) / median(peer);
    return `${label.padEnd(40)} ${`${median(corral).toFixed(digits)} ${unit}`.padStart(11)} (${range(corral, digits)})`.padEnd(72) +
      ` ${`${median(peer).toFixed(digits)} ${unit}`.padStart(11)} (${range(peer, digits)})`.padEnd(32) + `  ${ratio.toFixed(2)}x`;
  };
  console.log(`\nnode ${process.version}, ${ROUNDS} rounds (medians, ranges), PM2 7.0.4 warm daemon; log flood: 1 worker, ${LINES.toLocaleString('en')} lines of 100 bytes`);
  console.log(`${'measure'.padEnd(40)} ${'corral'.padStart(11)}`.padEnd(72) + ` ${'PM2'.padStart(11)}`.padEnd(32) + '  corral/PM2');
  console.log(row('detached start, 2 workers, until ready', starts.corral, starts.PM2, 'ms'));
  console.log(row('list with 5 apps (pm2 ls)', lists['corral']!, lists['PM2']!, 'ms'));
  console.log(row('list with 5 apps (pm2 jlist)', lists['corral']!, lists['PM2 jlist']!, 'ms'));
  const flood = (manager: Manager, key: keyof Flood): number[] => floods[manager].map((figures) => Number(figures[key]));
  console.log(row('log flood: until the last line is in', flood('corral', 'ms'), flood('PM2', 'ms'), 'ms'));
  const rate = (manager: Manager): number[] => floods[manager].map((figures) => (LINES * 100) / 2 ** 20 / (figures.ms / 1000));
  console.log(row('log flood: throughput', rate('corral'), rate('PM2'), 'MiB/s', 1));
  console.log(row('log flood: CPU of the primary / daemon', flood('corral', 'cpu'), flood('PM2', 'cpu'), 'ms'));
  console.log(row('primary / daemon RSS, idle, log file on', flood('corral', 'idleRss'), flood('PM2', 'idleRss'), 'MiB', 1));
  console.log(row('primary / daemon RSS, peak of the flood', flood('corral', 'peakRss'), flood('PM2', 'peakRss'), 'MiB', 1));
  for (const manager of MANAGERS) {
    console.log(`${manager}: every line in its log file once, whole and in order: ${floods[manager].map((figures) => (figures.complete ? 'yes' : `no (${figures.lines} lines)`)).join(', ')}`);
  }
} finally {
  try {
    await stopAll('corral');
    pm2('kill');
  } catch {
    // Already gone.
  }
  rmSync(dir, { recursive: true, force: true });
}
