/**
 * The Node.js versions corral supports, checked first by every entry point (`import`, `require`
 * and the CLI) so that an older Node fails with one clear message instead of `ERR_REQUIRE_ESM`
 * or a stack trace from deep inside.
 *
 * corral is one ES module. `require('corral')` loads that same module through Node's
 * require(esm), which is what keeps a single primary per process; require(esm) is enabled by
 * default from Node 20.19 and 22.12 (and in every release of 23 and later).
 *
 * This file is CommonJS so that `require()` can load it on any Node, including the ones it
 * refuses.
 */

/** The supported range, as in package.json `engines`. */
const SUPPORTED_NODE_RANGE = '^20.19.0 || >=22.12.0';

/**
 * Thrown on load of any entry point on an unsupported Node. Not exported: nothing can use corral
 * on such a Node, so code branches on `error.code === 'CORRAL_ERR_UNSUPPORTED_NODE'` if at all.
 */
class UnsupportedNodeError extends Error {
  readonly code = 'CORRAL_ERR_UNSUPPORTED_NODE' as const;
  readonly version: string;

  constructor(version: string) {
    super(
      `corral needs Node.js 20.19 or later on the 20 line, or 22.12 or later (${SUPPORTED_NODE_RANGE}); ` +
      `this is Node.js ${version}. Upgrade Node.js, for example to the current LTS ` +
      '(`nvm install --lts`, or your platform\'s package).',
    );
    Object.defineProperty(this, 'name', { value: 'UnsupportedNodeError', configurable: true, writable: true });
    this.version = version;
    // Uncaught, Node prints the stack: keep it to the message, since frames inside corral's
    // loader say nothing the message does not.
    this.stack = `${this.name}: ${this.message}`;
  }

  // The brand CorralError's instanceof checks (errors.ts), so that
  // `error instanceof CorralError` holds for this error too.
  get [Symbol.for('corral.error')](): true {
    return true;
  }
}

/** Whether corral supports this Node version (a `process.versions.node` string). */
function isSupportedNode(version: string): boolean {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (match === null) return false;
  const major = Number(match[1]);
  const minor = Number(match[2]);
  if (major === 20) return minor >= 19;
  if (major === 22) return minor >= 12;
  return major > 22;
}

if (!isSupportedNode(process.versions.node)) throw new UnsupportedNodeError(process.versions.node);

export = { SUPPORTED_NODE_RANGE, UnsupportedNodeError, isSupportedNode };
