#!/usr/bin/env node
// The `corral` command. The Node version is checked first, through require() so that the error
// can be caught synchronously: on an unsupported Node, print just its message.
import { createRequire } from 'node:module';

try {
  createRequire(import.meta.url)('../dist/support/node-version.cjs');
} catch (error) {
  if (error?.code !== 'CORRAL_ERR_UNSUPPORTED_NODE') throw error;
  process.stderr.write(`corral: ${error.message}\n`);
  process.exit(1);
}
const { run } = await import('../dist/cli/main.js');
process.exitCode = await run(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
});
