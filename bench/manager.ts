// npm run bench (second part): corral as a process manager against PM2 7 cluster mode, on the
// same app with 4 workers, in one run on this machine; a 7-line node:cluster primary is the
// reference for memory and restarts. Measures:
//  - start: from the start command until all 4 workers answer (polled every 20 ms, fresh connections);
//  - restart latency: a worker SIGKILLed until its replacement answers (first crash, and a second
//    crash in a row of the same slot, which corral backs off);
//  - rolling reload of 4 workers under wrk load (Connection: close, keep-alive): duration and
//    failed requests (socket errors, timeouts, non-2xx); and corral's, of the same app with a
//    SIGTERM handler of its own (server.close(), then exit), which its draining workers are sent,
//    run beside the app without one (each worker's drain timed from its servers' close to its exit);
//  - stop with 16 requests of 500 ms in flight: how many are answered;
//  - memory: RSS of the primary (PM2: its daemon) and of each worker, against node:cluster.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { answer } from './http-answer.js';
import { guardOf, workersOf } from './crash-storm.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CORRAL = path.join(ROOT, 'bin/corral.cjs');
const WORKERS = 4;
const ROUNDS = Number(process.env['BENCH_MANAGER_ROUNDS'] ?? 3);
const PM2 = execFileSync(process.execPath, [path.join(ROOT, 'scripts/ensure-pm2.js'), '7.0.4'], { encoding: 'utf8' }).trim();
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-bench-'));
const PM2_HOME = path.join(dir, 'pm2');
mkdirSync(PM2_HOME);
// PM2's first run asks its version server (unreachable here) unless this file exists.
writeFileSync(path.join(PM2_HOME, 'touch'), '');
const APP = path.join(dir, 'app.cjs');
writeFileSync(APP, `require('node:http').createServer((req, res) => {
  const delay = req.url === '/slow' ? 500 : 0;
  setTimeout(() => res.end(String(process.pid)), delay);
}).listen(Number(process.env.PORT));\n`);
/** The same app, ending itself on SIGTERM as production apps do: corral sends it once the worker's servers stop accepting. */
const APP_WITH_HANDLER = path.join(dir, 'app-with-handler.cjs');
writeFileSync(APP_WITH_HANDLER, `const server = require('node:http').createServer((req, res) => {
  const delay = req.url === '/slow' ? 500 : 0;
  setTimeout(() => res.end(String(process.pid)), delay);
}).listen(Number(process.env.PORT));
process.on('SIGTERM', () => server.close(() => process.exit(0)));\n`);
/**
 * Preloaded (--node-args) into the workers of the paired handler runs: appends, at each worker's
 * exit, the ms since its first server.close() (corral's drain, or the app's own), to DRAIN_FILE.
 */
const DRAIN_MARK = path.join(dir, 'drain-mark.cjs');
writeFileSync(DRAIN_MARK, `const net = require('node:net');
const close = net.Server.prototype.close;
let since;
net.Server.prototype.close = function (...args) { since ??= performance.now(); return close.apply(this, args); };
process.on('exit', () => { if (since !== undefined) require('node:fs').appendFileSync(process.env.DRAIN_FILE, Math.round(performance.now() - since) + '\\n'); });\n`);
const NODE_CLUSTER = path.join(dir, 'node-cluster.cjs');
writeFileSync(NODE_CLUSTER, `const cluster = require('node:cluster');
if (cluster.isPrimary) {
  for (let i = 0; i < ${WORKERS}; i++) cluster.fork();
  cluster.on('exit', () => cluster.fork());
} else require(${JSON.stringify(APP)});\n`);

const env = { ...process.env, PM2_HOME, PM2_DISABLE_VERSION_CHECK: '1', CORRAL_RUN_DIR: path.join(dir, 'run') };
const pm2 = (...args: string[]): string => execFileSync(process.execPath, [PM2, ...args], { env, encoding: 'utf8' });
/** `pm2 start` with the app's port in its environment (PM2 passes it on to the workers). */
const pm2Start = (target: number): string => execFileSync(process.execPath, [PM2, 'start', APP, '-i', String(WORKERS), '--name', 'bench', '-f', '--silent'], {
  env: { ...env, PORT: String(target) }, encoding: 'utf8',
});
let port = 9300;

type Manager = 'corral' | 'PM2' | 'node:cluster';
/** corral with reloadConcurrency 2 (from a config file), for comparison with PM2's 2-at-a-time reload. */
const PAIRS_DIR = path.join(dir, 'pairs');
mkdirSync(PAIRS_DIR);
writeFileSync(path.join(PAIRS_DIR, 'corral.config.json'), JSON.stringify({ reloadConcurrency: 2 }));
interface Running {
  readonly port: number;
  stop(): Promise<void>;
  /** The primary (PM2: the daemon). */
  primaryPid(): number;
  workerPids(): number[];
  reload(): Promise<void>;
}

/** Polls every 20 ms until `done(pids seen in the last round)`; returns the ms it took. */
async function pollUntil(target: number, done: (pids: Set<string>) => boolean, since: number, timeout = 30_000): Promise<number> {
  for (;;) {
    const pids = new Set<string>();
    const answers = await Promise.allSettled(Array.from({ length: WORKERS * 3 }, () => answer(target)));
    for (const result of answers) if (result.status === 'fulfilled') pids.add(result.value);
    if (done(pids)) return performance.now() - since;
    if (performance.now() - since > timeout) throw new Error(`not done within ${timeout} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function rss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)![1]) / 1024;
}

async function start(manager: Manager, cwd = dir, app = APP, drainFile?: string): Promise<{ running: Running; ms: number }> {
  const target = port++;
  const since = performance.now();
  let child: ChildProcess | undefined;
  if (manager === 'PM2') {
    pm2Start(target);
  } else {
    const marked = drainFile === undefined ? [] : ['--node-args', `--require ${DRAIN_MARK}`];
    const args = manager === 'corral' ? [CORRAL, 'start', app, '-i', String(WORKERS), '--name', 'bench', ...marked] : [NODE_CLUSTER];
    child = spawn(process.execPath, args, { cwd, env: { ...env, PORT: String(target), DRAIN_FILE: drainFile ?? '' }, stdio: 'ignore' });
  }
  const ms = await pollUntil(target, (pids) => pids.size === WORKERS, since);
  const running: Running = {
    port: target,
    primaryPid: () => (manager === 'PM2' ? Number(readFileSync(path.join(PM2_HOME, 'pm2.pid'), 'utf8')) : child!.pid!),
    workerPids: () => (manager === 'PM2'
      ? (JSON.parse(pm2('jlist')) as { pid: number }[]).map((app) => app.pid)
      : workersOf(child!.pid!)),
    reload: async () => {
      const command = manager === 'PM2' ? [PM2, 'reload', 'bench'] : [CORRAL, 'reload', 'bench'];
      const reload = spawn(process.execPath, command, { env, stdio: 'ignore' });
      const [code] = await once(reload, 'exit') as [number];
      if (code !== 0) throw new Error(`${manager} reload exited ${code}`);
    },
    stop: async () => {
      if (manager === 'PM2') {
        const stop = spawn(process.execPath, [PM2, 'delete', 'bench'], { env, stdio: 'ignore' });
        await once(stop, 'exit');
      } else {
        child!.kill('SIGTERM');
        if (child!.exitCode === null && child!.signalCode === null) await once(child!, 'exit');
      }
    },
  };
  return { running, ms };
}


async function restartLatency(manager: Manager): Promise<[number, number]> {
  const { running } = await start(manager);
  try {
    const figures: number[] = [];
    let victim = running.workerPids()[0]!;
    for (let crash = 0; crash < 2; crash++) {
      const before = new Set(running.workerPids().map(String));
      const since = performance.now();
      process.kill(victim, 'SIGKILL');
      figures.push(await pollUntil(running.port, (pids) => [...pids].some((pid) => !before.has(pid)), since));
      // The second crash in a row is of the same slot: its new worker.
      victim = running.workerPids().find((pid) => !before.has(String(pid)))!;
    }
    return [figures[0]!, figures[1]!];
  } finally {
    await running.stop();
  }
}

interface ReloadFigures {
  ms: number;
  failed: number;
  requests: number;
  /** With a drain file: each old worker's ms from its drain's start to its exit. */
  drains: number[];
}

async function reloadUnderLoad(manager: Exclude<Manager, 'node:cluster'>, keepAlive: boolean, cwd = dir, app = APP, drainFile?: string): Promise<ReloadFigures> {
  const { running } = await start(manager, cwd, app, drainFile);
  try {
    const wrk = spawn('wrk', ['-t1', '-c32', '-d6s', '--timeout', '4s', ...(keepAlive ? [] : ['-H', 'Connection: close']), `http://127.0.0.1:${running.port}/`], { stdio: ['ignore', 'pipe', 'ignore'] });
    let output = '';
    wrk.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const since = performance.now();
    await running.reload();
    const ms = performance.now() - since;
    // The reload ends once every old worker has exited: their marks are all written (not the stop's).
    const drains = drainFile === undefined ? [] : readFileSync(drainFile, 'utf8').trim().split('\n').map(Number);
    await once(wrk, 'exit');
    const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
    const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0);
    const failed = (errors === null ? 0 : errors.slice(1).map(Number).reduce((a, b) => a + b, 0)) + non2xx;
    const requests = Number(/(\d+) requests in/.exec(output)?.[1] ?? 0);
    return { ms, failed, requests, drains };
  } finally {
    await running.stop();
  }
}

async function inFlightOnStop(manager: Exclude<Manager, 'node:cluster'>): Promise<number> {
  const { running } = await start(manager);
  const requests = Array.from({ length: 16 }, () => answer(running.port, '/slow').then(() => 1, () => 0));
  await new Promise((resolve) => setTimeout(resolve, 150));
  if (manager === 'PM2') pm2('stop', 'bench');
  else spawn(process.execPath, [CORRAL, 'stop', 'bench'], { env, stdio: 'ignore' });
  const answered = (await Promise.all(requests)).reduce<number>((a, b) => a + b, 0);
  await running.stop();
  return answered;
}

async function memory(manager: Manager): Promise<{ primary: number; worker: number }> {
  const { running } = await start(manager);
  try {
    // A little traffic first, so that each figure is of a process that has served.
    await Promise.all(Array.from({ length: 200 }, () => answer(running.port).catch(() => '')));
    const workers = running.workerPids();
    // corral's orphan guard (a shell, src/managed/process-groups.ts) is part of what its primary costs.
    const guard = manager === 'corral' ? guardOf(running.primaryPid()) : undefined;
    const primary = rss(running.primaryPid()) + (guard === undefined ? 0 : rss(guard));
    return { primary, worker: workers.reduce((sum, pid) => sum + rss(pid), 0) / workers.length };
  } finally {
    await running.stop();
  }
}

/** The lowest and highest reload duration of the rounds. */
const range = (figures: readonly ReloadFigures[]): string => `${Math.min(...figures.map((r) => r.ms)).toFixed(0)}–${Math.max(...figures.map((r) => r.ms)).toFixed(0)} ms`;
const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

try {
  pm2('ping'); // The daemon starts once, outside the measurements: PM2 is measured warm.
  const samples = {
    start: { corral: [] as number[], PM2: [] as number[], 'node:cluster': [] as number[] },
    restart: { corral: [] as number[], PM2: [] as number[], 'node:cluster': [] as number[] },
    restartAgain: { corral: [] as number[], PM2: [] as number[], 'node:cluster': [] as number[] },
    memory: { corral: [] as { primary: number; worker: number }[], PM2: [] as { primary: number; worker: number }[], 'node:cluster': [] as { primary: number; worker: number }[] },
  };
  const reloads: Record<string, ReloadFigures[]> = {};
  const stops: Record<string, number[]> = { corral: [], PM2: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const manager of ['corral', 'PM2', 'node:cluster'] as const) {
      const { running, ms } = await start(manager);
      await running.stop();
      samples.start[manager].push(ms);
      const [first, again] = await restartLatency(manager);
      samples.restart[manager].push(first);
      samples.restartAgain[manager].push(again);
      samples.memory[manager].push(await memory(manager));
    }
    for (const manager of ['corral', 'PM2'] as const) {
      for (const keepAlive of [false, true]) {
        (reloads[`${manager}|${keepAlive}`] ??= []).push(await reloadUnderLoad(manager, keepAlive));
      }
      stops[manager]!.push(await inFlightOnStop(manager));
    }
    for (const keepAlive of [false, true]) {
      (reloads[`pairs|${keepAlive}`] ??= []).push(await reloadUnderLoad('corral', keepAlive, PAIRS_DIR));
      // The same app with and without a SIGTERM handler, back to back, first one then the other
      // by turns: a run's place in the round (after PM2's, after a start) must not look like a cost.
      const pair = round % 2 === 0 ? ['plain', 'handler'] as const : ['handler', 'plain'] as const;
      for (const kind of pair) {
        const drainFile = path.join(dir, `drains-${kind}-${round}-${String(keepAlive)}`);
        writeFileSync(drainFile, '');
        (reloads[`${kind}|${keepAlive}`] ??= []).push(await reloadUnderLoad('corral', keepAlive, dir, kind === 'plain' ? APP : APP_WITH_HANDLER, drainFile));
      }
    }
    process.stdout.write(`round ${round + 1}/${ROUNDS} done\n`);
  }
  const row = (label: string, corral: number, peer: number, unit: string, lowerIsBetter = true): string => {
    const ratio = corral / peer;
    return `${label.padEnd(44)} ${`${corral.toFixed(0)} ${unit}`.padStart(10)} ${`${peer.toFixed(0)} ${unit}`.padStart(10)}   ${ratio.toFixed(2)}x${lowerIsBetter ? (ratio <= 1 ? '  ok' : '  SLOWER') : ''}`;
  };
  console.log(`\nnode ${process.version}, ${WORKERS} workers, ${ROUNDS} rounds (medians), PM2 7.0.4 warm daemon, wrk -t1 -c32`);
  console.log(`${'measure'.padEnd(44)} ${'corral'.padStart(10)} ${'PM2'.padStart(10)}   corral/PM2`);
  console.log(row('start until 4 workers answer', median(samples.start.corral), median(samples.start.PM2), 'ms'));
  console.log(row('restart after SIGKILL (first crash)', median(samples.restart.corral), median(samples.restart.PM2), 'ms'));
  console.log(row('restart after SIGKILL (second in a row)', median(samples.restartAgain.corral), median(samples.restartAgain.PM2), 'ms'));
  for (const keepAlive of [false, true]) {
    const mode = keepAlive ? 'keep-alive' : 'Connection: close';
    const corral = reloads[`corral|${keepAlive}`]!;
    const peer = reloads[`PM2|${keepAlive}`]!;
    console.log(row(`reload duration, ${mode}`, median(corral.map((r) => r.ms)), median(peer.map((r) => r.ms)), 'ms'));
    console.log(`${`reload failed requests, ${mode}`.padEnd(44)} ${corral.map((r) => r.failed).join('/').padStart(10)} ${peer.map((r) => r.failed).join('/').padStart(10)}   (of ~${median(corral.map((r) => r.requests))} / ~${median(peer.map((r) => r.requests))})`);
    const pairs = reloads[`pairs|${keepAlive}`]!;
    console.log(row(`  reloadConcurrency 2, ${mode}`, median(pairs.map((r) => r.ms)), median(peer.map((r) => r.ms)), 'ms'));
    console.log(`${`  its failed requests`.padEnd(44)} ${pairs.map((r) => r.failed).join('/').padStart(10)}`);
    // The app's own SIGTERM handler, sent to each draining worker: against the same app without
    // one, run beside it. The drain is the part the signal touches; the reload adds 4 start-ups.
    const handler = reloads[`handler|${keepAlive}`]!;
    const plain = reloads[`plain|${keepAlive}`]!;
    const drains = (figures: readonly ReloadFigures[]): number[] => figures.flatMap((r) => r.drains);
    const drainRange = (figures: readonly ReloadFigures[]): string => `${Math.min(...drains(figures))}–${Math.max(...drains(figures))} ms`;
    console.log(`${`  app with a SIGTERM handler, ${mode}`.padEnd(44)} ${`${median(handler.map((r) => r.ms)).toFixed(0)} ms`.padStart(10)} ${`${median(plain.map((r) => r.ms)).toFixed(0)} ms`.padStart(10)}   ${(median(handler.map((r) => r.ms)) / median(plain.map((r) => r.ms))).toFixed(2)}x against the app without one (ranges ${range(handler)} / ${range(plain)})`);
    console.log(`${`    a worker's drain, start to exit`.padEnd(44)} ${`${median(drains(handler))} ms`.padStart(10)} ${`${median(drains(plain))} ms`.padStart(10)}   medians of ${drains(handler).length} / ${drains(plain).length} drains (ranges ${drainRange(handler)} / ${drainRange(plain)})`);
    console.log(`${`    failed requests`.padEnd(44)} ${handler.map((r) => r.failed).join('/').padStart(10)} ${plain.map((r) => r.failed).join('/').padStart(10)}`);
  }
  console.log(`${'stop: in-flight 500 ms requests answered'.padEnd(44)} ${stops['corral']!.map((n) => `${n}/16`).join(' ').padStart(10)} ${stops['PM2']!.map((n) => `${n}/16`).join(' ').padStart(10)}`);
  const mem = (manager: Manager, key: 'primary' | 'worker') => median(samples.memory[manager].map((m) => m[key]));
  console.log(`\nmemory (RSS, MiB)        node:cluster   corral (over)     PM2 (over)`);
  for (const key of ['primary', 'worker'] as const) {
    const base = mem('node:cluster', key);
    const over = (manager: Manager) => `${mem(manager, key).toFixed(1)} (+${(mem(manager, key) - base).toFixed(1)})`;
    const target = key === 'primary' ? 5 : 1;
    console.log(`${key.padEnd(24)} ${base.toFixed(1).padStart(12)}   ${over('corral').padStart(14)}   ${over('PM2').padStart(12)}   target ≤ +${target}: ${mem('corral', key) - base <= target ? 'ok' : 'MISSED'}`);
  }
} finally {
  try {
    pm2('kill');
  } catch {
    // Already gone.
  }
  rmSync(dir, { recursive: true, force: true });
}
