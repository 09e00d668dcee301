// `npm run test:next`: docs/frameworks.md's Next.js recipes (test/opt-in/next-recipes.test.ts),
// outside the default suite. Next.js, React and Next.js's compiler (342 MB; the build needs no
// network) are installed once into $TMPDIR/corral-next-recipes-<version>/ (outside this repository),
// which is the project the recipes run in.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const VERSIONS = { next: '16.4.6', react: '19.3.1', 'react-dom': '19.3.1' };
// Outside this repository: Next.js takes the topmost lockfile's directory for the project's root.
const project = path.join(os.tmpdir(), `corral-next-recipes-${VERSIONS.next}`, path.sep);
const installed = Object.entries(VERSIONS).every(([name, version]) => {
  const manifest = `${project}node_modules/${name}/package.json`;
  return existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).version === version;
});
if (!installed) {
  mkdirSync(project, { recursive: true });
  writeFileSync(`${project}package.json`, `${JSON.stringify({ name: 'corral-next-recipes', private: true }, null, 2)}\n`);
  process.stderr.write(`test-next: installing ${Object.entries(VERSIONS).map(([name, version]) => `${name}@${version}`).join(' ')} (342 MB) into ${project}, once\n`);
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--save-exact', '--loglevel=error', ...Object.entries(VERSIONS).map(([name, version]) => `${name}@${version}`)], {
    cwd: project, stdio: ['ignore', 'ignore', 'inherit'],
  });
}
const test = fileURLToPath(new URL('../build/test/opt-in/next-recipes.test.js', import.meta.url));
const result = spawnSync(process.execPath, ['--test', test], { stdio: 'inherit', env: { ...process.env, CORRAL_NEXT_PROJECT: project } });
process.exitCode = result.status ?? 1;
