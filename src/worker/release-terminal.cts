/**
 * Lets go of a terminal that hung up. Node restores a terminal's settings when the process exits,
 * and on Node 20 (and 22 before the fix of nodejs/node#58200) it aborts (SIGABRT) when that fails
 * because the terminal is gone: the primary and every worker would end in a crash instead of their
 * exit code. Standard descriptors that are terminals are pointed at /dev/null instead (closing one
 * and opening /dev/null reuses its number), which Node then leaves alone, and later writes go
 * nowhere instead of failing with EIO. Used by the primary on its terminal's hangup, and by the
 * worker runtime when the primary says so.
 */
import fs = require('node:fs');
import tty = require('node:tty');

/**
 * Which standard descriptors are terminals, noted when this module loads (at process start):
 * once the terminal hangs up, isatty() says false for them.
 */
const TERMINAL_FDS = [0, 1, 2].filter((fd) => tty.isatty(fd));

function releaseTerminal(): void {
  for (const fd of TERMINAL_FDS) {
    try {
      fs.closeSync(fd);
    } catch {
      continue; // Closed already.
    }
    const reopened = fs.openSync('/dev/null', fd === 0 ? 'r' : 'w');
    // Lower descriptors are all open (this goes in order), so /dev/null gets `fd`; if it did not,
    // keep nothing extra open.
    if (reopened !== fd) fs.closeSync(reopened);
  }
}

export = releaseTerminal;
