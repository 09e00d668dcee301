// The packed tarball is what users install, so it is what gets tested: `npm pack`, install the
// tarball into a temporary consumer project (test/fixtures/consumer), and run an ES module app, a
// CommonJS app and one TypeScript source built as ESM, as CommonJS and with bundler resolution
// (with TypeScript's current major, which includes no @types package unless told to), each as a
// real two-worker cluster answering HTTP. publint and @arethetypeswrong/cli check the tarball.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, test } from 'node:test';
import { fetchMany, freePort } from './helpers/net-client.js';
import { killPrograms, startProgram } from './helpers/program.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = path.join(ROOT, 'test/fixtures/consumer');
/** The TypeScript major a fresh project gets today; its `types` default is `[]`. */
const TYPESCRIPT = '7.0.2';
const TS_VARIANTS = ['ts-esm', 'ts-cjs', 'ts-bundler'] as const;
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface PackResult { filename: string; size: number; unpackedSize: number; files: { path: string }[] }

let work: string;
let consumer: string;
let tarball: string;
let packed: PackResult;

before(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'corral-package-'));
  // `npm test` has just built dist/, so pack it as it is.
  const json = execFileSync(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8' });
  packed = (JSON.parse(json) as PackResult[])[0]!;
  tarball = path.join(work, packed.filename);
  consumer = path.join(work, 'consumer');
  cpSync(FIXTURE, consumer, { recursive: true });
  for (const variant of TS_VARIANTS) cpSync(path.join(FIXTURE, 'app.ts'), path.join(consumer, variant, 'app.ts'));
  const typesNode = (JSON.parse(readFileSync(path.join(ROOT, 'node_modules/@types/node/package.json'), 'utf8')) as { version: string }).version;
  writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({
    private: true,
    dependencies: { corral: `file:${tarball}`, typescript: TYPESCRIPT, '@types/node': typesNode },
  }, null, 2));
  process.stderr.write(`package test: installing the packed corral, typescript@${TYPESCRIPT} and @types/node@${typesNode} into ${consumer} ` +
    '(from the npm cache, else the npm registry)\n');
  execFileSync(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], {
    cwd: consumer, stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000,
  });
}, { timeout: 360_000 });
afterEach(killPrograms);
after(() => rmSync(work, { recursive: true, force: true }));

/** Runs a consumer app as a two-worker cluster and checks both workers answer HTTP. */
async function runsAsCluster(file: string, form: string, execArgv: string[] = []): Promise<Record<string, unknown>> {
  const port = await freePort();
  const app = startProgram(file, [], { cwd: path.dirname(file), execArgv, env: { PORT: String(port), FORM: form } });
  const [line] = await app.waitFor(/^\{"ready":true/);
  const bodies = new Set(await fetchMany(port, 8));
  assert.deepEqual([...bodies].sort(), ['worker 1\n', 'worker 2\n'], `${form}: both workers answer`);
  return JSON.parse(line!) as Record<string, unknown>;
}

describe('the packed tarball', () => {
  test('holds the build, its sources (for the source maps), LICENSE and README, and nothing else', () => {
    const files = packed.files.map((file) => file.path).sort();
    for (const required of ['LICENSE', 'README.md', 'package.json', 'bin/corral.cjs', 'dist/index.js', 'dist/index.d.ts', 'dist/index.cjs', 'dist/index.d.cts', 'dist/register.js', 'dist/register.cjs', 'src/index.ts', 'src/index.cts']) {
      assert.ok(files.includes(required), `${required} is in the tarball`);
    }
    const stray = files.filter((file) => !/^(dist|src|bin)\//.test(file) && !['register/package.json', 'worker/package.json', 'corral.config.schema.json'].includes(file) && !['LICENSE', 'README.md', 'CHANGELOG.md', 'package.json'].includes(file));
    assert.deepEqual(stray, []);
    // About 545 KB at 0.9.0, 598 KB with the balancers, 709 KB with the admin server, its
    // dashboard page and `corral monit`, 738 KB with the production part, 860 KB with the
    // hardening of the manager's surfaces (safe log files, the asynchronous log writer and its
    // follower, admission and Host checks, sliced metrics), 946 KB with apps run unmodified (the
    // app's stop signal, script and runtime checks, inspector ports, kill reports) (compiled
    // code, declarations, the sources the maps point at, the bundled CLI and its map, a README of
    // 181 KB).
    assert.ok(packed.size < 1_050_000, `tarball is ${packed.size} bytes`);
  });

  test('every source map and declaration map points at a file the tarball contains', () => {
    const installed = path.join(consumer, 'node_modules/corral');
    const maps = readdirSync(path.join(installed, 'dist'), { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.map'));
    assert.ok(maps.length > 20);
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(path.join(installed, 'dist', map), 'utf8')) as { sources: string[] };
      for (const source of sources) {
        const target = path.resolve(path.dirname(path.join(installed, 'dist', map)), source);
        assert.ok(existsSync(target), `${map} → ${source}`);
      }
    }
  });

  test('exports exactly the public API (no internal helpers)', async () => {
    const entry = path.join(consumer, 'node_modules/corral/dist/index.js');
    const namespace = await import(entry) as Record<string, unknown>;
    assert.deepEqual(Object.keys(namespace).sort(), [
      'AdminListenError', 'ClusterBusyError', 'ClusterClosedError', 'ClusterPrimary', 'CorralError', 'ExecNotFoundError', 'InvalidBalancerError',
      'InvalidControlFrameError', 'InvalidOptionError', 'InvalidWorkerCountError', 'ManagedCluster', 'NodeClusterInUseError',
      'OperationCancelledError', 'PrimaryModuleError', 'ReloadFailedError',
      'SCHED_NONE', 'SCHED_RR', 'SettingsFrozenError', 'StartFailedError', 'Worker', 'WorkerNotConnectedError',
      'createCluster', 'default', 'disconnect', 'fork', 'handleSignals', 'isMaster', 'isPrimary', 'isWorker',
      'restoreNodeCluster', 'schedulingPolicy', 'settings',
      'setupMaster', 'setupPrimary', 'worker', 'workers',
    ]);
  });

  test('an ES module app and a CommonJS app run a real cluster from the installed package, also under corral/register', async () => {
    const esm = await runsAsCluster(path.join(consumer, 'esm/app.mjs'), 'esm');
    const cjs = await runsAsCluster(path.join(consumer, 'cjs/app.cjs'), 'cjs');
    assert.equal(esm['errorCode'], 'CORRAL_ERR_INVALID_WORKER_COUNT');
    assert.equal(cjs['errorCode'], 'CORRAL_ERR_INVALID_WORKER_COUNT');
    // corral/register resolves from the installed package, in both forms.
    await runsAsCluster(path.join(consumer, 'esm/app.mjs'), 'esm', ['--import', 'corral/register']);
    await runsAsCluster(path.join(consumer, 'cjs/app.cjs'), 'cjs', ['--require', 'corral/register']);
  });

  test(`TypeScript ${TYPESCRIPT} builds one source as ESM, CommonJS and with bundler resolution, with no \`types\` setting, and each build runs`, async () => {
    const tsc = path.join(consumer, 'node_modules/typescript/bin/tsc');
    assert.match(execFileSync(process.execPath, [tsc, '--version'], { encoding: 'utf8' }), new RegExp(TYPESCRIPT.replaceAll('.', '\\.')));
    for (const variant of TS_VARIANTS) {
      const tsconfig = JSON.parse(readFileSync(path.join(consumer, variant, 'tsconfig.json'), 'utf8')) as { compilerOptions: Record<string, unknown> };
      assert.equal(tsconfig.compilerOptions['types'], undefined);
      try {
        execFileSync(process.execPath, [tsc, '-p', path.join(consumer, variant)], { encoding: 'utf8' });
      } catch (error) {
        assert.fail(`${variant} does not build:\n${(error as { stdout?: string }).stdout ?? String(error)}`);
      }
    }
    const cjsOutput = readFileSync(path.join(consumer, 'ts-cjs/out/app.js'), 'utf8');
    assert.match(cjsOutput, /require\("corral"\)/);
    for (const variant of TS_VARIANTS) {
      const report = await runsAsCluster(path.join(consumer, variant, 'out/app.js'), variant);
      assert.deepEqual(report, { ready: true, form: variant, errorCode: 'CORRAL_ERR_INVALID_WORKER_COUNT', policy: true, port: report['port'] });
    }
  });

  test('publint and @arethetypeswrong/cli report no problems', () => {
    const bin = (name: string): string => path.join(ROOT, 'node_modules/.bin', name);
    const publint = execFileSync(bin('publint'), ['run', tarball, '--strict'], { encoding: 'utf8' });
    assert.match(publint, /All good!/);
    const attw = execFileSync(bin('attw'), [tarball, '--format', 'table-flipped'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
    assert.match(attw, /No problems found/);
  });
});
