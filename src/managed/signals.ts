/**
 * What each signal does to a managed cluster, in one place. `corral start` installs these;
 * library users may call `handleSignals(cluster)` themselves.
 *
 *   SIGTERM   graceful shutdown (shutdown.ts): docker stop, systemctl stop, `corral stop`
 *   SIGINT    the same (Ctrl-C); a second SIGINT forces the stop: SIGKILL to every worker
 *   SIGHUP    zero-downtime rolling reload (rolling-reload.ts); those during a reload make one
 *             more reload after it, so the cluster always ends on the newest code. The hangup of
 *             the primary's terminal (terminal-hangup.ts) is not a reload: as a shell's job, the
 *             cluster shuts down gracefully if its output went to that terminal; if its output
 *             goes elsewhere (`nohup`, `> app.log`), it was meant to outlive the terminal and
 *             keeps running.
 *   SIGTTIN   one more worker (scaling.ts)
 *   SIGTTOU   one worker less (never below one)
 *   SIGUSR1   reopens the log files (`onReopenLogs`), as nginx and logrotate's postrotate expect.
 *             Never Node's default here: that opens the inspector on 127.0.0.1:9229, through
 *             which any local user could run code in the primary, with its user's rights.
 *   SIGUSR2   reserved for upgrading the primary in place; until then it is said and ignored
 *             (Node's default would end the primary and every worker at once, with no drain).
 *
 * The listeners for SIGUSR1 and SIGUSR2 stay for the life of the process, even after the
 * function returned here is called: with none, Node would go back to its defaults above.
 *
 * Workers share the primary's process group, as under node:cluster, so a terminal's Ctrl-C and
 * systemd's KillMode=control-group signal them too: their runtime (src/worker/runtime.cts) then
 * drains each of them the same way, so the result does not depend on who got the signal. Their
 * runtime ignores SIGHUP: what a hangup means is the primary's decision (above).
 */
import { OperationCancelledError, type ReloadFailedError } from '../errors.js';
import type { ManagedCluster, ReloadResult, ScaleResult } from './managed-cluster.js';
import type { ShutdownResult } from './shutdown.js';
import { TerminalWatch } from './terminal-hangup.js';

export type SignalAction = 'shutdown' | 'force' | 'reload' | 'scale-up' | 'scale-down' | 'hangup' | 'detach' | 'reopen-logs' | 'upgrade';

export interface SignalHandlers {
  /** A signal arrived and `action` begins (for logging). */
  onSignal?: (signal: NodeJS.Signals, action: SignalAction) => void;
  /** The shutdown finished (for exiting the process). */
  onShutdown?: (result: ShutdownResult) => void;
  /** A signal's reload or scaling failed (its error also reaches the cluster's events). */
  onError?: (error: Error, action: SignalAction) => void;
  /** SIGUSR1: reopen the log files (a log rotation moved them away). */
  onReopenLogs?: () => void;
}

/** Keeps Node's own actions for SIGUSR1 (the inspector) and SIGUSR2 (the end of the process) away for good. */
export function guardUserSignals(): void {
  for (const signal of ['SIGUSR1', 'SIGUSR2'] as const) {
    if (!process.listeners(signal).includes(ignoreSignal)) process.on(signal, ignoreSignal);
  }
}

function ignoreSignal(): void {}

/** Installs the handlers above; returns a function that removes them. */
export function handleSignals(cluster: ManagedCluster, handlers: SignalHandlers = {}): () => void {
  let lastReload: Promise<ReloadResult> | undefined;
  const act = (signal: NodeJS.Signals, action: SignalAction): void => {
    handlers.onSignal?.(signal, action);
    const fail = (error: unknown): void => {
      // A reload or scaling that a stop overtook is not a failure: the stop's result lists it (`cancelled`).
      if (error instanceof OperationCancelledError) return;
      handlers.onError?.(error instanceof Error ? error : new Error(String(error)), action);
    };
    switch (action) {
      case 'detach':
      case 'upgrade':
        break;
      case 'reopen-logs':
        handlers.onReopenLogs?.();
        break;
      case 'hangup':
      case 'shutdown':
        cluster.close().then((result) => handlers.onShutdown?.(result), fail);
        break;
      case 'force':
        cluster.close({ force: true }).catch(fail);
        break;
      case 'reload': {
        const reload = cluster.reload();
        // Signals that joined a queued reload share its outcome: report a failure once.
        if (reload === lastReload) return;
        lastReload = reload;
        reload.then((result: ReloadResult) => result, (error: ReloadFailedError) => fail(error));
        break;
      }
      case 'scale-up':
      case 'scale-down':
        cluster.scale(action === 'scale-up' ? '+1' : '-1').then((result: ScaleResult) => result, fail);
        break;
    }
  };
  let interrupts = 0;
  const terminal = new TerminalWatch();
  const outputOnTerminal = process.stdout.isTTY || process.stderr.isTTY;
  const listeners: Partial<Record<NodeJS.Signals, () => void>> = {
    SIGTERM: () => act('SIGTERM', 'shutdown'),
    SIGINT: () => act('SIGINT', ++interrupts > 1 ? 'force' : 'shutdown'),
    SIGHUP: () => {
      if (!terminal.isHangup()) {
        act('SIGHUP', 'reload');
        return;
      }
      cluster.releaseTerminal();
      act('SIGHUP', outputOnTerminal ? 'hangup' : 'detach');
    },
    SIGTTIN: () => act('SIGTTIN', 'scale-up'),
    SIGTTOU: () => act('SIGTTOU', 'scale-down'),
    SIGUSR1: () => act('SIGUSR1', 'reopen-logs'),
    SIGUSR2: () => act('SIGUSR2', 'upgrade'),
  };
  guardUserSignals();
  for (const [signal, listener] of Object.entries(listeners)) process.on(signal, listener);
  return () => {
    for (const [signal, listener] of Object.entries(listeners)) process.off(signal, listener);
  };
}
