// The published JSON Schema of corral.config.* agrees with the validation corral itself runs:
// the same keys, and the same verdict on valid and invalid configs.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { createCluster } from 'corral';
import { WORKER_FIXTURE } from './helpers/harness.js';
import { configSchema } from './helpers/internals.js';

const require = createRequire(import.meta.url);
// ajv's 2020-12 build is CommonJS with a default export.
const Ajv2020 = (require('ajv/dist/2020.js') as { default: new (options: object) => { compile(schema: object): ((data: unknown) => boolean) & { errors?: unknown } } }).default;
const schema = JSON.parse(readFileSync(new URL('../../corral.config.schema.json', import.meta.url), 'utf8')) as {
  $defs: { appKeys: { properties: Record<string, unknown> } };
};
const validate = new Ajv2020({ allErrors: true, strict: true }).compile(schema);
const CLI_ONLY = ['logPrefix', 'logFormat', 'logFile', 'logMaxSize', 'logMaxFiles', 'envFile', 'profile', 'watch', 'primary', '$schema'];

function corralAccepts(config: Record<string, unknown>): boolean {
  const options = Object.fromEntries(Object.entries(config).filter(([key]) => !CLI_ONLY.includes(key)));
  try {
    createCluster({ exec: WORKER_FIXTURE, ...options });
    return true;
  } catch {
    return false;
  }
}

test('corral.config.schema.json is what the option tables declare (npm run schema writes it)', () => {
  assert.deepEqual(schema, configSchema.configSchema(), 'the committed schema is out of date: run `npm run schema`');
});

test('the schema lists exactly the options createCluster() knows, plus the CLI-only keys', () => {
  // Every option has a resolved value, so the resolved options' keys are the known options.
  const known = Object.keys(createCluster({ exec: WORKER_FIXTURE }).options);
  assert.deepEqual(Object.keys(schema.$defs.appKeys.properties).filter((key) => !CLI_ONLY.includes(key)).sort(), known.sort());
});

const valid: Record<string, unknown>[] = [
  {}, { workers: 4 }, { workers: 'max' }, { workers: 'auto' }, { workers: -1 }, { balancer: 'shared' },
  { readyWhen: 'manual', startTimeout: 5_000 }, { restart: false }, { restart: { minDelay: 50, maxDelay: 100 } },
  { crashLoop: { maxCrashes: 3, window: 10_000, retryDelay: 5_000 } }, { env: { NODE_ENV: 'production' } },
  { execArgv: ['--max-old-space-size=512'], args: ['--port', '80'] }, { reloadConcurrency: 2, shutdownTimeout: 0 },
  { name: 'api.v2', logPrefix: 'slot', logFormat: 'json', $schema: './node_modules/corral/corral.config.schema.json' },
  { primary: './primary.mjs' }, { reportInterval: 0 }, { reportInterval: 250 },
  { balancer: 'sticky', stickyHeader: 'x-forwarded-for', stickyProxyHops: 2 },
  { killSignal: 'SIGINT' }, { killSignal: 'none' },
];
const invalid: Record<string, unknown>[] = [
  { wokers: 2 }, { workers: 0 }, { workers: 'many' }, { workers: 2.5 }, { balancer: 'random' }, { readyWhen: 'soon' },
  { startTimeout: -1 }, { startTimeout: 2 ** 31 }, { restart: { minDelay: 'fast' } }, { restart: { retries: 3 } },
  { crashLoop: { maxCrashes: 0 } }, { env: { PORT: 8000 } }, { execArgv: '--inspect' }, { reloadConcurrency: 0 },
  { name: 'my app' }, { serialization: 'v8' }, { silent: 'yes' }, { maxServersPerWorker: 0 },
  { reportInterval: 50 }, { reportInterval: -1 },
  { balancer: 'sticky', stickyHeader: 'x-forwarded-for', stickyProxyHops: 0 }, { balancer: 'sticky', stickyHeader: 'x-forwarded-for', stickyProxyHops: 1.5 },
  { balancer: 'sticky', stickyHeader: 'x-forwarded-for', stickyProxyHops: '2' },
  { killSignal: 'SIGKILL' }, { killSignal: 15 },
];

test('configs the schema accepts, corral accepts; configs it refuses, corral refuses', () => {
  for (const config of valid) {
    assert.equal(validate(config), true, `schema accepts ${JSON.stringify(config)}: ${JSON.stringify(validate.errors)}`);
    assert.equal(corralAccepts(config), true, `corral accepts ${JSON.stringify(config)}`);
  }
  for (const config of invalid) {
    assert.equal(validate(config), false, `schema refuses ${JSON.stringify(config)}`);
    assert.equal(corralAccepts(config), false, `corral refuses ${JSON.stringify(config)}`);
  }
});

test('the schema takes env_<profile> blocks and several apps, each with the keys of one', () => {
  for (const config of [
    { env_production: { NODE_ENV: 'production' } },
    { apps: [{ name: 'api', exec: './api.js', workers: 2, env_staging: { A: 'b' } }, { name: 'jobs', exec: './jobs.js', logFile: true }] },
    { $schema: './corral.config.schema.json', apps: [{ exec: './api.js' }] },
  ]) assert.equal(validate(config), true, `schema accepts ${JSON.stringify(config)}: ${JSON.stringify(validate.errors)}`);
  for (const config of [
    { apps: [] }, { apps: [{ wokers: 2 }] }, { apps: [{ apps: [] }] }, { env_production: { PORT: 1 } }, { 'env_': {} }, { apps: {} },
  ]) assert.equal(validate(config), false, `schema refuses ${JSON.stringify(config)}`);
});
