#!/usr/bin/env node
'use strict';
// First of all: Node's default for SIGUSR1 opens the inspector on 127.0.0.1:9229, through which
// any local user could run code in this process (an app's primary, often root), and operators
// send USR1 by habit to reopen logs. A listener of our own keeps it closed from the first moment
// for the life of the process; SIGUSR2's default (ending the process, and with a primary every
// worker undrained) likewise. `corral start` gives both their meaning (src/managed/signals.ts).
process.on('SIGUSR1', () => {});
process.on('SIGUSR2', () => {});
// The `corral` command. CommonJS, and the CLI is one bundled file (scripts/bundle-cli.js): this
// process is the app's primary for as long as the app runs, and Node's ES module loader alone
// would add about 2 MiB to it. The Node version is checked first, then that this is Node.js and
// not Bun or Deno (as the bundle loads): on either, print just the message.
let cli;
try {
  require('../dist/support/node-version.cjs');
  cli = require('../dist/cli/bundle.cjs');
} catch (error) {
  if (error?.code !== 'CORRAL_ERR_UNSUPPORTED_NODE' && error?.code !== 'CORRAL_ERR_UNSUPPORTED_RUNTIME') throw error;
  process.stderr.write(`corral: ${error.message}\n`);
  process.exit(1);
}
// Once the command is done, the process ends as soon as its output is written: a `--primary`
// module of `corral start` may hold servers and timers of its own, which must not keep a
// stopped app's primary alive. ProcessOutput keeps the primary alive when stdout or stderr
// closes under it (EPIPE).
const output = new cli.ProcessOutput(process.stdout, process.stderr);
cli.run(process.argv.slice(2), output).then((code) => {
  process.exitCode = code;
  output.flush().then(() => process.exit(code));
});
