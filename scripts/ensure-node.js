// Installs a given Node.js release from the npm registry's `node` package into
// .cache/node-<version>/ (beside the project, never into it) unless it is there already, and
// prints the path of its `node` binary. CI uses it for every Node line it tests; the test of
// corral's clear error on an unsupported Node uses it for an old release.
//   node scripts/ensure-node.js 22.23.3
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const version = process.argv[2];
if (version === undefined || !/^\d+\.\d+\.\d+$/.test(version)) {
  process.stderr.write('usage: node scripts/ensure-node.js <major.minor.patch>, for example 22.23.3\n');
  process.exit(2);
}
const prefix = fileURLToPath(new URL(`../.cache/node-${version}/`, import.meta.url));
const binary = `${prefix}node_modules/.bin/node`;
if (!existsSync(binary)) {
  mkdirSync(prefix, { recursive: true });
  process.stderr.write(`ensure-node: downloading Node.js ${version} (the npm registry's node@${version}, about 30 MB) into ${prefix}, once\n`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  execFileSync(npm, ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--no-save', '--loglevel=error', `node@${version}`], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
const actual = execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
if (actual !== `v${version}`) {
  process.stderr.write(`ensure-node: ${binary} is ${actual}, expected v${version}; delete ${prefix} and try again\n`);
  process.exit(1);
}
process.stdout.write(`${binary}\n`);
