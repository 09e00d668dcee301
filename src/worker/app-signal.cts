/**
 * The app's own stop signal handler, inside a worker (issue 26). Production apps end their life
 * in a SIGTERM or SIGINT handler: NestJS's shutdown hooks, OpenTelemetry's last export, a queue
 * consumer finishing its job, `fastify.close()` ending websockets. Kubernetes, PM2 (`kill_signal`)
 * and node:cluster's `worker.kill()` all send one; a worker corral drains gets it too, once its
 * servers stop accepting and its requests in flight are answered, and corral then lets the
 * process end by itself (the handler exits, or the event loop empties) instead of calling
 * process.exit() under a handler still at work (runtime.cts #handOver).
 *
 * corral's runtime listens for SIGTERM, SIGINT and SIGHUP itself, so "the app listens" means a
 * listener that is not one of corral's.
 */

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
   * Gives `signal` to the app's listeners, as Node does for a signal that arrives (it calls
   * `process.emit(signal, signal)`), corral's own left out; resolves once what they returned has
   * settled (an async handler's promise). A listener that throws does so uncaught, as it would.
   */
  deliver(signal: NodeJS.Signals): Promise<unknown> {
    const results: unknown[] = [];
    for (const listener of process.rawListeners(signal)) {
      if (own.has(listener as (...args: unknown[]) => void)) continue;
      try {
        results.push((listener as (signal: NodeJS.Signals) => unknown).call(process, signal));
      } catch (error) {
        process.nextTick(() => { throw error; });
      }
    }
    return Promise.allSettled(results);
  },

  /**
   * Dies of `signal` as a process without a listener for it does (after the app, which listened,
   * took its listener away to re-raise the signal once its cleanup was done: NestJS, signal-exit).
   */
  dieOf(signal: NodeJS.Signals): void {
    for (const [listener, of] of own) if (of === signal) process.off(signal, listener);
    process.kill(process.pid, signal);
  },

  /**
   * The channel to the primary no longer keeps this process alive (it stays open: the app's
   * handler may still send): the process ends when the app lets it, its handler exits or its
   * event loop empties.
   */
  release(): void {
    (process.channel as { unref?: () => void } | undefined)?.unref?.();
  },
};

export = appSignal;
