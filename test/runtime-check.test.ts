// Bun and Deno report a Node.js version in process.versions.node, so corral's version check
// passes, and the app then fails in ways that blame it (Bun: every worker "did not listen on a
// port"; Deno: "ready" while serving nothing, every worker killed as hung). corral refuses them at
// the CLI and at require/import with one clear error. Neither runtime is needed: a --require
// preload sets the mark each one sets (process.versions.bun, globalThis.Deno…) before corral
// loads, in real processes running the real CLI, require and import.
//
// Opt-in, the real runtimes: CORRAL_TEST_BUN and CORRAL_TEST_DENO name their binaries. Both are on
// npm: `npm install bun deno` in a scratch directory gives node_modules/.bin/bun and
// node_modules/.bin/deno.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { exitOf, killPrograms, startProgram, type Program, type ProgramOptions } from './helpers/program.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'corral.cjs');
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-runtime-check-'));
const env = { NODE_OPTIONS: '', CORRAL_RUN_DIR: path.join(dir, 'run'), CORRAL_LOG_DIR: path.join(dir, 'logs') };
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(killPrograms);

const APP = path.join(dir, 'app.cjs');
writeFileSync(APP, "require('node:http').createServer((q, s) => s.end('ok')).listen(0);\n");
/** Imports corral by its path, as an ES module (no package resolution needed from the temp dir). */
const IMPORTER = path.join(dir, 'import-corral.mjs');
writeFileSync(IMPORTER, `import ${JSON.stringify(pathToFileURL(path.join(ROOT, 'dist', 'index.js')).href)};\n`);
const REQUIRER = path.join(dir, 'require-corral.cjs');
writeFileSync(REQUIRER, `require(${JSON.stringify(path.join(ROOT, 'dist', 'index.cjs'))});\n`);

/** Each runtime's mark, set by a preload, as Bun 1.4 and Deno 2.9 set it. */
const MARKS: readonly (readonly [string, 'Bun' | 'Deno', string, string])[] = [
  ['process.versions.bun', 'Bun', ' 1.4.5', "process.versions.bun = '1.4.5';"],
  ['process.versions.deno', 'Deno', ' 2.9.6', "process.versions.deno = '2.9.6';"],
];

/** A global of the runtime's name alone, on Node.js: a polyfill, or a test's mock. */
const POLYFILLS = "globalThis.Bun = { version: '1.4.5' }; globalThis.Deno = { version: { deno: '2.9.6' } };";

const runs = (preload: string[] = []): [string, () => Program][] => {
  const options: ProgramOptions = { cwd: dir, env, execArgv: preload };
  return [
    ['corral start', () => startProgram(BIN, ['start', APP, '-i', '2'], options)],
    ['require', () => startProgram(REQUIRER, [], options)],
    ['import', () => startProgram(IMPORTER, [], options)],
  ];
};

function assertRefused(form: string, runtime: 'Bun' | 'Deno', version: string, stderr: string): void {
  const message = new RegExp(`corral runs on Node\\.js, and this is ${runtime}${version.replaceAll('.', '\\.')} \\(which reports itself as Node\\.js [\\d.]+\\): ` +
    `corral's primary and workers rely on node:cluster's internals .* so the workers would never serve\\. Run it with Node\\.js \\(20\\.19 or later, or 22\\.12 or later\\): ` +
    `\`node app\\.js\` rather than \`${runtime === 'Bun' ? 'bun app\\.js' : 'deno run app\\.js'}\``);
  assert.match(stderr, message, form);
  if (form === 'corral start') {
    // One line, no stack, and nothing started.
    assert.match(stderr, /^corral: corral runs on Node\.js, and this is [^\n]*\n$/, form);
  } else {
    assert.match(stderr, /CORRAL_ERR_UNSUPPORTED_RUNTIME/, form);
    assert.doesNotMatch(stderr, /\n\s+at /, `${form}: the stack is the message alone`);
  }
  assert.doesNotMatch(stderr, /starting \d+ workers?/, form);
}

describe('Bun and Deno are refused, by the marks they set', () => {
  for (const [mark, runtime, version, code] of MARKS) {
    test(`${mark}: corral start, require and import exit 1 with one error naming ${runtime}`, { timeout: 60_000 }, async () => {
      const preload = path.join(dir, `${mark.replaceAll('.', '-')}.cjs`);
      writeFileSync(preload, `${code}\n`);
      for (const [form, start] of runs(['--require', preload])) {
        const program = start();
        assert.equal((await exitOf(program, 30_000)).code, 1, `${form}: ${program.stderr()}`);
        assertRefused(form, runtime, version, program.stderr());
      }
    });
  }

  test('on Node.js itself, no mark (a global named Bun or Deno is not one: a polyfill): the same three load', { timeout: 60_000 }, async () => {
    const preload = path.join(dir, 'polyfills.cjs');
    writeFileSync(preload, `${POLYFILLS}\n`);
    for (const [form, start] of runs(['--require', preload])) {
      if (form === 'corral start') continue; // started in every other test of the suite
      const program = start();
      assert.equal((await exitOf(program, 30_000)).code, 0, `${form}: ${program.stderr()}`);
      assert.equal(program.stderr(), '', form);
    }
  });
});

describe('the real runtimes (opt-in)', () => {
  const real: [string, 'Bun' | 'Deno', string | undefined, string[]][] = [
    ['CORRAL_TEST_BUN', 'Bun', process.env['CORRAL_TEST_BUN'], []],
    ['CORRAL_TEST_DENO', 'Deno', process.env['CORRAL_TEST_DENO'], ['run', '-A']],
  ];
  for (const [variable, runtime, binary, execArgv] of real) {
    const skip = binary === undefined ? `set ${variable} to a ${runtime.toLowerCase()} binary (npm install ${runtime.toLowerCase()} in a scratch directory gives node_modules/.bin/${runtime.toLowerCase()})` : false;
    test(`${runtime} itself: corral start, require and import exit 1 with the error`, { skip, timeout: 90_000 }, async () => {
      for (const [form, file, args] of [['corral start', BIN, ['start', APP, '-i', '2']], ['require', REQUIRER, []], ['import', IMPORTER, []]] as const) {
        const program = startProgram(file, args, { cwd: dir, env, execPath: binary!, execArgv });
        assert.notEqual((await exitOf(program, 60_000)).code, 0, `${form}: ${program.stderr()}`);
        assert.match(program.stderr(), new RegExp(`corral runs on Node\\.js, and this is ${runtime} \\d+\\.\\d+`), form);
        assert.doesNotMatch(program.stderr(), /starting \d+ workers?/, form);
      }
    });
  }
});
