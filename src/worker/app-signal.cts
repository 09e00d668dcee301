/**
 * The app's own stop signal handler, inside a worker (issue 26). Production apps end their life
 * in a SIGTERM or SIGINT handler: NestJS's shutdown hooks, OpenTelemetry's last export, a queue
 * consumer finishing its job, `fastify.close()` ending websockets. Kubernetes, PM2 (`kill_signal`)
 * and node:cluster's `worker.kill()` all send one; a worker corral drains gets it too, once its
 * servers stop accepting, and corral then lets the process end by itself (the handler exits, or
 * the event loop empties) instead of calling process.exit() under a handler still at work.
 *
 * corral's runtime listens for SIGTERM, SIGINT and SIGHUP itself, so "the app listens" means a
 * listener that is not one of corral's.
 */
import cluster = require('node:cluster');


/** The listeners corral's runtime installed, told apart from the app's. */
const own = new Map<(...args: unknown[]) => void, NodeJS.Signals>();

const appSignal = {
  /** Installs `listener` for `signal` as corral's own: it does not count as the app listening. */
  listen(signal: NodeJS.Signals, listener: () => void): void {
    own.set(listener, signal);
    process.on(signal, listener);
  },

  /** Whether the app (or a library it loaded) listens for `signal`. */
  appListens(signal: NodeJS.Signals): boolean {
    return process.listeners(signal).some((listener) => !own.has(listener as (...args: unknown[]) => void));
  },

  /**
   * Takes corral's own SIGTERM and SIGINT listeners away: from now on those signals do what they
   * do in plain Node, the app's listeners or Node's default. An app that re-raises its signal to
   * die of it, once its cleanup is done, dies of it; a second Ctrl-C reaches the app.
   */
  standDown(): void {
    for (const [listener, signal] of own) {
      if (signal !== 'SIGTERM' && signal !== 'SIGINT') continue;
      process.off(signal, listener);
      own.delete(listener);
    }
  },

  /** Sends `signal` to this process: the app's listeners run as for a signal from outside. */
  raise(signal: NodeJS.Signals): void {
    process.kill(process.pid, signal);
  },

  /**
   * Lets go of what keeps this process alive on corral's behalf: the channel to the primary. It
   * goes through node:cluster's documented `worker.disconnect()`, which tells the primary first,
   * so that Node's worker half does not take the channel's close for its primary's death (and
   * call process.exit()). Then the process ends when the app lets it: its handler exits, or its
   * event loop empties; the primary SIGKILLs it at the drain's deadline otherwise.
   */
  release(): void {
    // node:cluster's CommonJS export is the cluster object (its types describe the ES module face).
    const { worker } = cluster as unknown as typeof cluster.default;
    if (worker !== undefined && worker.isConnected()) worker.disconnect();
    else if (process.connected) process.disconnect();
  },
};

export = appSignal;
