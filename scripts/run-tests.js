// Runs every compiled test file with node's test runner, one file at a time (the integration
// tests start many processes; the machine has 2 cores), each in its own `node --test`, so that
// the end can say how long each file took and which failed.
//   node scripts/run-tests.js [name-part ...]   (only the files whose names contain a part)
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const dir = new URL('../build/test/', import.meta.url);
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((name) => name.endsWith('.test.js') && (only.length === 0 || only.some((part) => name.includes(part))))
  .sort();
if (files.length === 0) {
  console.error(`no test file matches ${only.join(', ')}: the files are build/test/*.test.js`);
  process.exit(2);
}
console.log(`node ${process.version}: ${files.length} test files`);
// The suite installs nothing (README, Development): the tools it drives come from `npm run
// setup:tools`; only the package test installs, the packed tarball and TypeScript, into a
// temporary project.
console.log('tools (prometheus, chromium, tmux, systemd, python3, Node.js 20.18.3) come from `npm run setup:tools`; ' +
  'a test whose tool is missing fails and says so');

const times = [];
const suiteStart = performance.now();
for (const name of files) {
  const start = performance.now();
  const result = spawnSync(process.execPath, ['--test', new URL(name, dir).pathname], { stdio: 'inherit' });
  times.push({ name, ms: performance.now() - start, passed: result.status === 0 });
}
const total = performance.now() - suiteStart;
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`.padStart(8);

console.log(`\ntime per test file (node ${process.version}), slowest first:`);
for (const { name, ms, passed } of [...times].sort((a, b) => b.ms - a.ms)) {
  console.log(`${seconds(ms)}  ${passed ? '    ' : 'FAIL'}  ${name}`);
}
const failed = times.filter((entry) => !entry.passed);
console.log(`${seconds(total)}  in all, ${files.length} files; ${failed.length === 0 ? 'every file passed' : `${failed.length} failed: ${failed.map((entry) => entry.name).join(', ')}`}`);
process.exitCode = failed.length === 0 ? 0 : 1;
