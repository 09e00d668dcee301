// Tools some tests drive (promtool, prometheus, chromium, tmux), installed from Debian's packages
// by scripts/ensure-tool.sh when missing. A test that cannot have its tool fails and says which,
// and how to install it: it never skips silently.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ENSURE_TOOL = fileURLToPath(new URL('../../../scripts/ensure-tool.sh', import.meta.url));

export function ensureTool(command: string, debianPackage: string, why: string): void {
  const result = spawnSync('bash', [ENSURE_TOOL, command, debianPackage], { encoding: 'utf8', timeout: 600_000 });
  assert.equal(result.status, 0, `${why} needs '${command}' (Debian's '${debianPackage}'), which could not be installed: ${result.stderr}`);
}
