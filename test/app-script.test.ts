// The script of `corral start`: an app in another language (worker.py, main.go, a shell script, a
// compiled program) is refused before anything forks, saying what it got and what to give
// instead, where each worker used to fail on it as JavaScript; what Node.js runs is still started
// (extensionless files with a node `#!` line or JavaScript in them); a bare name that is no file
// here is a command of node_modules/.bin, found from a subdirectory as npm finds it (a symlink to
// the package's file, or pnpm's shell shim), or said missing in the CLI's words.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { exitOf, killPrograms, runCommand, startProgram } from './helpers/program.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-app-script-'));
const env = { NODE_OPTIONS: '', CORRAL_RUN_DIR: path.join(dir, 'run'), CORRAL_LOG_DIR: path.join(dir, 'logs') };
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(killPrograms);

const SERVER = "require('node:http').createServer((q, s) => s.end('ok')).listen(0, '127.0.0.1');\n";

function write(name: string, content: string | Buffer, mode = 0o644): string {
  const file = path.join(dir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
  chmodSync(file, mode);
  return file;
}

/** A `corral start` that must be refused before it forks: exit 1, no start line, no worker's error. */
async function refused(args: string[], cwd = dir): Promise<string> {
  const result = await runCommand(BIN, ['start', ...args, '-i', '2'], { cwd, env });
  assert.equal(result.status, 1, result.stderr);
  assert.doesNotMatch(result.stderr, /starting \d+ workers?|SyntaxError|ReferenceError|ERR_UNKNOWN_FILE_EXTENSION/, result.stderr);
  assert.equal(result.stdout, '');
  return result.stderr;
}

/** A `corral start` that must serve: ready with one worker of `file`, then stopped by SIGTERM. */
async function serves(args: string[], file: string, name: string, cwd = dir): Promise<void> {
  const corral = startProgram(BIN, ['start', ...args, '-i', '1'], { cwd, env });
  const [starting] = await corral.waitForErr(/starting 1 worker of /, 1, 30_000);
  assert.ok(starting!.includes(`corral[${name}] starting 1 worker of ${file} `), starting);
  await corral.waitForErr(/ready: 1 worker/, 1, 30_000);
  corral.child.kill('SIGTERM');
  assert.equal((await exitOf(corral, 30_000)).code, 0, corral.stderr());
}

describe('an app in another language', () => {
  // As the issue found them, in a package of "type": "module", where Node says ERR_UNKNOWN_FILE_EXTENSION.
  write('foreign/package.json', '{ "type": "module" }\n');
  const cases: [string, string | Buffer, RegExp][] = [
    ['foreign/worker.py', 'print("hello")\n',
      /^corral start: foreign\/worker\.py is a Python file \(by its \.py extension\), and corral runs Node\.js apps: each worker runs the script with Node\.js\. Give corral the JavaScript \(or TypeScript\) file of a Node\.js app \(corral start server\.js\); run worker\.py under a process manager for any program instead/],
    ['foreign/app.rb', 'puts "hello"\n', /^corral start: foreign\/app\.rb is a Ruby file \(by its \.rb extension\), and corral runs Node\.js apps/],
    ['foreign/main.go', 'package main\n\nfunc main() {}\n', /^corral start: foreign\/main\.go is a Go file \(by its \.go extension\), and corral runs Node\.js apps/],
    ['foreign/run', '#!/bin/sh\nexec node server.js\n',
      /^corral start: foreign\/run is a shell script \(its first line is #!\/bin\/sh\), and corral runs Node\.js apps: each worker runs the script with Node\.js\. Give corral the JavaScript file of the Node\.js app that run starts \(corral start server\.js\), with any setup done before corral starts\./],
    ['foreign/tool', '#!/usr/bin/env python3\nprint(1)\n', /^corral start: foreign\/tool is a Python script \(its first line is #!\/usr\/bin\/env python3\), and corral runs Node\.js apps/],
    ['foreign/bun-app', '#!/usr/bin/env bun\nBun.serve({ fetch: () => new Response("ok") });\n',
      /^corral start: foreign\/bun-app is a Bun script \(its first line is #!\/usr\/bin\/env bun\), and corral runs Node\.js apps: .* Run bun-app with Bun, or give corral a JavaScript file that runs on Node\.js\./],
    ['foreign/server', Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]), Buffer.alloc(64)]),
      /^corral start: foreign\/server is a compiled program \(an ELF executable\), and corral runs Node\.js apps: .* run server under a process manager for any program instead/],
  ];
  for (const [name, content, message] of cases) {
    test(`${name}: exit 1, saying what it is and what to give, before any fork`, { timeout: 30_000 }, async () => {
      write(name, content, 0o755);
      assert.match(await refused([name]), message);
    });
  }

  test("a config file's exec, and a PM2 ecosystem file's script: named as the file wrote them", { timeout: 30_000 }, async () => {
    const config = mkdtempSync(path.join(dir, 'config-'));
    writeFileSync(path.join(config, 'worker.py'), 'print("hello")\n');
    writeFileSync(path.join(config, 'corral.config.json'), '{ "exec": "./worker.py" }\n');
    assert.match(await refused([], config), /^corral: corral\.config\.json: exec: .*\/worker\.py is a Python file \(by its \.py extension\), and corral runs Node\.js apps/);
    writeFileSync(path.join(config, 'ecosystem.config.cjs'), "module.exports = { apps: [{ name: 'py', script: 'worker.py' }] };\n");
    assert.match(await refused(['ecosystem.config.cjs'], config), /^corral: ecosystem\.config\.cjs: apps\[0\]: script: .*\/worker\.py is a Python file/);
  });
});

describe('what Node.js runs is started', () => {
  test('extensionless files: a node #! line (also through env -S with flags), an interpreter corral does not know, or JavaScript without one', { timeout: 90_000 }, async () => {
    await serves(['node-bin'], write('node-bin', `#!/usr/bin/env node\n${SERVER}`, 0o755), 'node-bin');
    await serves(['flagged-bin'], write('flagged-bin', `#!/usr/bin/env -S node --no-warnings\n${SERVER}`, 0o755), 'flagged-bin');
    await serves(['plain'], write('plain', SERVER), 'plain');
    // An interpreter corral does not know is often Node's own tooling (zx, jiti): Node skips the line.
    await serves(['zx-bin'], write('zx-bin', `#!/usr/bin/env zx\n${SERVER}`, 0o755), 'zx-bin');
  });
});

describe('a bare name: a command of node_modules/.bin', () => {
  // A package with a bin, as npm installs it: node_modules/.bin/<name> is a symlink to its file.
  const project = path.join(dir, 'project');
  const served = write('project/node_modules/fakeserve/bin/serve', `#!/usr/bin/env node\n${SERVER}`, 0o755);
  mkdirSync(path.join(project, 'node_modules', '.bin'), { recursive: true });
  symlinkSync('../fakeserve/bin/serve', path.join(project, 'node_modules', '.bin', 'fakeserve'));
  const deeper = path.join(project, 'src', 'deeper');
  mkdirSync(deeper, { recursive: true });

  test('corral start fakeserve, from a subdirectory: the symlink is followed to the file, and the app is named as the command', { timeout: 30_000 }, async () => {
    await serves(['fakeserve'], served, 'fakeserve', deeper);
  });

  test("pnpm's shell shims: its cmd-shim-target line, or its older exec node line", { timeout: 60_000 }, async () => {
    const target = write('project/node_modules/.pnpm/shimmed@1.0.0/node_modules/shimmed/cli.js', SERVER);
    write('project/node_modules/.bin/shimmed', '#!/bin/sh\nbasedir=$(dirname "$0")\n' +
      `exec node  "$basedir_abs"/'../.pnpm/shimmed@1.0.0/node_modules/shimmed/cli.js' "$@"\n` +
      '# cmd-shim-target=../.pnpm/shimmed@1.0.0/node_modules/shimmed/cli.js\n', 0o755);
    await serves(['shimmed'], target, 'shimmed', project);
    write('project/node_modules/.bin/old-shimmed', '#!/bin/sh\nbasedir=$(dirname "$(echo "$0" | sed -e \'s,\\\\,/,g\')")\n' +
      'if [ -x "$basedir/node" ]; then\n  exec "$basedir/node"  "$basedir/../.pnpm/shimmed@1.0.0/node_modules/shimmed/cli.js" "$@"\n' +
      'else\n  exec node  "$basedir/../.pnpm/shimmed@1.0.0/node_modules/shimmed/cli.js" "$@"\nfi\n', 0o755);
    await serves(['old-shimmed'], target, 'old-shimmed', project);
    // Given by its path, a shim is the shell script it is, and the message names the file it runs.
    assert.match(await refused(['node_modules/.bin/shimmed'], project),
      /^corral start: node_modules\/\.bin\/shimmed is a shell script .* It runs .*\/node_modules\/\.pnpm\/shimmed@1\.0\.0\/node_modules\/shimmed\/cli\.js: give corral that file\./);
  });

  test('no such file nor command: said in the words of the command line, never as createCluster()\'s `exec`', { timeout: 30_000 }, async () => {
    const missing = await refused(['next'], deeper);
    assert.match(missing, new RegExp(`^corral start: next: no file or command of that name: no ${deeper}/next, and no node_modules/\\.bin/next in ${deeper} or a parent directory\\. ` +
      "Give the path of the app's script \\(corral start \\./server\\.js\\), or install the package whose command it is\\.\\n$"));
    assert.doesNotMatch(missing, /`exec`|`cwd`|Cannot fork/);
    // A path where the command was meant.
    assert.match(await refused(['./fakeserve'], project),
      /^corral start: \.\/fakeserve: no such file \(looked for .*\/project\/fakeserve\)\. Give the path of the app's script, relative to .*\/project or absolute\. Did you mean node_modules\/\.bin\/fakeserve \(corral start fakeserve\)\?\n$/);
    assert.match(await refused(['missing.js']), /^corral start: missing\.js: no such file \(looked for .*\/missing\.js\)\. Give the path of the app's script, relative to /);
  });
});
