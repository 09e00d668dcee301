// npm run bench, ninth part: a Kubernetes-style termination with --shutdown-delay.
//
// `corral start -i 2 --admin <port> --shutdown-delay 2000` of an app answering in 20 ms, 4
// clients sending `Connection: close` requests, then SIGTERM, over rounds: how long after the
// signal /readyz answered 503, how many requests were served during the delay and how many
// failed, and how long until corral exited (the delay, then the drain).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const DELAY = 2000;
const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const APP = fileURLToPath(new URL('../../test/fixtures/production/app.cjs', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-bench-production-'));

interface Round { notReadyMs: number; servedDuringDelay: number; failedDuringDelay: number; exitMs: number; code: number | null }

async function round(index: number): Promise<Round> {
  const [port, admin] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [BIN, 'start', APP, '--name', `bench-production-${index}`, '-i', '2', '--admin', String(admin), '--shutdown-delay', String(DELAY)], {
    env: { ...process.env, PORT: String(port), REPLY_DELAY: '20', CORRAL_RUN_DIR: path.join(dir, 'run'), CORRAL_LOG_DIR: path.join(dir, 'logs'), NODE_OPTIONS: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    let text = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
      if (/ready: 2 workers/.test(text)) resolve();
    });
    void exited.then(() => reject(new Error(`corral exited before it was ready:\n${text}`)));
  });
  let stop = false;
  let termAt = Infinity;
  const served: number[] = [];
  const failed: number[] = [];
  const client = async (): Promise<void> => {
    while (!stop) {
      try {
        await (await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } })).text();
        served.push(performance.now());
      } catch {
        failed.push(performance.now());
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  };
  const clients = Array.from({ length: 4 }, client);
  await new Promise((resolve) => setTimeout(resolve, 500));
  termAt = performance.now();
  child.kill('SIGTERM');
  let notReadyMs: number | undefined;
  while (notReadyMs === undefined) {
    const response = await fetch(`http://127.0.0.1:${admin}/readyz`);
    await response.text();
    if (response.status === 503) notReadyMs = performance.now() - termAt;
  }
  const code = await exited;
  const exitMs = performance.now() - termAt;
  stop = true;
  await Promise.all(clients);
  const during = (at: number): boolean => at > termAt && at < termAt + DELAY;
  return { notReadyMs, servedDuringDelay: served.filter(during).length, failedDuringDelay: failed.filter(during).length, exitMs, code };
}

const range = (values: readonly number[], digits = 0): string => `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;

console.log(`\nshutdown delay: node ${process.version}, corral start -i 2 --shutdown-delay ${DELAY}, 4 clients of Connection: close requests (20 ms), SIGTERM; ${ROUNDS} rounds`);
try {
  const rounds: Round[] = [];
  for (let index = 0; index < ROUNDS; index++) rounds.push(await round(index));
  console.log(`/readyz 503 after SIGTERM:       ${range(rounds.map((r) => r.notReadyMs), 1)} ms`);
  console.log(`served during the delay:         ${range(rounds.map((r) => r.servedDuringDelay))} requests`);
  console.log(`failed during the delay:         ${range(rounds.map((r) => r.failedDuringDelay))}`);
  console.log(`SIGTERM → exit:                  ${range(rounds.map((r) => r.exitMs))} ms (the delay, then the drain); exit codes ${[...new Set(rounds.map((r) => r.code))].join(', ')}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
