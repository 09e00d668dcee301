/**
 * Slot supervision: what happens when a slot's worker exits. A pure policy over a clock, so it is
 * unit-tested without processes (test/lifecycle-units.test.ts); the managed cluster carries it out.
 *
 *  - A planned exit (the worker left on its own request after running a while) is refilled at once.
 *  - A worker that was serving and then died is refilled at once, without backoff and without
 *    counting toward a crash loop: one ended from outside by a signal (an OOM killer, a chaos
 *    test, `kill`), or one that ran `restart.minUptime` ms after it became ready. Capacity lost
 *    to crashes after readiness comes back as fast as the fork rate bound allows, so such crashes
 *    never take the whole cluster down. A start cut short by an outside signal is refilled at
 *    once too: it says nothing about the code.
 *  - A worker that corral SIGKILLed past maxMemoryHard before it ran `restart.resetAfter` ms is an
 *    early crash too, however long it served: its replacement will reach the limit as soon, so
 *    refilling at once would SIGKILL forever (the hard-limit guard beside limit-watch.ts's
 *    baseline check, which catches a worker already over the limit once ready).
 *  - An early crash (the worker never became ready, or exited on its own within minUptime of it)
 *    is what backs off: refilled at once the first time, then after an exponential, jittered
 *    delay (backoff.ts) from `restart.minDelay`. A worker that ran `resetAfter` ms resets it.
 *  - `crashLoop.maxCrashes` early crashes within `crashLoop.window` ms put the slot in the
 *    `crashloop` state: it is retried every `crashLoop.retryDelay` ms until a worker runs
 *    `resetAfter` ms.
 *  - While the cluster starts for the first time, a slot whose worker fails to start
 *    `startAttempts` times in a row gives the start up: `start()` rejects and nothing retries.
 *    A worker alive at its startTimeout yet not ready (an app that never listens: a queue
 *    consumer started under the default readiness) gives it up at once: the next would only
 *    wait as long again, and say no more.
 *
 * Independently, ForkRateLimiter bounds forks per second across the cluster, so a crash storm
 * never becomes a fork storm.
 */
import type { Clock } from '../util/clock.js';
import { restartDelay } from './backoff.js';
import type { CrashLoopOptions, RestartOptions } from './options.js';

export interface SupervisionPolicy {
  readonly restart: Readonly<Required<RestartOptions>> | false;
  readonly crashLoop: Readonly<Required<CrashLoopOptions>>;
  readonly startAttempts: number;
}

export interface ExitReport {
  /** The worker left on its own request (exit code 0, disconnected first). */
  readonly planned: boolean;
  /** It never became ready (it exited while starting, or its startTimeout passed). */
  readonly failedStart: boolean;
  /** ms from its fork to its exit. */
  readonly uptime: number;
  /** ms from its readiness to its exit; absent when it never became ready. */
  readonly readyFor?: number;
  /** A signal from outside corral ended it (not one of corral's SIGKILLs, not a fault such as SIGSEGV). */
  readonly killedFromOutside?: boolean;
  /** corral SIGKILLed it past maxMemoryHard. */
  readonly killedForMemory?: boolean;
  /** The cluster has not yet been ready as a whole (its first start()). */
  readonly clusterStarting: boolean;
}

export type ExitVerdict =
  /** Fork a replacement after `delay` ms. `crashloop` says the slot is (now) in the crashloop state. */
  | { readonly action: 'restart'; readonly delay: number; readonly crashes: number; readonly crashloop: boolean; readonly enteredCrashloop: boolean }
  /** Restarts are off: leave the slot empty. */
  | { readonly action: 'none' }
  /** The first start failed too often: stop the cluster and report it. */
  | { readonly action: 'give-up'; readonly attempts: number };

/** The restart policy of one slot. */
export class SlotSupervisor {
  readonly #policy: SupervisionPolicy;
  readonly #clock: Clock;
  readonly #random: () => number;
  /** Crashes since the last long run (drives the backoff). */
  #consecutive = 0;
  /** When recent crashes happened (those within crashLoop.window). */
  #recent: number[] = [];
  #failedStarts = 0;
  #crashloop = false;
  #readyAt: number | undefined;

  constructor(policy: SupervisionPolicy, clock: Clock, random: () => number = Math.random) {
    this.#policy = policy;
    this.#clock = clock;
    this.#random = random;
  }

  /** In the crashloop state: crashing repeatedly, retried slowly, until a worker runs resetAfter ms. */
  get crashloop(): boolean {
    if (this.#crashloop && this.#readyAt !== undefined && this.#ranLongEnough(this.#clock.now() - this.#readyAt)) {
      this.#recover();
    }
    return this.#crashloop;
  }

  /** Consecutive crashes (0 after a long run). */
  get crashes(): number {
    return this.#consecutive;
  }

  /** The slot's worker was forked. */
  forked(): void {
    this.#readyAt = undefined;
  }

  /** The slot's worker became ready. */
  ready(): void {
    this.#readyAt = this.#clock.now();
    this.#failedStarts = 0;
  }

  exited(report: ExitReport): ExitVerdict {
    this.#readyAt = undefined;
    const restart = this.#policy.restart;
    if (this.#ranLongEnough(report.uptime)) this.#recover();
    // A worker that reached maxMemoryHard soon after its start will be replaced by one that reaches
    // it as soon: not refilled at once, or a limit a little above a fresh worker's size would
    // SIGKILL forever (only its first report once ready is checked against the limit).
    const memoryLoop = report.killedForMemory === true && !this.#ranLongEnough(report.uptime);
    const served = report.readyFor !== undefined && restart !== false && report.readyFor >= restart.minUptime && !memoryLoop;
    if (report.killedFromOutside === true || served) {
      // Not the code failing to run: refill at once, and count nothing.
      if (restart === false) return { action: 'none' };
      return { action: 'restart', delay: 0, crashes: this.#consecutive, crashloop: this.#crashloop, enteredCrashloop: false };
    }
    if (report.failedStart) {
      this.#failedStarts += 1;
      if (report.clusterStarting && this.#failedStarts >= this.#policy.startAttempts) {
        return { action: 'give-up', attempts: this.#failedStarts };
      }
    }
    if (restart === false) return { action: 'none' };
    if (report.planned && !report.failedStart) {
      return { action: 'restart', delay: 0, crashes: this.#consecutive, crashloop: this.#crashloop, enteredCrashloop: false };
    }
    const now = this.#clock.now();
    const { maxCrashes, window, retryDelay } = this.#policy.crashLoop;
    this.#recent = this.#recent.filter((at) => now - at < window);
    this.#recent.push(now);
    // A first crash is refilled at once (capacity matters more than caution once); only crashes
    // in a row back off.
    const delay = this.#consecutive === 0 ? 0 : restartDelay(this.#consecutive - 1, restart, this.#random);
    this.#consecutive += 1;
    const wasCrashloop = this.#crashloop;
    if (this.#recent.length >= maxCrashes) this.#crashloop = true;
    return {
      action: 'restart',
      delay: this.#crashloop ? Math.max(delay, retryDelay) : delay,
      crashes: this.#consecutive,
      crashloop: this.#crashloop,
      enteredCrashloop: this.#crashloop && !wasCrashloop,
    };
  }

  #ranLongEnough(ms: number): boolean {
    return this.#policy.restart !== false && ms >= this.#policy.restart.resetAfter;
  }

  #recover(): void {
    this.#consecutive = 0;
    this.#recent = [];
    this.#crashloop = false;
  }
}

/** At most `limit` forks in any one second, across the whole cluster. */
export class ForkRateLimiter {
  readonly #limit: () => number;
  readonly #clock: Clock;
  readonly #times: number[] = [];

  constructor(limit: () => number, clock: Clock) {
    this.#limit = limit;
    this.#clock = clock;
  }

  /** ms until another fork fits in the window (0: now). */
  wait(): number {
    const now = this.#clock.now();
    while (this.#times.length > 0 && now - this.#times[0]! >= 1000) this.#times.shift();
    return this.#times.length < this.#limit() ? 0 : this.#times[0]! + 1000 - now;
  }

  /** A fork happened now. */
  record(): void {
    this.#times.push(this.#clock.now());
  }
}
