/**
 * Every process warning corral emits, by code: one registry, one type (`CorralWarning`), so that
 * `process.on('warning')` listeners can branch on `warning.name === 'CorralWarning'` and on
 * `warning.code`, and the README's table lists exactly these.
 */
export const WARNINGS = {
  /** A worker sent a malformed `NODE_CLUSTER` frame (it was refused). */
  CORRAL_ERR_INVALID_CONTROL_FRAME: 'a malformed node:cluster frame from a worker',
  /** A worker's `listen({ fd })` named a descriptor the primary does not lend (it got EBADF). */
  CORRAL_DESCRIPTOR_REFUSED: 'a descriptor the primary does not lend',
  /** A worker's listen()/bind() could not be answered with its server (it got EINVAL). */
  CORRAL_LISTEN_NOT_SERVED: 'a listen() that could not be answered',
  /** A worker asked for more than `maxServersPerWorker` servers (it got EMFILE). */
  CORRAL_TOO_MANY_SERVERS: 'too many servers in one worker',
  /** A managed worker tried to send a message over `maxMessageSize` (refused in the worker). */
  CORRAL_MESSAGE_TOO_LARGE: 'a message over maxMessageSize',
  /** No /bin/sh for the guard that ends workers when the primary is SIGKILLed (once per process). */
  CORRAL_NO_ORPHAN_GUARD: 'workers not guarded against the primary\'s death',
  /** A managed cluster of more than 4 workers per CPU (at its start, or scaled to it). */
  CORRAL_MANY_WORKERS: 'more workers than the CPUs can run',
  /** A managed worker's process error that nothing listens for. */
  CORRAL_WORKER_ERROR: 'a worker process error nothing listens for',
  /** `fork(env)` with an `env` that is not an object (once per process). */
  CORRAL_FORK_ENV_NOT_OBJECT: 'fork() given an environment that is not an object',
  /** Two installed copies of corral with different versions in one process. */
  CORRAL_DUPLICATE_INSTALL: 'corral installed twice',
  /** A crashed slot could not be refilled, or a worker recycled: the worker script became unreadable. */
  CORRAL_EXEC_UNREADABLE: 'the worker script became unreadable',
  /** A health recycle's replacement could not be forked, for another reason than the script: retried. */
  CORRAL_RECYCLE_FAILED: 'a worker that could not be recycled',
  /** A managed worker already over maxMemory once ready: maxMemory is not applied to it. */
  CORRAL_MAX_MEMORY_TOO_LOW: 'maxMemory below what a fresh worker uses',
  /** A managed worker already over maxMemoryHard once ready: it is not SIGKILLed for it (nor recycled). */
  CORRAL_MAX_MEMORY_HARD_TOO_LOW: 'maxMemoryHard below what a fresh worker uses',
  /** NODE_CLUSTER_SCHED_POLICY names no policy. */
  CORRAL_BAD_SCHED_POLICY_ENV: 'an unknown NODE_CLUSTER_SCHED_POLICY',
  /** A balancer of one's own threw from `pick()`, or returned no candidate (once per process). */
  CORRAL_BALANCER_FAILED: 'a balancer strategy that failed to pick',
  /** The app's prom-client metrics include names of the primary's own (process_*): those are left out. */
  CORRAL_METRICS_SHADOWED: "app metrics named as the primary's own",
  /** A worker's prom-client collect() threw during a scrape (once per process). */
  CORRAL_APP_METRICS_FAILED: "an app's metrics that could not be collected",
} as const;

export type CorralWarningCode = keyof typeof WARNINGS;

/** The `type` (and so `warning.name`) of every warning corral emits. */
export const WARNING_TYPE = 'CorralWarning';

export function emitWarning(code: CorralWarningCode, message: string): void {
  process.emitWarning(message, { type: WARNING_TYPE, code });
}

const emittedOnce = new Set<CorralWarningCode>();

/** A warning shown once per process for its code. */
export function emitWarningOnce(code: CorralWarningCode, message: string): void {
  if (emittedOnce.has(code)) return;
  emittedOnce.add(code);
  emitWarning(code, message);
}
