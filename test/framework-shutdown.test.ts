// Real frameworks' own shutdown code runs under corral (issue 26): NestJS's enableShutdownHooks(),
// OpenTelemetry's zero-code agent flushing its last spans, and a Fastify websocket server that
// closes its sockets in its SIGTERM handler. Each is the package from npm, run unmodified by
// `corral start`; only real processes have their signal handlers.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import WebSocket from 'ws';
import { freePort } from './helpers/net-client.js';
import { exitOf, killPrograms, runCommand, startProgram } from './helpers/program.js';
import { isolation, marksIn } from './helpers/isolated-app.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const require = createRequire(import.meta.url);
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-framework-shutdown-'));
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => killPrograms());

const isolated = isolation(dir);

/** The app's files require the packages from this repository's node_modules. */
const resolved = (name: string): string => JSON.stringify(require.resolve(name));

describe('NestJS with enableShutdownHooks()', () => {
  // Decorators applied as functions: plain JavaScript, no compiler.
  const APP = path.join(dir, 'nest.cjs');
  writeFileSync(APP, `'use strict';
require(${resolved('reflect-metadata')});
const fs = require('node:fs');
const { Module, Controller, Get } = require(${resolved('@nestjs/common')});
const { NestFactory } = require(${resolved('@nestjs/core')});
class AppController { hello() { return 'ok ' + process.pid; } }
Controller()(AppController);
Get()(AppController.prototype, 'hello', Object.getOwnPropertyDescriptor(AppController.prototype, 'hello'));
class AppModule {
  onModuleDestroy() { this.destroyed = true; }
  async beforeApplicationShutdown(signal) {
    await new Promise((resolve) => setTimeout(resolve, 200)); // a database pool closing
    fs.appendFileSync(process.env.MARKS, process.pid + ' ' + signal + ' destroyed=' + this.destroyed + '\\n');
  }
}
Module({ controllers: [AppController] })(AppModule);
NestFactory.create(AppModule, { logger: false }).then((app) => {
  app.enableShutdownHooks();
  return app.listen(Number(process.env.PORT), '127.0.0.1');
});
`);

  test('its hooks run once per worker on reload, scale-down, a recycle and corral stop', { timeout: 120_000 }, async () => {
    const { env, marks } = isolated();
    const port = await freePort();
    const corral = startProgram(BIN, ['start', APP, '-i', '2', '--name', 'nest', '--max-requests', '20', '--max-requests-jitter', '0'],
      { cwd: dir, env: { ...env, PORT: String(port) } });
    await corral.waitForErr(/ready: 2 workers/, 1, 60_000);
    const reload = await runCommand(BIN, ['reload', 'nest'], { cwd: dir, env });
    assert.equal(reload.status, 0, reload.stdout + reload.stderr);
    assert.equal(marksIn(marks).length, 2, marksIn(marks).join('; '));
    const scale = await runCommand(BIN, ['scale', 'nest', '1'], { cwd: dir, env });
    assert.equal(scale.status, 0, scale.stdout + scale.stderr);
    assert.equal(marksIn(marks).length, 3);
    for (let request = 0; request < 20; request += 1) assert.match(await (await fetch(`http://127.0.0.1:${port}/`)).text(), /^ok \d+$/);
    await corral.waitForErr(/drains: its replacement serves the slot/, 1, 60_000);
    const stop = await runCommand(BIN, ['stop', 'nest'], { cwd: dir, env });
    assert.equal(stop.status, 0, stop.stdout + stop.stderr);
    assert.match(stop.stdout, /stopped cleanly/);
    assert.equal((await exitOf(corral, 30_000)).code, 0);
    const lines = marksIn(marks);
    assert.equal(lines.length, 5, `reload 2, scale-down 1, recycle 1, stop 1:\n${lines.join('\n')}`);
    assert.equal(new Set(lines.map((line) => line.split(' ')[0])).size, 5, 'once per worker');
    for (const line of lines) assert.match(line, / SIGTERM destroyed=true$/);
  });
});

describe("OpenTelemetry's zero-code agent", () => {
  test('exports every span of the requests made before corral stop (its last batch goes out on SIGTERM)', { timeout: 120_000 }, async () => {
    // An OTLP/HTTP (JSON) collector: the server spans' paths it received.
    const paths: string[] = [];
    const collector = createServer((request: IncomingMessage, response) => {
      let body = '';
      request.setEncoding('utf8').on('data', (chunk: string) => { body += chunk; }).on('end', () => {
        interface Span { kind: number; attributes?: { key: string; value: { stringValue?: string } }[] }
        const data = JSON.parse(body) as { resourceSpans?: { scopeSpans?: { spans?: Span[] }[] }[] };
        for (const resource of data.resourceSpans ?? []) {
          for (const scope of resource.scopeSpans ?? []) {
            for (const span of scope.spans ?? []) {
              const target = span.attributes?.find((attribute) => attribute.key === 'http.target' || attribute.key === 'url.path');
              if (span.kind === 2 && target?.value.stringValue !== undefined) paths.push(target.value.stringValue);
            }
          }
        }
        response.setHeader('content-type', 'application/json');
        response.end('{}');
      });
    }).listen(0, '127.0.0.1');
    await once(collector, 'listening');
    after(() => collector.close());
    const address = collector.address();
    assert.ok(address !== null && typeof address === 'object');
    const app = path.join(dir, 'otel.cjs');
    writeFileSync(app, `'use strict';
require('node:http').createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
`);
    const { env } = isolated();
    const port = await freePort();
    const corral = startProgram(BIN, ['start', app, '-i', '2', '--name', 'otel', '--node-args', `--require ${require.resolve('@opentelemetry/auto-instrumentations-node/register')}`],
      {
        cwd: dir,
        env: {
          ...env, PORT: String(port), OTEL_SERVICE_NAME: 'corral-test', OTEL_TRACES_EXPORTER: 'otlp',
          OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${address.port}/v1/traces`,
          OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none', OTEL_NODE_RESOURCE_DETECTORS: 'none',
          // Spans wait in the batch for a minute: only the agent's shutdown sends them in time.
          OTEL_BSP_SCHEDULE_DELAY: '60000',
        },
      });
    await corral.waitForErr(/ready: 2 workers/, 1, 60_000);
    const sent = Array.from({ length: 100 }, (_, index) => `/request-${index}`);
    for (const url of sent) assert.equal(await (await fetch(`http://127.0.0.1:${port}${url}`)).text(), 'ok');
    const stop = await runCommand(BIN, ['stop', 'otel'], { cwd: dir, env });
    assert.equal(stop.status, 0, stop.stdout + stop.stderr);
    assert.match(stop.stdout, /stopped cleanly/);
    assert.deepEqual(sent.filter((url) => !paths.includes(url)), [], `${paths.length} of ${sent.length} spans exported`);
  });
});

describe('a Fastify websocket server that closes in its SIGTERM handler', () => {
  test('a reload ends its websockets with a close frame, well before the deadline, and nothing is SIGKILLed', { timeout: 120_000 }, async () => {
    const app = path.join(dir, 'fastify-ws.cjs');
    writeFileSync(app, `'use strict';
const fastify = require(${resolved('fastify')})();
fastify.register(require(${resolved('@fastify/websocket')}));
fastify.register(async (instance) => {
  instance.get('/ws', { websocket: true }, (socket) => socket.send('hello ' + process.pid));
});
fastify.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.on('SIGTERM', async () => {
  await fastify.close();
  process.exit(0);
});
`);
    const { env } = isolated();
    const port = await freePort();
    const shutdownTimeout = 30_000;
    const corral = startProgram(BIN, ['start', app, '-i', '2', '--name', 'ws', '--shutdown-timeout', String(shutdownTimeout)],
      { cwd: dir, env: { ...env, PORT: String(port) } });
    await corral.waitForErr(/ready: 2 workers/, 1, 60_000);
    const clients = await Promise.all(Array.from({ length: 4 }, async () => {
      const client = new WebSocket(`ws://127.0.0.1:${port}/ws`);
      const [hello] = await once(client, 'message') as [Buffer];
      const closed = once(client, 'close') as Promise<[number, Buffer]>;
      return { hello: hello.toString(), closed };
    }));
    const started = Date.now();
    const reload = await runCommand(BIN, ['reload', 'ws'], { cwd: dir, env });
    const took = Date.now() - started;
    console.log(`# fastify websocket reload: ${took} ms`);
    assert.equal(reload.status, 0, reload.stdout + reload.stderr);
    // A SIGKILL at the deadline would take shutdownTimeout per old worker.
    assert.ok(took < shutdownTimeout, `the reload took ${took} ms: its old workers waited for their deadline`);
    // 1006: the connection dropped without a close frame (a SIGKILL, a reset).
    for (const { closed } of clients) assert.notEqual((await closed)[0], 1006, 'closed with a close frame by the server, not dropped');
    const status = await runCommand(BIN, ['status', 'ws', '--json'], { cwd: dir, env });
    assert.doesNotMatch(status.stdout, /SIGKILL/);
    const fresh = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    const [hello] = await once(fresh, 'message') as [Buffer];
    assert.match(hello.toString(), /^hello \d+$/);
    fresh.close();
    assert.equal((await runCommand(BIN, ['stop', 'ws'], { cwd: dir, env })).status, 0);
  });
});
