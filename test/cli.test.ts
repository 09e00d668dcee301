// The `corral` bin: usage, version, and the errors of `corral start`'s flags and config file, each
// naming the flag or key, the bad value and what is allowed; errors go to stderr.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { startOptions } from './helpers/internals.js';
import { runCommand } from './helpers/program.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const APP = path.join(dir, 'app.js');
writeFileSync(APP, "require('node:http').createServer((q, s) => s.end('ok')).listen(0);\n");
const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: dir, timeout: 20_000 });

test('corral --help prints usage and exits 0', () => {
  const result = run('--help');
  assert.equal(result.status, 0);
  assert.match(result.stdout, /^Usage: corral/);
});

test('corral --version prints the package version', () => {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(run('--version').stdout.trim(), version);
});

test('an unknown command exits 2 and names it on stderr, with nothing on stdout', () => {
  const result = run('frobnicate');
  assert.equal(result.status, 2);
  assert.match(result.stderr, /^corral: unknown command 'frobnicate'\. Run 'corral --help'/);
  assert.equal(result.stdout, '');
});

test('corral start --help prints its options; help after -- belongs to the app', () => {
  const result = run('start', '--help');
  assert.equal(result.status, 0);
  assert.match(result.stdout, /^Usage: corral start <script>/);
  assert.match(result.stdout, /--instances <N\|max\|-N>/);
});

const startErrors: [string, string[], number, RegExp][] = [
  ['no script', [], 2, /^corral start: no script to run\. Give one \(corral start server\.js\), or an `exec` in corral\.config\.mjs\./],
  ['an unknown flag', [APP, '--wokers', '2'], 2, /^corral start: Unknown option '--wokers'.*\nRun 'corral start --help' for its options\./s],
  ['a bad instance count', [APP, '-i', 'lots'], 2, /^corral: --instances must be a whole number from 1 to 1024, 'auto' or 'max', or -N, got 'lots'/],
  ['a bad balancer', [APP, '--balancer', 'random'], 2, /^corral: --balancer must be one of 'round-robin', 'least-connections', 'sticky', 'shared', 'reuseport', or a balancer of your own \({ name, createStrategy }\), got 'random'/],
  ['a bad readiness', [APP, '--ready', 'soon'], 2, /^corral: --ready must be one of 'listening', 'online', 'manual', got 'soon'/],
  ['a bad timeout', [APP, '--shutdown-timeout', '10s'], 2, /^corral: --shutdown-timeout must be a finite number ≥ 0, got '10s'/],
  ['a malformed --env', [APP, '--env', '=production'], 2, /^corral: --env takes KEY=VALUE, or KEY alone to pass on the value KEY has in corral's environment; got '=production' \(string\)\. For example --env NODE_ENV=production\./],
  ['--env KEY alone, not set in corral\'s environment', [APP, '--env', 'CORRAL_TEST_NEVER_SET'], 2, /^corral: --env takes KEY=VALUE, or KEY alone .*; got 'CORRAL_TEST_NEVER_SET' \(string\), which is not set in corral's environment to pass on, nor is CORRAL_ENV_CORRAL_TEST_NEVER_SET\. For example/],
  ['PM2\'s --env <profile>', [APP, '--env', 'production'], 2, /^corral: --env takes KEY=VALUE, or KEY alone .*; got 'production' \(string\), which is not set in corral's environment to pass on, nor is CORRAL_ENV_production \(PM2's '--env production' picks the env_production block of its ecosystem file: here that is --profile production; --env sets one variable, e.g. --env NODE_ENV=production\)/],
  ['a bad log prefix', [APP, '--log-prefix', 'name'], 2, /^corral: --log-prefix: expected 'slot' or 'pid', got 'name'/],
  ['an inspector port Node refuses', [APP, '--node-args', '--inspect=127.0.0.1:80'], 2, /^corral: --node-args must be Node options whose inspector port is 0 or from 1024 to 65535 \(as Node requires\), got '--inspect=127\.0\.0\.1:80' \(string\)\. Give it a port such as 9229: the worker in each slot listens on that port \+ slot \+ 1\./],
  ['a missing script', [path.join(dir, 'missing.js')], 1, /^corral start: .*missing\.js: no such file \(looked for .*missing\.js\)\. Give the path of the app's script, relative to /],
  ['a missing config file', [APP, '--config', 'nope.json'], 2, /^corral: --config nope\.json: no such file/],
];
for (const [what, args, code, message] of startErrors) {
  test(`corral start with ${what} exits ${code} and says what is wrong`, () => {
    const result = run('start', ...args);
    assert.equal(result.status, code, result.stderr);
    assert.match(result.stderr, message);
    assert.equal(result.stdout, '');
  });
}

test('config file errors name the file, the key, the bad value and what is allowed', () => {
  const cases: [string, string, RegExp][] = [
    ['corral.config.json', '{ "wokers": 2 }', /^corral: corral\.config\.json: unknown key `wokers`\. The known keys are name, exec, .*workers.*\. Remove it or correct its spelling\./],
    ['corral.config.json', '{ "shutdownTimeout": "10s" }', /^corral: corral\.config\.json: shutdownTimeout must be a finite number ≥ 0, got '10s'/],
    ['corral.config.json', '{ "crashLoop": { "maxCrashes": 0 } }', /^corral: corral\.config\.json: crashLoop\.maxCrashes must be a whole number ≥ 1, got `0`/],
    ['corral.config.json', '{ workers: 2 }', /^corral: corral\.config\.json is not valid JSON/],
    ['corral.config.mjs', 'export default [1, 2];', /^corral: corral\.config\.mjs must export an object of options .* got \[ 1, 2 \]|got an array/],
  ];
  for (const [name, content, message] of cases) {
    const file = path.join(dir, name);
    writeFileSync(file, content);
    try {
      const result = run('start', APP);
      assert.equal(result.status, 2, `${name} ${content}: ${result.stderr}`);
      assert.match(result.stderr, message);
    } finally {
      rmSync(file);
    }
  }
});

// A user of `corral start` wrote flags: errors and log lines say those, never createCluster()'s
// option keys (`workers`, maxMemory, startTimeout), which the user never wrote.
const KEYS_WITH_FLAGS = startOptions.KEY_FLAGS.map((flag) => flag.key);
const apiWords = (text: string): string[] => KEYS_WITH_FLAGS.filter((key) =>
  text.includes(`\`${key}\``) || new RegExp(`\\b${key}: '`).test(text) || (/[A-Z]/.test(key) && new RegExp(`(?<![\\w.-])${key}(?!\\w)`).test(text)));

test("every flag's bad value is said with the flag, and the other options it names by their flags", () => {
  const cases: [string[], string][] = [
    [['-i', 'lots'], '--instances'], [['--balancer', 'random'], '--balancer'], [['--sticky-header', 'x-forwarded-for'], '--sticky-header'],
    [['--sticky-proxy-hops', '2'], '--sticky-proxy-hops'], [['--balancer', 'sticky', '--sticky-header', 'x-custom', '--sticky-proxy-hops', '2'], '--sticky-proxy-hops'],
    [['--admin', 'nope'], '--admin'], [['--cwd', path.join(dir, 'no-such-dir')], '--cwd'], [['--instance-var', 'CORRAL_SLOT'], '--instance-var'],
    [['--name', 'all'], '--name'], [['--serialization', 'v8'], '--serialization'], [['--ready', 'soon'], '--ready'],
    [['--start-timeout', '-1'], '--start-timeout'], [['--shutdown-timeout', '10s'], '--shutdown-timeout'], [['--shutdown-delay', 'soon'], '--shutdown-delay'],
    [['--max-message-size', '-1'], '--max-message-size'], [['--hang-timeout', '100'], '--hang-timeout'], [['--max-memory', '5x'], '--max-memory'],
    [['--max-memory-hard', '1M', '--max-memory', '2M'], '--max-memory-hard'], [['--max-memory-of', 'vsz'], '--max-memory-of'],
    [['--max-requests', '1.5'], '--max-requests'], [['--max-requests-jitter', '5'], '--max-requests-jitter'], [['--max-age', '10'], '--max-age'],
    [['--max-age-jitter', '5'], '--max-age-jitter'], [['--log-max-size', 'big'], '--log-max-size'],
  ];
  for (const [args, flag] of cases) {
    const result = run('start', APP, ...args);
    assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, new RegExp(`^corral: ${flag} must be `), args.join(' '));
    assert.deepEqual(apiWords(result.stderr), [], `${args.join(' ')}: ${result.stderr}`);
  }
  // Other options in the message, by their flags: the fix the user can type.
  assert.match(run('start', APP, '--sticky-proxy-hops', '2').stderr, /Add --balancer sticky and --sticky-header x-forwarded-for, or leave --sticky-proxy-hops out\./);
  assert.match(run('start', APP, '--max-requests-jitter', '5').stderr, /must be 0 while --max-requests is off, got `5` \(number\)\. Set --max-requests too, or remove --max-requests-jitter\./);
});

test("a worker that fails to start: the log lines name --start-timeout and --ready, not startTimeout and readyWhen", { timeout: 60_000 }, async () => {
  const idle = path.join(dir, 'idle.js');
  writeFileSync(idle, 'setInterval(() => {}, 1000);\n');
  const env = { NODE_OPTIONS: '', CORRAL_RUN_DIR: path.join(dir, 'run'), CORRAL_LOG_DIR: path.join(dir, 'logs') };
  const result = await runCommand(BIN, ['start', idle, '-i', '1', '--start-timeout', '300'], { cwd: dir, env });
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stderr, /did not listen on a port within 300 ms \(--start-timeout\), so corral stopped it\. Raise --start-timeout if the app needs longer to start, or use --ready online if it serves no port\./);
  assert.deepEqual(apiWords(result.stderr), [], result.stderr);
});
