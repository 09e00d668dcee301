// npm run bench, seventh part: every balancer in one run, on a Node that has SO_REUSEPORT in
// `net` (this machine's Node when it is 22.12+; else Node 24 from the npm registry, installed
// beside the project and used for this part only).
//  1. Throughput, 2 workers, wrk -c64 with keep-alive and with `Connection: close`: node:cluster
//     SCHED_RR and SCHED_NONE, node:cluster workers listening with `reusePort: true`, and each of
//     corral's balancers through createCluster(). With `Connection: close`, also the primary's
//     CPU time per connection served (µs): for a balancer that hands connections through the
//     primary, 1 / cost is its ceiling however many cores there are.
//  2. A skewed workload, 4 workers: 1 request in 20 burns 50 ms of CPU, a fresh connection per
//     request; p50, p99 and max latency per balancer, beside nginx with round-robin and
//     least_conn upstreams over 4 plain node processes.
// Variants are interleaved over rounds; medians are printed with the range of the rounds.
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as ReuseportSupport from '../dist/primary/balancers/reuseport-support.js';
import { cpuMs } from './proc-stats.js';
import { freePort } from './free-port.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const REUSEPORT_NODE = '24.21.0';
// corral's own check (not exported by the package): types from dist/ as seen from this source, the module as seen from build/bench/.
const { reuseportUnsupported } = await import(new URL('../../dist/primary/balancers/reuseport-support.js', import.meta.url).href) as
  typeof ReuseportSupport;
if (reuseportUnsupported() !== undefined) {
  const node = execFileSync(process.execPath, [path.join(ROOT, 'scripts/ensure-node.js'), REUSEPORT_NODE], { encoding: 'utf8' }).trim();
  console.log(`\nbalancers: this is Node ${process.version}, whose net has no reusePort; this part runs on Node ${REUSEPORT_NODE}`);
  execFileSync(node, [fileURLToPath(import.meta.url)], { stdio: 'inherit', env: { ...process.env, PATH: `${path.dirname(node)}:${process.env['PATH'] ?? ''}` } });
  process.exit(0);
}

const SERVER = fileURLToPath(new URL('./server.js', import.meta.url));
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
/** Only the variants whose label contains this (and the SCHED_RR anchor). */
const ONLY = process.env['BENCH_ONLY'];
const chosen = (variant: { label: string }): boolean => ONLY === undefined || variant.label.includes(ONLY) || variant.label === 'node:cluster SCHED_RR';
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 4);

interface Variant { readonly label: string; readonly impl: string; readonly policy: string; readonly stickyHeader?: boolean }
const THROUGHPUT: readonly Variant[] = [
  { label: 'node:cluster SCHED_RR', impl: 'node:cluster', policy: 'rr' },
  { label: 'node:cluster SCHED_NONE', impl: 'node:cluster', policy: 'none' },
  { label: 'node:cluster reusePort', impl: 'node:cluster', policy: 'reuseport' },
  { label: 'corral RR, node:cluster API', impl: 'corral', policy: 'rr' },
  { label: 'corral round-robin', impl: 'corral-managed', policy: 'round-robin' },
  { label: 'corral least-connections', impl: 'corral-managed', policy: 'least-connections' },
  // wrk has one address; by address every connection would go to one worker. Each request names
  // a random client in X-Forwarded-For instead, and the primary reads it from every connection.
  { label: 'corral sticky by header', impl: 'corral-managed', policy: 'sticky', stickyHeader: true },
  { label: 'corral shared', impl: 'corral-managed', policy: 'shared' },
  { label: 'corral reuseport', impl: 'corral-managed', policy: 'reuseport' },
];
const SKEWED: readonly Variant[] = [
  { label: 'node:cluster SCHED_RR', impl: 'node:cluster', policy: 'rr' },
  { label: 'corral round-robin', impl: 'corral-managed', policy: 'round-robin' },
  { label: 'corral least-connections', impl: 'corral-managed', policy: 'least-connections' },
  { label: 'corral shared', impl: 'corral-managed', policy: 'shared' },
  { label: 'corral reuseport', impl: 'corral-managed', policy: 'reuseport' },
  { label: 'nginx round-robin', impl: 'nginx', policy: '' },
  { label: 'nginx least_conn', impl: 'nginx', policy: 'least_conn;' },
];

const scratch = mkdtempSync(path.join(os.tmpdir(), 'corral-bench-balancers-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
const SKEW_SCRIPT = path.join(scratch, 'skew.lua');
const CLIENTS_SCRIPT = path.join(scratch, 'clients.lua');
// wrk.format() takes the headers it is given instead of wrk.headers: keep -H's (Connection: close).
writeFileSync(CLIENTS_SCRIPT, `request = function()
  local headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  headers["X-Forwarded-For"] = "10.0." .. math.random(0, 255) .. "." .. math.random(0, 255)
  return wrk.format(nil, nil, headers)
end
`);
// Every 20th request of each wrk connection asks for /slow; all with Connection: close.
writeFileSync(SKEW_SCRIPT, `wrk.headers["Connection"] = "close"
local count = 0
request = function()
  count = count + 1
  if count % 20 == 0 then return wrk.format("GET", "/slow") end
  return wrk.format("GET", "/")
end
`);

async function startServer(impl: string, policy: string, port: number, workers: number, stickyHeader = false): Promise<ChildProcess> {
  // Its stderr is shown only if it fails to start: node:cluster's workers print EPIPE traces when
  // their primary is SIGKILLed at the end of a measure.
  const child = fork(SERVER, [], {
    env: { ...process.env, IMPL: impl, POLICY: policy, PORT: String(port), WORKERS: String(workers), ...(stickyHeader ? { STICKY_HEADER: 'x-forwarded-for' } : {}) },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-4000); });
  const [ready] = await Promise.race([
    once(child, 'message') as Promise<[{ type: string }]>,
    once(child, 'exit').then(() => { throw new Error(`${impl} ${policy} exited before it was ready:\n${stderr}`); }),
  ]);
  if (ready.type !== 'ready') throw new Error(`unexpected ${JSON.stringify(ready)}`);
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  await once(child, 'exit');
}

/** nginx in front of `workers` plain node processes, with `balance` in its upstream block. */
async function startNginx(balance: string, port: number, workers: number): Promise<{ stop(): Promise<void> }> {
  const upstreams: ChildProcess[] = [];
  const ports: number[] = [];
  for (let index = 0; index < workers; index += 1) {
    const upstreamPort = await freePort();
    ports.push(upstreamPort);
    upstreams.push(await startServer('plain', '', upstreamPort, 1));
  }
  const prefix = mkdtempSync(path.join(scratch, 'nginx-'));
  const config = path.join(prefix, 'nginx.conf');
  writeFileSync(config, `worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body; proxy_temp_path ${prefix}/proxy; fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi; scgi_temp_path ${prefix}/scgi;
  upstream app { ${balance} ${ports.map((upstreamPort) => `server 127.0.0.1:${upstreamPort};`).join(' ')} }
  server { listen 127.0.0.1:${port}; location / { proxy_pass http://app; } }
}
`);
  const nginx = spawn('nginx', ['-p', prefix, '-c', config], { stdio: ['ignore', 'ignore', 'inherit'] });
  // Ready once it accepts.
  for (let attempt = 0; ; attempt += 1) {
    const connected = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true); });
      socket.on('error', () => resolve(false));
    });
    if (connected) break;
    if (attempt > 100) throw new Error(`nginx did not listen on ${port}; see ${prefix}/error.log`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    stop: async () => {
      nginx.kill('SIGTERM');
      if (nginx.exitCode === null) await once(nginx, 'exit');
      await Promise.all(upstreams.map(stop));
    },
  };
}

function wrk(port: number, args: readonly string[]): string {
  return execFileSync('wrk', ['-t1', `-d${SECONDS}s`, ...args, `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
}

/** wrk's latency text (`1.23ms`, `52.10ms`, `1.02s`, `800.00us`) in ms. */
function ms(text: string): number {
  const match = /([\d.]+)(us|ms|s)/.exec(text);
  if (match === null) return Number.NaN;
  const value = Number(match[1]);
  return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
}

const throughput = new Map<string, number[]>();
const primaryCost = new Map<string, number[]>();
const latency = new Map<string, { p50: number[]; p99: number[]; max: number[]; errors: number[] }>();
const push = <T>(map: Map<string, T[]>, key: string, value: T): void => {
  map.set(key, [...(map.get(key) ?? []), value]);
};

async function measureThroughput(variant: Variant, mode: 'keep-alive' | 'close'): Promise<void> {
  const port = await freePort();
  const child = await startServer(variant.impl, variant.policy, port, 2, variant.stickyHeader);
  try {
    const before = cpuMs(child.pid!);
    const output = wrk(port, ['-c64', ...(mode === 'close' ? ['-H', 'Connection: close'] : []), ...(variant.stickyHeader === true ? ['-s', CLIENTS_SCRIPT] : [])]);
    const primaryMs = cpuMs(child.pid!) - before;
    const requests = Number(/(\d+) requests in/.exec(output)?.[1]);
    push(throughput, `${variant.label}|${mode}`, Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1]));
    if (mode === 'close') push(primaryCost, variant.label, (primaryMs * 1000) / requests);
  } finally {
    await stop(child);
  }
}

async function measureSkewed(variant: Variant): Promise<void> {
  const port = await freePort();
  const server = variant.impl === 'nginx' ? await startNginx(variant.policy, port, 4) : await startServer(variant.impl, variant.policy, port, 4).then((child) => ({ stop: () => stop(child) }));
  try {
    const output = wrk(port, ['-c16', '--latency', '-s', SKEW_SCRIPT]);
    const entry = latency.get(variant.label) ?? { p50: [], p99: [], max: [], errors: [] };
    entry.p50.push(ms(/^\s+50%\s+(\S+)/m.exec(output)?.[1] ?? ''));
    entry.p99.push(ms(/^\s+99%\s+(\S+)/m.exec(output)?.[1] ?? ''));
    entry.max.push(ms(/^\s+Latency\s+\S+\s+\S+\s+(\S+)/m.exec(output)?.[1] ?? ''));
    const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
    const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0);
    entry.errors.push(non2xx + (socketErrors === null ? 0 : socketErrors.slice(1).reduce((sum, count) => sum + Number(count), 0)));
    latency.set(variant.label, entry);
  } finally {
    await server.stop();
  }
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const range = (values: readonly number[], digits = 0): string =>
  `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;

console.log(`\nbalancers: node ${process.version}, ${ROUNDS} rounds x ${SECONDS}s, wrk -t1, ${os.availableParallelism()} CPUs`);
for (let round = 0; round < ROUNDS; round += 1) {
  for (const mode of ['keep-alive', 'close'] as const) for (const variant of THROUGHPUT.filter(chosen)) await measureThroughput(variant, mode);
  for (const variant of SKEWED.filter(chosen)) await measureSkewed(variant);
  console.log(`round ${round + 1}/${ROUNDS} done`);
}

for (const mode of ['keep-alive', 'close'] as const) {
  const rr = median(throughput.get(`node:cluster SCHED_RR|${mode}`)!);
  console.log(`\n2 workers, wrk -c64, ${mode === 'close' ? 'Connection: close' : 'keep-alive'}` +
    (mode === 'close' ? '; the primary\'s CPU per connection served' : ''));
  console.log(`${'variant'.padEnd(26)} ${'req/s median (range)'.padStart(24)}   vs SCHED_RR${mode === 'close' ? '   primary µs/conn' : ''}`);
  for (const variant of THROUGHPUT.filter(chosen)) {
    const values = throughput.get(`${variant.label}|${mode}`)!;
    const cost = primaryCost.get(variant.label);
    console.log(`${variant.label.padEnd(26)} ${`${median(values).toFixed(0)} (${range(values)})`.padStart(24)}   ${`${(median(values) / rr).toFixed(2)}x`.padStart(10)}` +
      (mode === 'close' && cost !== undefined ? `   ${`${median(cost).toFixed(1)} (${range(cost, 1)})`.padStart(16)}` : ''));
  }
}
console.log('\nskewed: 4 workers, wrk -c16, Connection: close, 1 request in 20 burns 50 ms of CPU; latency ms, median of rounds (range)');
console.log(`${'variant'.padEnd(26)} ${'p50'.padStart(18)} ${'p99'.padStart(20)} ${'max'.padStart(22)}   errors`);
for (const variant of SKEWED.filter(chosen)) {
  const entry = latency.get(variant.label)!;
  const cell = (values: number[], width: number): string => `${median(values).toFixed(1)} (${range(values, 1)})`.padStart(width);
  console.log(`${variant.label.padEnd(26)} ${cell(entry.p50, 18)} ${cell(entry.p99, 20)} ${cell(entry.max, 22)}   ${entry.errors.join('/')}`);
}
