// Runs every compiled test file with node's test runner, one file at a time (the integration
// tests start many processes; the machine has 2 cores).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const dir = new URL('../build/test/', import.meta.url);
const files = readdirSync(dir).filter((name) => name.endsWith('.test.js')).sort().map((name) => new URL(name, dir).pathname);
console.log(`node ${process.version}: ${files.length} test files`);
// What the suite fetches beyond `npm install`, said before it starts (README, Development).
console.log('downloads, each once and only if missing: Node.js 20.18.3 from the npm registry into .cache/ (module-forms: the error on an old Node); ' +
  "typescript and @types/node into a temporary project (package: from the npm cache, else the registry); Debian's systemd package " +
  'through apt-get when systemd-analyze is missing (startup); ' +
  "Debian's prometheus, chromium, tmux, systemd and python3-minimal packages through apt-get when missing " +
  '(metrics, dashboard, monit, systemd-notify)');
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exitCode = result.status ?? 1;
