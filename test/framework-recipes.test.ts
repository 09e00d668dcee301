// docs/frameworks.md's recipes, run as written (helpers/recipe-project.ts): each framework's
// packages from this repository's node_modules, started by the recipe's own `corral start`, then
// a request or a websocket / socket.io round trip, a reload, a stop, and what the recipe says
// corral does for it. Next.js's recipes need a 342 MB install and a build: `npm run test:next`
// runs them (test/opt-in/next-recipes.test.ts).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { Agent, createServer } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { markedBlocks, type MarkedBlocks } from './helpers/doc-blocks.js';
import { freePort } from './helpers/net-client.js';
import { exitOf, killPrograms, runCommand } from './helpers/program.js';
import { BIN, FRAMEWORKS_DOC, RECIPE_MARKER, runRecipe, type RecipeRun } from './helpers/recipe-project.js';

const ROOT = path.resolve(path.dirname(BIN), '..');
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-recipes-'));
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => killPrograms());

const recipes = new Map(markedBlocks(FRAMEWORKS_DOC, RECIPE_MARKER).map((recipe) => [recipe.marker[1]!, recipe]));
const NEXT = ['nextjs-start', 'nextjs-standalone'];
const HERE = ['nestjs', 'fastify-websocket', 'socketio', 'opentelemetry', 'pino', 'pino-transport'];

function recipe(name: string): MarkedBlocks {
  const found = recipes.get(name);
  assert.ok(found !== undefined, `docs/frameworks.md has no recipe ${name}`);
  return found;
}

/** A fresh project with this repository's node_modules. */
function project(name: string): string {
  const directory = mkdtempSync(path.join(dir, `${name}-`));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(directory, 'node_modules'), 'dir');
  return directory;
}

/** Waits for a foreground `corral start` to be ready; its worker count. */
async function ready(run: RecipeRun, timeout = 60_000): Promise<number> {
  const [line] = await run.program.waitForErr(/ready: \d+ workers? in/, 1, timeout);
  return Number(/ready: (\d+)/.exec(line!)![1]);
}

async function corral(run: RecipeRun, ...args: string[]): Promise<string> {
  const result = await runCommand(BIN, args, { env: run.env });
  assert.equal(result.status, 0, `corral ${args.join(' ')}: ${result.stdout}${result.stderr}`);
  return result.stdout;
}

/** `corral stop` says the stop was clean, and the foreground `corral start` (the recipe's bash) exits 0. */
async function stopsCleanly(run: RecipeRun, name: string): Promise<void> {
  assert.match(await corral(run, 'stop', name), /stopped cleanly/);
  assert.deepEqual(await exitOf(run.program, 30_000), { code: 0, signal: null }, run.program.stderr());
}

// A connection per request: none is left pooled to a worker that a reload drains.
const get = async (port: number, url = '/'): Promise<string> => (await fetch(`http://127.0.0.1:${port}${url}`, { headers: { connection: 'close' } })).text();

test('docs/frameworks.md marks a recipe for each framework, each with a `corral start`', () => {
  assert.deepEqual([...recipes.keys()].sort(), [...NEXT, ...HERE].sort());
  for (const found of recipes.values()) assert.ok(found.commands.some((line) => /corral start\b/.test(line)), `${found.marker[1]}: no corral start`);
});

describe('the framework recipes, as written', () => {
  test('nestjs: its shutdown hooks run on SIGTERM once per worker on reload and stop', { timeout: 180_000 }, async () => {
    const directory = project('nestjs');
    // What Nest's CLI writes (nest build compiles with it): decorators and their metadata.
    writeFileSync(path.join(directory, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        module: 'commonjs', target: 'ES2021', experimentalDecorators: true, emitDecoratorMetadata: true,
        rootDir: './src', outDir: './dist', skipLibCheck: true, types: ['node'],
      },
    }));
    const port = await freePort();
    const run = runRecipe(recipe('nestjs'), directory, { 3000: port });
    const workers = await ready(run, 150_000);
    const first = new Set<string>();
    for (let request = 0; request < 4 * workers; request += 1) first.add(/^hello from (\d+)$/.exec(await get(port))![1]!);
    await corral(run, 'reload', 'main');
    const closed = (count: number): Promise<string[]> => run.program.waitFor(/^database closed on SIGTERM in \d+$/, count, 30_000);
    const afterReload = (await closed(workers)).map((line) => line.split(' ').pop()!);
    for (const pid of first) assert.ok(afterReload.includes(pid), `worker ${pid} ran its hooks on the reload: ${afterReload.join(', ')}`);
    assert.doesNotMatch(await get(port), new RegExp(`^hello from (${[...first].join('|')})$`));
    await stopsCleanly(run, 'main');
    assert.equal((await closed(2 * workers)).length, 2 * workers, 'once per worker');
  });

  test('fastify-websocket: a reload closes the websockets with a close frame and the old workers end by themselves, before the deadline; the clients reconnect', { timeout: 120_000 }, async () => {
    const port = await freePort();
    const run = runRecipe(recipe('fastify-websocket'), project('fastify'), { 3000: port });
    await ready(run);
    const echo = async (client: WebSocket, text: string): Promise<string> => {
      client.send(text);
      const [message] = await once(client, 'message') as [Buffer];
      return message.toString();
    };
    const clients = await Promise.all(Array.from({ length: 4 }, async (_, index) => {
      const client = new WebSocket(`ws://127.0.0.1:${port}/echo`);
      await once(client, 'open');
      assert.equal(await echo(client, `ping ${index}`), `ping ${index}`);
      return { client, closed: once(client, 'close') as Promise<[number, Buffer]> };
    }));
    const started = Date.now();
    await corral(run, 'reload', 'server');
    console.log(`# fastify websocket reload: ${Date.now() - started} ms`);
    // 1006: dropped without a close frame; @fastify/websocket's close() sends one with no code (1005).
    for (const { closed } of clients) assert.equal((await closed)[0], 1005);
    // Each old worker ended by itself once its websockets had closed, not SIGKILLed at the deadline.
    const status = JSON.parse(await corral(run, 'status', 'server', '--json')) as { slots: { lastExit?: { reason: string; code: number | null; signal: string | null } }[] };
    for (const { lastExit } of status.slots) assert.deepEqual(lastExit && [lastExit.reason, lastExit.code, lastExit.signal], ['reload', 0, null]);
    const again = new WebSocket(`ws://127.0.0.1:${port}/echo`);
    await once(again, 'open');
    assert.equal(await echo(again, 'again'), 'again');
    again.close();
    await stopsCleanly(run, 'server');
  });

  test("socketio: sticky polling, a Buffer broadcast to every worker's clients, reconnection after a reload", { timeout: 120_000 }, async () => {
    const port = await freePort();
    const run = runRecipe(recipe('socketio'), project('socketio'), { 3000: port });
    const workers = await ready(run);
    // The sticky balancer keys on the client's address: clients from several loopback addresses
    // land on several workers. Each starts with long-polling (several requests) and upgrades.
    const sockets: Socket[] = [];
    after(() => { for (const socket of sockets) socket.close(); });
    const hello = (socket: Socket): Promise<number> => new Promise((resolve) => socket.once('hello', resolve));
    const pids = await Promise.all(Array.from({ length: 8 }, (_, index) => {
      const socket = io(`http://127.0.0.1:${port}`, { agent: new Agent({ localAddress: `127.0.0.${index + 2}` }) as unknown as string, reconnectionDelay: 100 });
      sockets.push(socket);
      return hello(socket);
    }));
    if (workers > 1) assert.ok(new Set(pids).size > 1, `every client on one worker: ${pids.join(', ')}`);
    const roundTrip = async (text: string): Promise<void> => {
      const received = Promise.all(sockets.map((socket) => new Promise<{ text: string; data: unknown }>((resolve) => socket.once('chat', resolve))));
      sockets[0]!.emit('chat', { text, data: Buffer.from(text) });
      for (const message of await received) {
        assert.equal(message.text, text);
        assert.ok(Buffer.isBuffer(message.data) && message.data.toString() === text, `not the Buffer sent: ${JSON.stringify(message.data)}`);
      }
    };
    await roundTrip('before the reload');
    const rehello = sockets.map(hello);
    await corral(run, 'reload', 'chat');
    const newPids = await Promise.all(rehello);
    for (const pid of newPids) assert.ok(!pids.includes(pid), `reconnected to an old worker ${pid}`);
    await roundTrip('after the reload');
    for (const socket of sockets) socket.close();
    await stopsCleanly(run, 'chat');
  });

  test('opentelemetry: the spans of every request before a reload and a stop reach the collector', { timeout: 120_000 }, async () => {
    const bodies: Buffer[] = [];
    const collector = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk)).on('end', () => {
        if (request.url === '/v1/traces') bodies.push(Buffer.concat(chunks));
        response.end();
      });
    }).listen(0, '127.0.0.1');
    await once(collector, 'listening');
    after(() => collector.close());
    const { port: collectorPort } = collector.address() as { port: number };
    const port = await freePort();
    const run = runRecipe(recipe('opentelemetry'), project('otel'), { 3000: port, 4318: collectorPort });
    await ready(run);
    const sent: string[] = [];
    const requests = async (prefix: string): Promise<void> => {
      for (let index = 0; index < 30; index += 1) {
        sent.push(`/${prefix}-${index}`);
        assert.equal(await get(port, sent.at(-1)), 'ok\n');
      }
    };
    await requests('before-reload');
    await corral(run, 'reload', 'server');
    await requests('before-stop');
    await stopsCleanly(run, 'server');
    // OTLP's protobuf carries strings as they are: each request's path is in some export.
    const received = Buffer.concat(bodies).toString('latin1');
    assert.deepEqual(sent.filter((url) => !received.includes(url)), [], `${bodies.length} exports`);
    assert.ok(received.includes('api'), 'OTEL_SERVICE_NAME');
  });

  for (const name of ['pino', 'pino-transport']) {
    test(`${name}: under -d every request's line is in the log file, tagged, across a reload and a stop`, { timeout: 120_000 }, async () => {
      const port = await freePort();
      const run = runRecipe(recipe(name), project(name), { 3000: port });
      assert.deepEqual(await exitOf(run.program, 60_000), { code: 0, signal: null }, run.program.stderr());
      const urls = Array.from({ length: 40 }, (_, index) => `/${index < 20 ? 'first' : 'second'}-${index}`);
      for (const url of urls.slice(0, 20)) assert.equal(await get(port, url), 'ok\n');
      await corral(run, 'reload', 'server');
      for (const url of urls.slice(20)) assert.equal(await get(port, url), 'ok\n');
      assert.match(await corral(run, 'stop', 'server'), /stopped cleanly/);
      const logged = new Set<string>();
      for (const line of readFileSync(path.join(run.logDir, 'server.log'), 'utf8').split('\n')) {
        const tagged = /^\S+Z \[slot \d+ pid \d+ stdout\] (\{.*\})$/.exec(line);
        if (tagged === null) continue;
        const entry = JSON.parse(tagged[1]!) as { msg?: string; url?: string; level?: number };
        if (entry.msg === 'request' && entry.level === 30 && entry.url !== undefined) logged.add(entry.url);
      }
      assert.deepEqual(urls.filter((url) => !logged.has(url)), [], 'lines missing from the log file');
    });
  }
});
