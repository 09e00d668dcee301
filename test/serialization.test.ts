// `corral start --serialization <json|advanced>` (config key and createCluster() option
// `serialization`): under advanced, what the primary's worker.send() and the worker's
// process.send() carry arrives as it was sent (a Map, a Set, a BigInt, a Date, a circular object),
// beside corral's own frames on the same channel (the worker's listen, its manual ready()); a bad
// value is refused in the words the user wrote.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { createCluster } from 'corral';
import { exitOf, killPrograms, runCommand, startProgram } from './helpers/program.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/serialization/', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-serialization-'));
const env = { NODE_OPTIONS: '', CORRAL_RUN_DIR: path.join(dir, 'run'), CORRAL_LOG_DIR: path.join(dir, 'logs') };
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(killPrograms);

describe('--serialization', () => {
  test('advanced: a Map, Set, BigInt, Date and circular object sent by worker.send() arrive intact, and come back so from process.send()', { timeout: 60_000 }, async () => {
    const corral = startProgram(BIN, ['start', 'echo-app.cjs', '-i', '1', '--name', 'serialization-advanced', '--ready', 'manual',
      '--serialization', 'advanced', '--primary', 'probe-primary.cjs'], { cwd: FIXTURES, env });
    await corral.waitForErr(/ready: 1 worker/, 1, 30_000);
    const [line] = await corral.waitFor(/"probe":"serialization"/, 1, 30_000);
    const all = { map: true, set: true, big: true, date: true, circular: true };
    assert.deepEqual(JSON.parse(line!), { probe: 'serialization', seen: all, back: all });
    corral.child.kill('SIGTERM');
    assert.equal((await exitOf(corral, 30_000)).code, 0, corral.stderr());
  });

  test('a bad value: exit 2 naming --serialization or the config key, before anything starts; createCluster() names the option', { timeout: 30_000 }, async () => {
    const app = path.join(dir, 'app.cjs');
    writeFileSync(app, "require('node:http').createServer((q, s) => s.end('ok')).listen(0);\n");
    const flag = await runCommand(BIN, ['start', app, '--serialization', 'v8'], { cwd: dir, env });
    assert.equal(flag.status, 2, flag.stderr);
    assert.match(flag.stderr, /^corral: --serialization must be 'json' or 'advanced', got 'v8' \(string\)\. 'advanced' carries Map, Set, BigInt, Date and typed arrays \(socket\.io's cluster adapter needs it\); 'json' what JSON\.stringify keeps\.\n$/);
    const configDir = mkdtempSync(path.join(dir, 'config-'));
    writeFileSync(path.join(configDir, 'corral.config.json'), JSON.stringify({ exec: app, serialization: 'xml' }));
    const config = await runCommand(BIN, ['start'], { cwd: configDir, env });
    assert.equal(config.status, 2, config.stderr);
    assert.match(config.stderr, /^corral: corral\.config\.json: serialization must be 'json' or 'advanced', got 'xml' \(string\)\./);
    assert.throws(() => createCluster({ exec: app, serialization: 'v8' as never }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'CORRAL_ERR_INVALID_OPTION');
      assert.match(error.message, /^Expected `serialization` to be 'json' or 'advanced', got 'v8' \(string\)\. 'advanced' carries Map/);
      return true;
    });
  });
});
