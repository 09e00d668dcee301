// node:cluster compatibility: settings, setupPrimary, schedulingPolicy. Runs first in its own
// process, so both primaries start untouched.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ExecNotFoundError, InvalidOptionError, SettingsFrozenError } from 'corral';
import { IMPLEMENTATIONS, CORRAL, event } from './helpers/harness.js';

for (const impl of IMPLEMENTATIONS) {
  describe(`${impl.name}: settings`, () => {
    test('settings is {} until setup, then the defaults; setupPrimary merges cumulatively and emits setup each call', async () => {
      const { cluster } = impl;
      assert.deepEqual(cluster.settings, {});
      assert.equal(cluster.setupMaster, cluster.setupPrimary);
      const setups: unknown[] = [];
      cluster.on('setup', (settings) => setups.push(settings));
      cluster.setupPrimary();
      assert.deepEqual(cluster.settings, {
        args: process.argv.slice(2), exec: process.argv[1], execArgv: process.execArgv, silent: false,
      });
      cluster.setupPrimary({ exec: '/tmp/a.js' });
      cluster.setupPrimary({ args: ['x'] });
      cluster.setupPrimary({ execArgv: ['--no-warnings'] });
      cluster.setupPrimary();
      assert.deepEqual(cluster.settings, { args: ['x'], exec: '/tmp/a.js', execArgv: ['--no-warnings'], silent: false });
      assert.equal(setups.length, 0, "'setup' is emitted on the next tick");
      await event(cluster, 'setup');
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(setups.length, 5);
      assert.deepEqual(setups[4], cluster.settings);
    });

    test('cluster constants and flags', () => {
      const { cluster } = impl;
      assert.equal(cluster.isPrimary, true);
      assert.equal(cluster.isMaster, true);
      assert.equal(cluster.isWorker, false);
      assert.equal(cluster.SCHED_NONE, 1);
      assert.equal(cluster.SCHED_RR, 2);
      assert.equal(cluster.schedulingPolicy, process.platform === 'win32' ? 1 : 2);
      assert.equal(cluster.worker, undefined);
    });
  });
}

describe('corral: settings errors', () => {
  const { cluster } = CORRAL;
  test('schedulingPolicy froze at the first setup; changing it throws SettingsFrozenError', () => {
    assert.throws(() => { cluster.schedulingPolicy = cluster.SCHED_NONE; }, (error: unknown) =>
      error instanceof SettingsFrozenError && error.code === 'CORRAL_ERR_SETTINGS_FROZEN' &&
      /SCHED_RR/.test(error.message) && /NODE_CLUSTER_SCHED_POLICY/.test(error.message));
    cluster.schedulingPolicy = cluster.SCHED_RR; // the same value is fine
  });

  test('invalid settings and policies are refused with the bad value named', () => {
    assert.throws(() => { cluster.schedulingPolicy = 3 as never; }, InvalidOptionError);
    assert.throws(() => cluster.setupPrimary({ exec: 42 as never }), /settings\.exec.*got `42` \(number\)/);
    assert.throws(() => cluster.setupPrimary({ stdio: ['pipe', 'pipe', 'pipe'] }), /'ipc'/);
    assert.throws(() => cluster.setupPrimary({ serialization: 'xml' as never }), /'json' or 'advanced'/);
  });

  test('fork() with a missing exec throws ExecNotFoundError naming the path', () => {
    cluster.setupPrimary({ exec: './no-such-worker.js' });
    assert.throws(() => cluster.fork(), (error: unknown) =>
      error instanceof ExecNotFoundError && /no-such-worker\.js/.test(error.message) && /ENOENT/.test(error.message));
    assert.deepEqual(Object.keys(cluster.workers), []);
  });
});
