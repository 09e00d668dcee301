/**
 * Telling a terminal's hangup from an operator's SIGHUP. Both arrive as SIGHUP, but after a hangup
 * the process has lost its controlling terminal: opening /dev/tty fails. (Node resets the SIG_IGN
 * that `nohup` sets before it runs any JavaScript, so nohup cannot be relied on to keep the
 * signal away.) A process that never had a terminal (systemd, a container, `setsid`) gets SIGHUP
 * only from someone who means it.
 */
import { closeSync, openSync } from 'node:fs';

export function hasControllingTerminal(): boolean {
  try {
    closeSync(openSync('/dev/tty', 'r'));
    return true;
  } catch {
    return false;
  }
}

export class TerminalWatch {
  #attached = hasControllingTerminal();

  /** A SIGHUP arrived: whether it is the hangup of the terminal this process had until now. */
  isHangup(): boolean {
    if (!this.#attached) return false;
    this.#attached = hasControllingTerminal();
    return !this.#attached;
  }
}
