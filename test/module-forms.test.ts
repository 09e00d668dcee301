// How corral loads: `require('corral')` is the cluster object itself (as require('node:cluster')
// is), `import` and `require` in one process give one cluster object and one primary, workers
// see Node's own worker half, and an unsupported Node gets one clear error from every entry.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, test } from 'node:test';
import { exitOf, killPrograms, startProgram } from './helpers/program.js';
import { cachedNode } from './helpers/tools.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(import.meta.url);
const { isSupportedNode, SUPPORTED_NODE_RANGE } = require(`${ROOT}dist/support/node-version.cjs`) as {
  isSupportedNode: (version: string) => boolean;
  SUPPORTED_NODE_RANGE: string;
};
/** The newest release before require(esm) was enabled by default on the 20 line. */
const UNSUPPORTED_NODE = '20.18.3';
afterEach(killPrograms);

describe('require and import', () => {
  test('a CommonJS app and its ES module dependency share one cluster object and one primary; workers see Node\'s worker half', async () => {
    const app = startProgram(`${ROOT}test/fixtures/module-forms/app.cjs`);
    const [line] = await app.waitFor(/^\{/);
    const seen = JSON.parse(line!) as Record<string, unknown>;
    assert.deepEqual({ ...seen, enumerableKeys: undefined, reports: undefined }, {
      isMaster: true, isPrimary: true, sameAsImportDefault: true, sameAsDependency: true, defaultIsItself: true,
      nodeClusterIsCorral: true, namedExportsMatch: true, destructured: true, workers: [1, 2], forkedByDependency: 2,
      enumerableKeys: undefined, reports: undefined,
    });
    // The named exports are reachable as properties, but Object.keys() stays node:cluster's.
    assert.ok(!(seen['enumerableKeys'] as string[]).includes('createCluster'));
    const worker = { isWorker: true, sameWorkerAsNode: true, sameAsImportDefault: true, createCluster: 'function', fork: 'undefined' };
    assert.deepEqual(seen['reports'], [{ id: 1, workerId: 1, ...worker }, { id: 2, workerId: 2, ...worker }]);
    assert.equal((await exitOf(app)).code, 0);
  });
});

describe('supported Node versions', () => {
  test('package.json engines states the range the entry points enforce', () => {
    const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { engines: { node: string } };
    assert.equal(pkg.engines.node, SUPPORTED_NODE_RANGE);
    assert.equal(isSupportedNode(process.versions.node), true);
  });

  test('the 20 line from 20.19, and 22.12 onwards, have require(esm) and are supported', () => {
    const table: [string, boolean][] = [
      ['18.20.8', false], ['20.0.0', false], ['20.18.3', false], ['20.19.0', true], ['20.20.2', true],
      ['21.7.3', false], ['22.0.0', false], ['22.11.0', false], ['22.12.0', true], ['22.23.3', true],
      ['23.0.0', true], ['24.21.0', true], ['26.10.0', true], ['v24.1.0', true], ['garbage', false],
    ];
    for (const [version, supported] of table) assert.equal(isSupportedNode(version), supported, version);
  });

  test(`on Node ${UNSUPPORTED_NODE}, require, import and the CLI fail with one clear error`, { timeout: 180_000 }, async () => {
    const node = cachedNode(UNSUPPORTED_NODE, 'the test of the error on an unsupported Node');
    const runs = [
      ['require', startProgram('-e', ["require('corral')"], { execPath: node, cwd: ROOT })],
      ['import', startProgram('--input-type=module', ['-e', "import 'corral'"], { execPath: node, cwd: ROOT })],
      ['cli', startProgram(`${ROOT}bin/corral.cjs`, ['--version'], { execPath: node, cwd: ROOT })],
    ] as const;
    for (const [form, program] of runs) {
      const { code } = await exitOf(program);
      const stderr = program.stderr();
      assert.equal(code, 1, `${form}: exit code`);
      assert.match(stderr, new RegExp(`corral needs Node\\.js 20\\.19 or later on the 20 line, or 22\\.12 or later .*this is Node\\.js ${UNSUPPORTED_NODE.replaceAll('.', '\\.')}\\. Upgrade Node\\.js`), form);
      assert.doesNotMatch(stderr, /ERR_REQUIRE_ESM|node:internal\/modules\/cjs\/loader/, form);
      if (form === 'cli') assert.match(stderr, /^corral: corral needs Node\.js/);
      else assert.match(stderr, /CORRAL_ERR_UNSUPPORTED_NODE/);
    }
  });
});
