/** Whether workers can run a TypeScript app, and what to say when they cannot. */
import { CliError, EXIT } from './exit-codes.js';

export const TYPESCRIPT_EXTENSIONS = ['.ts', '.mts', '.cts'] as const;

/** Node strips types by default from 22.18 (and 23.6); `process.features.typescript` says so. */
export function supportsTypeScript(execArgv: readonly string[] = process.execArgv): boolean {
  const features = process.features as { typescript?: string | false };
  if (features.typescript !== undefined && features.typescript !== false) return true;
  return execArgv.some((arg) => /^--(experimental-strip-types|experimental-transform-types)$/.test(arg));
}

/**
 * Refuses a TypeScript app that this Node cannot run, unless the workers get a loader through
 * --node-args (--import tsx, --require ts-node/register, --experimental-strip-types…).
 */
export function checkTypeScriptApp(script: string, nodeArgs: readonly string[]): void {
  if (!TYPESCRIPT_EXTENSIONS.some((extension) => script.endsWith(extension))) return;
  if (supportsTypeScript(nodeArgs) || supportsTypeScript()) return;
  if (nodeArgs.some((arg) => /^--(import|require|loader|experimental-loader)\b|^-r$/.test(arg))) return;
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const hint = major > 22 || (major === 22 && minor >= 6)
    ? 'add --node-args "--experimental-strip-types", or use Node.js 22.18 or later, which runs .ts files as they are'
    : 'use Node.js 22.18 or later, which runs .ts files as they are, or give the workers a loader, e.g. --node-args "--import tsx"';
  throw new CliError(`corral: cannot run ${script}: Node.js ${process.versions.node} does not run TypeScript files. ` +
    `To run it, ${hint}. Or compile it to JavaScript and start that.`, EXIT.APP_FAILED);
}
