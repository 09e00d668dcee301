// Containers: the example Dockerfile's command and Kubernetes Deployment are checked for what can
// be checked here (the command runs as PID 1 in a PID namespace made by `unshare`, as in a
// container; the manifest's probes, ports, grace period and arguments agree with corral's), and
// corral as PID 1 stops gracefully on SIGTERM with requests in flight and says what it cannot do
// (reap orphans).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { freePort } from './helpers/net-client.js';
import { exitOf, killPrograms, startProgram, type Program } from './helpers/program.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const EXAMPLE = fileURLToPath(new URL('../../examples/container/', import.meta.url));
const APP = fileURLToPath(new URL('../../test/fixtures/production/app.cjs', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-container-'));
const env = { CORRAL_RUN_DIR: path.join(dir, 'run'), CORRAL_LOG_DIR: path.join(dir, 'logs'), NODE_OPTIONS: '' };
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => killPrograms());

/** What the test reads of the example's manifests. */
interface Probe { httpGet: { path: string; port: string } }
interface Manifest {
  kind: string;
  metadata: { name: string };
  spec: {
    template?: {
      spec: {
        terminationGracePeriodSeconds: number;
        containers: {
          args: string[];
          ports: { name: string; containerPort: number }[];
          readinessProbe: Probe;
          livenessProbe: Probe;
          resources: { limits: { cpu: string } };
        }[];
      };
    };
  };
}

/** The Dockerfile's JSON-array instruction `name` (CMD, ENTRYPOINT). */
function instruction(dockerfile: string, name: string): string[] {
  const line = dockerfile.split('\n').find((entry) => entry.startsWith(`${name} `));
  assert.ok(line !== undefined, `the Dockerfile has ${name}`);
  return JSON.parse(line.slice(name.length + 1)) as string[];
}

/** Why this machine cannot make a PID namespace, or undefined when it can. */
function pidNamespaceUnavailable(): string | undefined {
  const probe = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', '/bin/sh', '-c', 'echo $$'], { encoding: 'utf8' });
  if (probe.error !== undefined) return `unshare (util-linux) is not installed: ${probe.error.message}`;
  if (probe.status !== 0 || probe.stdout.trim() !== '1') return `a PID namespace cannot be made here (unshare: ${probe.stderr.trim()}); it needs root`;
  return undefined;
}

/** corral's pid as the host sees it: the child of `unshare --fork`. */
function childOf(parent: number): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent) return Number(entry);
    } catch {
      // Gone meanwhile.
    }
  }
  throw new Error(`no child of ${parent}`);
}

/** Runs `argv` as PID 1 of a new PID namespace (killed with the namespace if the test fails). */
function asPidOne(argv: readonly string[], cwd: string, extraEnv: Record<string, string>): Program {
  return startProgram('--pid', ['--fork', '--mount-proc', '--kill-child', ...argv], { execPath: 'unshare', cwd, env: { ...env, ...extraEnv } });
}

describe('the container example', () => {
  const dockerfile = readFileSync(path.join(EXAMPLE, 'Dockerfile'), 'utf8');
  const command = instruction(dockerfile, 'CMD');

  test("the Dockerfile: tini as the init, node itself running corral's bin, SIGTERM to stop", () => {
    assert.deepEqual(instruction(dockerfile, 'ENTRYPOINT'), ['/usr/bin/tini', '--']);
    assert.deepEqual(command.slice(0, 3), ['node', 'node_modules/corral/bin/corral.cjs', 'start']);
    assert.match(dockerfile, /^STOPSIGNAL SIGTERM$/m);
    assert.match(dockerfile, /^EXPOSE 8000 9100$/m);
  });

  test('the Deployment: probes on the admin port, the grace period covers the shutdown, the command is the Dockerfile\'s', () => {
    const [deployment, service] = parseAllDocuments(readFileSync(path.join(EXAMPLE, 'deployment.yaml'), 'utf8'))
      .map((document) => document.toJS() as Manifest);
    assert.equal(deployment?.kind, 'Deployment');
    assert.equal(service?.kind, 'Service');
    const pod = deployment.spec.template!.spec;
    const [container] = pod.containers;
    assert.ok(container !== undefined);
    assert.deepEqual(container.args, command, 'the same corral start as the Dockerfile');
    const flag = (name: string): string => command[command.indexOf(name) + 1]!;
    const adminPort = Number(flag('--admin').split(':').at(-1));
    assert.equal(container.ports.find((port) => port.name === 'admin')?.containerPort, adminPort);
    assert.equal(flag('--admin').split(':')[0], '0.0.0.0', 'the kubelet reaches the admin port on the pod\'s address');
    assert.deepEqual(container.readinessProbe.httpGet, { path: '/readyz', port: 'admin' });
    assert.deepEqual(container.livenessProbe.httpGet, { path: '/livez', port: 'admin' });
    const shutdown = Number(flag('--shutdown-delay')) + Number(flag('--shutdown-timeout'));
    assert.ok(pod.terminationGracePeriodSeconds * 1000 >= shutdown + 5000,
      `the grace period (${pod.terminationGracePeriodSeconds} s) covers shutdownDelay + shutdownTimeout (${shutdown} ms) and a margin`);
    assert.equal(container.resources.limits.cpu, '2', 'a CPU limit: corral starts a worker per CPU of it');
    assert.equal(deployment.metadata.name, flag('--name'));
  });

  test("the Dockerfile's command runs as PID 1 of a PID namespace: serves, ready, says what PID 1 lacks, stops on SIGTERM", { timeout: 60_000 }, async (t) => {
    const unavailable = pidNamespaceUnavailable();
    if (unavailable !== undefined) {
      t.skip(unavailable);
      return;
    }
    const [port, adminPort] = [await freePort(), await freePort()];
    // As in the image, with this checkout's node and corral, and free ports instead of 8000 and 9100.
    const argv = command.map((arg) => (arg === 'node' ? process.execPath : arg === 'node_modules/corral/bin/corral.cjs' ? BIN
      : arg === '0.0.0.0:9100' ? `127.0.0.1:${adminPort}` : arg));
    const container = asPidOne(argv, EXAMPLE, { PORT: String(port) });
    await container.waitForErr(/ready: \d+ workers?/);
    assert.match(container.stderr(), /corral runs as PID 1: it handles SIGTERM and SIGINT, but processes the app leaves behind .* 'docker run --init', tini as the ENTRYPOINT, or shareProcessNamespace: true/);
    assert.match(await (await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } })).text(), /^hello from worker \d+$/m);
    const ready = await fetch(`http://127.0.0.1:${adminPort}/readyz`);
    assert.equal(ready.status, 200);
    await ready.text();
    process.kill(childOf(container.child.pid!), 'SIGTERM');
    assert.equal((await exitOf(container, 40_000)).code, 0, container.stderr());
    assert.match(container.stderr(), /SIGTERM: shutting down gracefully, serving new connections 5000 ms more first/);
  });
});

test('PID 1: a graceful SIGTERM with requests in flight, exit code 0', { timeout: 60_000 }, async (t) => {
  const unavailable = pidNamespaceUnavailable();
  if (unavailable !== undefined) {
    t.skip(unavailable);
    return;
  }
  const port = await freePort();
  const container = asPidOne([process.execPath, BIN, 'start', APP, '--name', 'pid-one', '-i', '2'], dir,
    { PORT: String(port), REPLY_DELAY: '1500', ORPHAN: '1', LOG_REQUESTS: '1' });
  await container.waitForErr(/ready: 2 workers/);
  const inFlight = Array.from({ length: 4 }, () => fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } })
    .then(async (response) => ({ status: response.status, body: await response.text() })));
  // The four requests are in the workers (1.5 s each) when the signal comes.
  await container.waitForErr(/request received by \d+/, 4);
  process.kill(childOf(container.child.pid!), 'SIGTERM');
  const answers = await Promise.all(inFlight);
  assert.deepEqual(answers.map((answer) => answer.status), [200, 200, 200, 200], 'every request in flight was answered');
  const exit = await exitOf(container, 30_000);
  assert.equal(exit.code, 0, container.stderr());
  assert.match(container.stderr(), /SIGTERM: shutting down gracefully/);
  assert.match(container.stderr(), /stopped cleanly/);
  // Orphans the app left (ORPHAN=1) cannot be reaped by Node: the start said so.
  assert.match(container.stderr(), /corral runs as PID 1/);
});
