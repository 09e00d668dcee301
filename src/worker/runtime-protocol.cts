/**
 * The wire protocol between corral's primary and its runtime inside each worker (runtime.cts).
 *
 * Frames travel over the worker's IPC channel as `{ cmd: 'NODE_CORRAL', v, act, … }`. Node routes
 * every message whose `cmd` starts with `NODE_` to the internal channel, so they never reach the
 * app's `process.on('message')` or the primary's `worker.on('message')`; Node's own cluster code
 * ignores them because it only reads `cmd: 'NODE_CLUSTER'`. `v` is the protocol version: a side
 * that gets a frame of another version ignores it (two installed copies of corral may meet).
 */
const protocol = {
  FRAME_CMD: 'NODE_CORRAL',
  VERSION: 1,
  /** The environment variable that carries RuntimeSettings (JSON) into the worker; removed on load. */
  SETTINGS_ENV: 'CORRAL_WORKER_RUNTIME',
  /** The worker's slot, as a decimal string (documented; stays in the environment). */
  SLOT_ENV: 'CORRAL_SLOT',
  /** PM2's name for the slot (documented; stays in the environment). */
  PM2_SLOT_ENV: 'NODE_APP_INSTANCE',
  /** The most stderr text a starting worker forwards to the primary. */
  STARTUP_STDERR_LIMIT: 8192,
  /** The version of the runtime report (`RuntimeReport.v`), apart from the frame protocol's. */
  REPORT_VERSION: 1,
  /** How often a worker reports, in ms, unless the primary says otherwise. */
  DEFAULT_REPORT_INTERVAL: 1000,
  /** ms after a handed-over connection closes within which a report says so (RuntimeReport.handoffs). */
  EARLY_REPORT_DELAY: 10,
  /** The most metric values one `metrics` frame carries (about 150 KB of JSON); a larger answer comes in parts. */
  METRICS_PART_VALUES: 2000,
  /** The most metric values one worker's answer may have in all: past it the answer is refused (a label of unbounded values). */
  METRICS_MAX_VALUES: 500_000,
  /**
   * The largest message a worker may send the primary, serialized, in bytes, unless the primary
   * says otherwise (64 MiB: far above what apps send, far below what would hurt the primary).
   */
  DEFAULT_MAX_MESSAGE_SIZE: 64 * 1024 * 1024,
} as const;

// eslint-disable-next-line @typescript-eslint/no-namespace -- types merged with the `export =` value
declare namespace protocol {
  /**
   * Why a worker drains. `recycle`: it reached a health limit (maxMemory, maxRequests, maxAge) and
   * its replacement already serves.
   */
  type DrainReason = 'shutdown' | 'reload' | 'scale' | 'signal' | 'recycle';

  /** Primary → worker. */
  type ToWorker =
    /** Stop taking work, finish in-flight requests, run onShutdown hooks, exit; `timeout` ms left. */
    | { act: 'drain'; reason: DrainReason; timeout: number }
    /** The primary counts the worker as started: stop forwarding stderr. */
    | { act: 'started' }
    /** The primary's terminal hung up: let go of it (release-terminal.cts). */
    | { act: 'terminal-gone' }
    /** Send the app's prom-client metrics (app-metrics.cts), answering with the same `id`. */
    | { act: 'metrics'; id: number }
    /** Open the inspector on the slot's port, which the worker this one replaced held until it exited (inspector-open.cts). */
    | { act: 'inspect'; host: string; port: number };

  /** Worker → primary. */
  type FromWorker =
    /** The runtime is loaded (sent from the preload, before the app's code runs). */
    | { act: 'hello' }
    /** The app called ready() (manual readiness). */
    | { act: 'ready' }
    /** The worker began draining on its own (it received `signal`). */
    | { act: 'draining'; reason: 'signal'; signal: string }
    /** Text a starting worker wrote to stderr, or an uncaught error it is dying of. */
    | { act: 'stderr'; text: string }
    /** The periodic report: the one frame that health, balancing and metrics read. */
    | { act: 'report'; report: RuntimeReport }
    /** At the end of its drain the worker SIGKILLed these processes the app had started and left running. */
    | { act: 'leftovers'; pids: number[] }
    /** The app sent a message over maxMessageSize: it was refused in the worker, not sent. */
    | { act: 'message-refused'; bytes: number; limit: number }
    /**
     * The app's prom-client metrics: the answer to a `metrics` request (its `id`), or, with
     * `final`, sent unasked at the end of a drain (RuntimeSettings.appMetrics), so that what the
     * worker counted until it exited stays in the cluster's totals. A large answer comes in parts
     * of at most METRICS_PART_VALUES values, each but the last with `more` (metrics-parts.cts):
     * the primary parses each IPC message at once, so one of megabytes would hold its loop.
     */
    | ({ act: 'metrics'; id: number; final?: boolean; more?: boolean } & AppMetricsReply);

  /** What a worker answers about its app's metrics. */
  interface AppMetricsReply {
    /** prom-client's `getMetricsAsJSON()` of every default registry the app loaded; null: the app has none. */
    metrics: unknown[] | null;
    /** A collect() of the app threw this. */
    error?: string;
  }

  /**
   * What a worker tells the primary every `reportInterval` ms. Its arrival is the heartbeat: a
   * worker whose event loop is blocked sends none. Versioned on its own (`v`), so that readers can
   * tell a report of another shape from a late one; fields are only ever added within a version.
   */
  interface RuntimeReport {
    v: 1;
    /** 1, 2, 3… per worker: a gap means a report was lost. */
    seq: number;
    /** When it was taken (ms since the epoch, Date.now()). */
    at: number;
    /** ms since the previous report (or since the runtime loaded). */
    interval: number;
    loop: {
      /** ms the report's timer fired late: a lower bound on the longest block of the event loop in the interval. */
      delay: number;
    };
    /** CPU time the worker used over the interval, in cores (1 = one core busy all the time). */
    cpu: number;
    memory: {
      /** Resident set size, in bytes. */
      rss: number;
      heapUsed: number;
      heapTotal: number;
      /** Memory of C++ objects bound to JavaScript objects (Buffers…), in bytes. */
      external: number;
    };
    /** Connections open on the worker's servers now. */
    connections: number;
    /** HTTP responses finished since the worker started. */
    requests: number;
    /**
     * The connections the primary handed to this worker (its dispatching balancers), since it
     * started: how many it received, and how many of those have closed. Present when the primary
     * asks for them (RuntimeSettings.handoffs, the least-connections balancer); a report then also
     * comes early, EARLY_REPORT_DELAY ms after such a connection closes, so that the primary's
     * count of each worker's open connections is never more than that much behind.
     */
    handoffs?: { received: number; closed: number };
  }

  /** What the primary tells the runtime at fork, through SETTINGS_ENV. */
  interface RuntimeSettings {
    v: 1;
    /** ms a worker that drains on its own (on SIGTERM/SIGINT) gives itself before exiting. */
    shutdownTimeout: number;
    /** ms between runtime reports; 0 sends none. Absent: DEFAULT_REPORT_INTERVAL. */
    reportInterval?: number;
    /** The largest message the app may send, serialized, in bytes; 0: no limit. Absent: DEFAULT_MAX_MESSAGE_SIZE. */
    maxMessageSize?: number;
    /** Count the connections the primary hands over, and report their closes early (RuntimeReport.handoffs). */
    handoffs?: boolean;
    /**
     * The primary reads each connection's first bytes (the sticky balancer's header) and sends
     * them with the connection, base64 in `head` of its `newconn` frame: replay them.
     */
    replayHeads?: boolean;
    /** The primary serves the app's metrics: send them once more at the end of a drain (`metrics` with `final`). */
    appMetrics?: boolean;
    /**
     * The primary reads the worker's stdout and stderr pipes and pauses them while what they feed
     * is full (a log file, a slow terminal): make writes to them block, as on a terminal, so that
     * the app waits rather than queueing its output in its own memory without bound.
     */
    blockingOutput?: boolean;
    /**
     * The signal a draining worker's app gets once its servers stop accepting, if it listens for
     * it (app-signal.cts); 'none': never sent. Absent: SIGTERM.
     */
    killSignal?: NodeJS.Signals | 'none';
  }
}

export = protocol;
