// Tools some tests drive (promtool, prometheus, chromium, tmux, systemd's, python3) and the old
// Node.js release of the unsupported-Node test. `npm run setup:tools` installs them; `npm test`
// installs nothing: a test whose tool is missing fails, naming it and that command. It never
// skips silently.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SETUP = 'npm run setup:tools';

/** Asserts that `command` is on the PATH (from Debian's `debianPackage`), for `why`. */
export function requireTool(command: string, debianPackage: string, why: string): void {
  const found = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', command], { encoding: 'utf8' }).status === 0;
  assert.ok(found, `${why} needs '${command}' (Debian's '${debianPackage}'), which is not installed: run \`${SETUP}\` (or \`sudo apt-get install -y ${debianPackage}\`)`);
}

/** The `node` binary of a Node.js release that `npm run setup:tools` put into .cache/, for `why`. */
export function cachedNode(version: string, why: string): string {
  const binary = fileURLToPath(new URL(`../../../.cache/node-${version}/node_modules/.bin/node`, import.meta.url));
  assert.ok(existsSync(binary), `${why} needs Node.js ${version} in .cache/, which is not there: run \`${SETUP}\``);
  const version_ = execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
  assert.equal(version_, `v${version}`, `${binary} is ${version_}: delete .cache/node-${version}/ and run \`${SETUP}\``);
  return binary;
}
