// The admin server's /metrics (--admin): corral's series and the app's prom-client metrics summed
// over the workers, checked by promtool and scraped by a real Prometheus server; totals that
// survive a reload; the admin option's errors; createCluster({ admin }).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, test } from 'node:test';
import { createCluster, type ManagedCluster } from 'corral';
import { parseExposition, samplesOf, valueOf, type Exposition } from './helpers/exposition.js';
import { freePort } from './helpers/net-client.js';
import { exitOf, killPrograms, runCommand, startProgram, type Program } from './helpers/program.js';
import { requireTool } from './helpers/tools.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const APP = fileURLToPath(new URL('../../test/fixtures/observability/counter-app.cjs', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-metrics-'));
const env = { CORRAL_RUN_DIR: path.join(dir, 'run'), CORRAL_LOG_DIR: path.join(dir, 'logs'), NODE_OPTIONS: '' };
let cluster: ManagedCluster | undefined;
// The tool is checked once, before any test: without it, each would fail the same way.
before(() => requireTool('prometheus', 'prometheus', "checking /metrics with promtool and scraping it with a real Prometheus server"));
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await cluster?.close({ force: true });
  cluster = undefined;
  await killPrograms();
});

interface RunningApp {
  program: Program;
  admin: string;
  port: number;
  name: string;
}

let apps = 0;
async function startApp(args: readonly string[], extraEnv: Record<string, string> = {}): Promise<RunningApp> {
  const port = await freePort();
  const name = `metrics-${++apps}`;
  const program = startProgram(BIN, ['start', APP, '--name', name, '--admin', '0', ...args], { cwd: dir, env: { ...env, ...extraEnv, PORT: String(port) } });
  const [ready] = await program.waitForErr(/ready: \d+ workers?/);
  const admin = / admin (http:\/\/\S+) /.exec(ready!)?.[1];
  assert.ok(admin !== undefined, `the ready line names the admin server: ${ready}`);
  return { program, admin, port, name };
}

async function scrape(admin: string, accept?: string): Promise<{ text: string; type: string }> {
  const response = await fetch(`${admin}/metrics`, accept === undefined ? {} : { headers: { accept } });
  assert.equal(response.status, 200);
  return { text: await response.text(), type: response.headers.get('content-type') ?? '' };
}

/** Scrapes until `ready` holds (reports come every second), failing after `timeout` ms. */
async function scrapeUntil(admin: string, ready: (exposition: Exposition) => boolean, what: string, timeout = 10_000): Promise<Exposition> {
  const deadline = Date.now() + timeout;
  let last = '';
  for (;;) {
    last = (await scrape(admin)).text;
    const exposition = parseExposition(last);
    if (ready(exposition)) return exposition;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}; last scrape:\n${last}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function get(port: number, count: number, route = '/'): Promise<void> {
  for (let index = 0; index < count; index += 1) {
    const response = await fetch(`http://127.0.0.1:${port}${route}`, { headers: { connection: 'close' } });
    await response.text();
  }
}

const workerPids = (exposition: Exposition): string[] =>
  samplesOf(exposition, 'corral_worker_state', { state: 'ready' }).filter((sample) => sample.value === 1).map((sample) => sample.labels['pid']!).sort();

const everyWorkerReported = (count: number) => (exposition: Exposition): boolean =>
  samplesOf(exposition, 'corral_worker_resident_memory_bytes').length === count && workerPids(exposition).length === count;

function promtool(text: string): { status: number | null; output: string } {
  requireTool('promtool', 'prometheus', "checking /metrics with Prometheus's own linter");
  const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('/metrics', () => {
  test("serves corral's series and the app's summed over the workers; promtool finds nothing; OpenMetrics when asked", { timeout: 60_000 }, async () => {
    const app = await startApp(['-i', '2']);
    const first = await scrapeUntil(app.admin, everyWorkerReported(2), 'both workers\' first reports');
    await get(app.port, 20);
    await get(app.port, 4, '/other');
    const { text, type } = await scrape(app.admin);
    assert.equal(type, 'text/plain; version=0.0.4; charset=utf-8');
    const metrics = parseExposition(text);
    // The app's own prom-client metrics, summed: nothing in the app or in any primary asked for it.
    assert.equal(valueOf(metrics, 'app_requests_total', { route: '/' }), 20);
    assert.equal(valueOf(metrics, 'app_requests_total', { route: '/other' }), 4);
    assert.equal(valueOf(metrics, 'app_request_duration_seconds_count'), 24);
    assert.equal(valueOf(metrics, 'app_request_duration_seconds_bucket', { le: '+Inf' }), 24);
    assert.equal(valueOf(metrics, 'app_requests_in_flight'), 0);
    assert.equal(valueOf(metrics, 'app_payload_bytes_count'), 2, 'one observation in each worker');
    assert.equal(metrics.types.get('app_requests_total'), 'counter');
    assert.equal(metrics.types.get('app_request_duration_seconds'), 'histogram');
    assert.equal(valueOf(metrics, 'corral_app_metrics_workers'), 2);
    // corral's own: the primary, the cluster, each worker by slot and pid.
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'process_open_fds', 'process_max_fds']) {
      assert.equal(samplesOf(metrics, name).length, 1, name);
    }
    assert.equal(valueOf(metrics, 'corral_workers_configured'), 2);
    assert.equal(valueOf(metrics, 'corral_workers_ready'), 2);
    assert.equal(valueOf(metrics, 'corral_generation'), 1);
    assert.equal(valueOf(metrics, 'corral_info', { name: app.name, balancer: 'round-robin' }), 1);
    assert.equal(valueOf(metrics, 'corral_restarts_total', { reason: 'crash' }), 0);
    assert.ok(valueOf(metrics, 'corral_handoffs_total', { balancer: 'round-robin' }) >= 24);
    assert.equal(valueOf(metrics, 'corral_handoff_queue_length', { balancer: 'round-robin' }), 0);
    const pids = workerPids(first);
    assert.equal(pids.length, 2);
    for (const pid of pids) {
      for (const name of ['corral_worker_resident_memory_bytes', 'corral_worker_heap_used_bytes', 'corral_worker_cpu_seconds_total',
        'corral_worker_event_loop_delay_seconds', 'corral_worker_open_connections', 'corral_worker_requests_total',
        'corral_worker_uptime_seconds', 'corral_worker_start_time_seconds', 'corral_worker_generation']) {
        assert.equal(samplesOf(metrics, name, { pid }).length, 1, `${name} of pid ${pid}`);
      }
      assert.ok(valueOf(metrics, 'corral_worker_resident_memory_bytes', { pid }) > 10 * 1024 * 1024);
      assert.equal(valueOf(metrics, 'corral_worker_generation', { pid }), 1);
    }
    const checked = promtool(text);
    assert.equal(checked.status, 0, checked.output);
    assert.equal(checked.output.trim(), '', 'promtool check metrics finds nothing');
    // OpenMetrics, as Prometheus asks for it.
    const open = await scrape(app.admin, 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1');
    assert.equal(open.type, 'application/openmetrics-text; version=1.0.0; charset=utf-8');
    assert.ok(open.text.endsWith('# EOF\n'));
    assert.match(open.text, /^# TYPE app_requests counter$/m);
    assert.match(open.text, /^app_requests_total\{route="\/"\} 20$/m);
    assert.match(open.text, /^# TYPE corral_restarts counter$/m);
    assert.match(open.text, /^corral_restarts_total\{reason="killed"\} 0$/m);
  });

  test("prom-client's default metrics: the primary's process_* win, said once; the rest pass", { timeout: 60_000 }, async () => {
    const app = await startApp(['-i', '2'], { DEFAULT_METRICS: '1' });
    await scrapeUntil(app.admin, everyWorkerReported(2), 'both workers\' first reports');
    const { text } = await scrape(app.admin);
    const metrics = parseExposition(text);
    assert.equal(samplesOf(metrics, 'process_cpu_seconds_total').length, 1, 'one process_cpu_seconds_total: the primary\'s');
    assert.ok(samplesOf(metrics, 'nodejs_eventloop_lag_seconds').length === 1, "prom-client's other default metrics pass");
    assert.equal(valueOf(metrics, 'nodejs_version_info', { version: process.version }), 1, 'first: one worker\'s value');
    await app.program.waitForErr(/CORRAL_METRICS_SHADOWED.*process_cpu_seconds_total/);
    // What promtool says is about prom-client's own names (gauges named …_total), never corral's.
    const checked = promtool(text);
    const findings = checked.output.trim().split('\n').filter((line) => line !== '');
    assert.ok(findings.length > 0);
    for (const finding of findings) assert.match(finding, /^nodejs_/, finding);
  });

  test('the app\'s counters keep their total across a reload: 300 requests → 300', { timeout: 60_000 }, async () => {
    const app = await startApp(['-i', '2']);
    await scrapeUntil(app.admin, everyWorkerReported(2), 'both workers\' first reports');
    await get(app.port, 150);
    const before = parseExposition((await scrape(app.admin)).text);
    assert.equal(valueOf(before, 'app_requests_total', { route: '/' }), 150);
    const reload = await runCommand(BIN, ['reload', app.name], { cwd: dir, env });
    assert.equal(reload.status, 0, reload.stderr);
    await get(app.port, 150);
    const metrics = await scrapeUntil(app.admin, (exposition) => valueOf(exposition, 'corral_generation') === 2, 'generation 2');
    assert.equal(valueOf(metrics, 'app_requests_total', { route: '/' }), 300, 'the old workers\' 150 are carried over');
    assert.equal(valueOf(metrics, 'app_request_duration_seconds_count'), 300);
    assert.equal(valueOf(metrics, 'app_payload_bytes_count'), 4, 'the summary\'s count is carried too');
    assert.equal(valueOf(metrics, 'corral_reloads_total', { outcome: 'success' }), 1);
    assert.equal(valueOf(metrics, 'corral_reloads_total', { outcome: 'failure' }), 0);
    assert.equal(valueOf(metrics, 'corral_reload_duration_seconds_count', { outcome: 'success' }), 1);
    assert.ok(valueOf(metrics, 'corral_reload_duration_seconds_sum', { outcome: 'success' }) > 0);
    assert.equal(valueOf(metrics, 'corral_worker_exits_total', { reason: 'reload' }), 2);
    assert.equal(valueOf(metrics, 'corral_restarts_total', { reason: 'reload' }), 0, 'a reload is not a restart');
    assert.ok(valueOf(metrics, 'corral_handoffs_total', { balancer: 'round-robin' }) >= 300, 'hand-offs of exited workers stay counted');
    for (const pid of workerPids(metrics)) assert.equal(valueOf(metrics, 'corral_worker_generation', { pid }), 2);
  });

  test('a real Prometheus server scrapes it: up, the per-worker series, a restart counted after a SIGKILL', { timeout: 90_000 }, async () => {
    requireTool('prometheus', 'prometheus', 'scraping /metrics with a real Prometheus server');
    const app = await startApp(['-i', '2']);
    const target = new URL(app.admin).host;
    const config = path.join(dir, `prometheus-${app.name}.yml`);
    writeFileSync(config, `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: corral\n    static_configs:\n      - targets: ['${target}']\n`);
    const promPort = await freePort();
    const prometheus = startProgram(`--config.file=${config}`, [
      `--storage.tsdb.path=${path.join(dir, `tsdb-${app.name}`)}`, `--web.listen-address=127.0.0.1:${promPort}`,
    ], { execPath: 'prometheus', cwd: dir });
    await prometheus.waitForErr(/Server is ready to receive web requests/, 1, 30_000);
    type Vector = { metric: Record<string, string>; value: [number, string] }[];
    const query = async (expression: string): Promise<Vector> => {
      const response = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(expression)}`);
      const body = await response.json() as { status: string; data: { result: Vector } };
      assert.equal(body.status, 'success');
      return body.data.result;
    };
    /** Asks Prometheus until `ready` holds: it scrapes once a second. */
    const queryUntil = async (expression: string, ready: (result: Vector) => boolean, what: string): Promise<Vector> => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const result = await query(expression);
        if (ready(result)) return result;
        if (Date.now() > deadline) throw new Error(`Prometheus did not show ${what} within 30 s (${expression} → ${JSON.stringify(result)}); its log:\n${prometheus.stderr()}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    };
    await queryUntil('up{job="corral"}', (result) => result[0]?.value[1] === '1', 'up == 1');
    const memory = await queryUntil('corral_worker_resident_memory_bytes', (result) => result.length === 2, 'both workers\' memory');
    const pids = memory.map((series) => series.metric['pid']!).sort();
    const status = JSON.parse((await runCommand(BIN, ['status', app.name, '--json'], { cwd: dir, env })).stdout) as { slots: { worker: { pid: number } }[] };
    assert.deepEqual(pids, status.slots.map((slot) => String(slot.worker.pid)).sort(), 'labelled with the workers\' pids');
    for (const name of ['corral_worker_cpu_seconds_total', 'corral_worker_event_loop_delay_seconds', 'corral_worker_uptime_seconds', 'corral_worker_open_connections']) {
      assert.equal((await query(name)).length, 2, name);
    }
    process.kill(Number(pids[0]), 'SIGKILL');
    const restarts = await queryUntil('corral_restarts_total{reason="killed"}', (result) => result[0]?.value[1] === '1', 'the restart');
    assert.equal(restarts.length, 1);
    const ready = await queryUntil('corral_worker_state{state="ready"} == 1', (result) => result.length === 2 && !result.some((series) => series.metric['pid'] === pids[0]),
      'the replacement ready');
    assert.ok(ready.some((series) => series.metric['pid'] === pids[1]), 'the other worker serves on');
    assert.equal((await query('corral_worker_exits_total{reason="killed"}'))[0]?.value[1], '1');
    prometheus.child.kill('SIGTERM');
    await exitOf(prometheus, 30_000);
  });
});

describe('the admin server', () => {
  test('createCluster({ admin }) serves /metrics, /api/status, the probes and the dashboard; unknown paths say so', { timeout: 60_000 }, async () => {
    const port = await freePort();
    cluster = createCluster({ exec: APP, workers: 2, admin: 0, env: { PORT: String(port) } });
    await cluster.start();
    const admin = cluster.adminUrl;
    assert.match(admin ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
    const text = await cluster.metrics();
    assert.equal(valueOf(parseExposition(text), 'corral_workers_configured'), 2);
    assert.ok((await cluster.metrics('openmetrics')).endsWith('# EOF\n'));
    const page = await fetch(`${admin}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await page.text(), /EventSource\('api\/events'\)/);
    const view = await (await fetch(`${admin}/api/status`)).json() as { workers: number; slots: { worker: { pid: number } | null }[] };
    assert.equal(view.workers, 2);
    assert.deepEqual(view.slots.map((slot) => slot.worker?.pid).sort(), cluster.workers.map((worker) => worker.process.pid).sort());
    for (const probe of ['/livez', '/readyz']) {
      const response = await fetch(`${admin}${probe}`);
      assert.equal(response.status, 200, probe);
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
      await response.text();
    }
    const missing = await fetch(`${admin}/nope`);
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /serves \/, \/metrics, \/livez, \/readyz/);
    const post = await fetch(`${admin}/metrics`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    await cluster.close();
    await assert.rejects(fetch(`${admin}/metrics`), 'the admin server closes with the cluster');
  });

  test("an ES module app's prom-client is found; an app without prom-client has none loaded by a scrape", { timeout: 60_000 }, async () => {
    const fixtures = fileURLToPath(new URL('../../test/fixtures/observability/', import.meta.url));
    const esmPort = await freePort();
    cluster = createCluster({ exec: path.join(fixtures, 'esm-app.mjs'), workers: 2, admin: 0, env: { PORT: String(esmPort) } });
    await cluster.start();
    await get(esmPort, 6);
    const esm = parseExposition(await cluster.metrics());
    assert.equal(valueOf(esm, 'esm_requests_total'), 6);
    assert.equal(valueOf(esm, 'corral_app_metrics_workers'), 2);
    await cluster.close();
    const plainPort = await freePort();
    cluster = createCluster({ exec: path.join(fixtures, 'plain-app.cjs'), workers: 2, admin: 0, env: { PORT: String(plainPort) } });
    await cluster.start();
    const plain = parseExposition(await cluster.metrics());
    assert.equal(valueOf(plain, 'corral_app_metrics_workers'), 0);
    assert.equal(samplesOf(plain, 'corral_workers_configured').length, 1);
    for (let index = 0; index < 4; index += 1) {
      const reply = await (await fetch(`http://127.0.0.1:${plainPort}/`, { headers: { connection: 'close' } })).json() as { promClientLoaded: boolean };
      assert.equal(reply.promClientLoaded, false, 'nothing was loaded into the app for the scrape');
    }
  });

  test('bad addresses and a taken port are refused with the fix; nothing is forked', { timeout: 60_000 }, async () => {
    const bad = spawnSync(process.execPath, [BIN, 'start', APP, '--admin', '99999'], { encoding: 'utf8', cwd: dir, env: { ...process.env, ...env } });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--admin must be a port \(9100: loopback\) or 'host:port'.*got `99999` \(number\)\. A port is a whole number from 0 to 65535/);
    const colon = spawnSync(process.execPath, [BIN, 'start', APP, '--admin', ':9100'], { encoding: 'utf8', cwd: dir, env: { ...process.env, ...env } });
    assert.equal(colon.status, 2);
    assert.match(colon.stderr, /Name the host: '127\.0\.0\.1:9100' for this machine only, '0\.0\.0\.0:9100' for every interface/);
    assert.throws(() => createCluster({ exec: APP, admin: 'localhost' }), { code: 'CORRAL_ERR_INVALID_OPTION' });
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as net.AddressInfo).port;
      const program = startProgram(BIN, ['start', APP, '--name', 'metrics-taken', '--admin', String(port)], { cwd: dir, env: { ...env, PORT: String(await freePort()) } });
      const exit = await exitOf(program, 30_000);
      assert.equal(exit.code, 2, 'an admin address that cannot be used is bad usage, as a bad one is');
      assert.match(program.stderr(), new RegExp(`ERROR --admin: The admin server cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use\\. Choose another admin address`));
      assert.doesNotMatch(program.stderr(), /starting \d+ workers?|ready:/, 'said before any line says workers start');
    } finally {
      taken.close();
    }
  });
});
