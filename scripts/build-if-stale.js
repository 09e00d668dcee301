// `npm start`: builds only when a source is newer than the last build (a fresh checkout, or an
// edit), so that starting the example does not cost a full build each time.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const stamp = `${root}build/.built`;
const INPUTS = ['src', 'examples', 'test', 'bench', 'scripts', 'package.json', 'tsconfig.base.json', 'tsconfig.build.json', 'tsconfig.test.json'];

/** The newest modification time under `path`, in ms. */
function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = stat.mtimeMs;
  for (const entry of readdirSync(path)) {
    if (entry === 'node_modules' || entry.startsWith('.')) continue;
    latest = Math.max(latest, newest(`${path}/${entry}`));
  }
  return latest;
}

if (process.argv.includes('--stamp')) {
  // The end of `npm run build`: whatever ran it (npm install's prepare, npm test), the build is current.
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
  process.exit(0);
}

const built = existsSync(stamp) && existsSync(`${root}dist`) ? statSync(stamp).mtimeMs : -Infinity;
const changed = INPUTS.filter((input) => existsSync(`${root}${input}`)).some((input) => newest(`${root}${input}`) > built);
if (changed) {
  execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
}
