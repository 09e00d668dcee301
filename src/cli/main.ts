/** The `corral` command. This release only prints usage; the full CLI is planned. */
// First: on an unsupported Node this throws one clear error (bin/corral.js prints its message).
import '../support/node-version.cjs';
import { readFileSync } from 'node:fs';

export const USAGE = `Usage: corral <command>

corral runs a Node.js service on every core. Use it from code:

  import cluster from 'corral'            // node:cluster's API, corral's primary
  const cluster = require('corral')       // the same object from CommonJS
  import { createCluster } from 'corral'  // supervised cluster with restarts

Commands:
  help, --help, -h       print this help
  version, --version     print the version

The command-line runner (corral start app.js) is not in this release.
`;

export interface CliOutput {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** Runs the command; returns the exit code. Errors and usage after an error go to `err`. */
export function run(argv: readonly string[], { out, err }: CliOutput): number {
  const [command] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    out(USAGE);
    return 0;
  }
  if (command === 'version' || command === '--version' || command === '-v') {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    out(`${pkg.version}\n`);
    return 0;
  }
  err(`corral: unknown command '${command}'. Run 'corral --help' for the commands.\n\n${USAGE}`);
  return 2;
}
