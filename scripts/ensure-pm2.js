// Installs PM2, the benchmark's peer, into .cache/pm2-<version>/ (beside the project, never into
// it: corral does not depend on PM2) unless it is there already, and prints the path of its CLI.
//   node scripts/ensure-pm2.js 7.0.4
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const version = process.argv[2] ?? '7.0.4';
const prefix = fileURLToPath(new URL(`../.cache/pm2-${version}/`, import.meta.url));
const cli = `${prefix}node_modules/pm2/bin/pm2`;
if (!existsSync(cli)) {
  mkdirSync(prefix, { recursive: true });
  process.stderr.write(`ensure-pm2: downloading pm2@${version} from the npm registry into ${prefix}, once (the benchmark's peer)\n`);
  execFileSync('npm', ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--no-save', '--loglevel=error', `pm2@${version}`], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
process.stdout.write(`${cli}\n`);
