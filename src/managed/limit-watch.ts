/**
 * The recycling limits of one worker (maxMemory, maxMemoryHard, maxRequests, maxAge): when it
 * passes one, what corral does about it. The memory and request figures come from the worker's
 * runtime reports (the one frame health reads), the age from a timer set when it becomes ready.
 *
 * Each worker gets its own request and age limits: the option plus a random share of its jitter,
 * drawn once at its fork, so that workers started together do not all recycle together (as
 * gunicorn's max_requests_jitter). The watch only decides; the slot table acts (a kill at once, or
 * a recycle, which the cluster runs one slot at a time).
 */
import type { Clock, ClockTimer } from '../util/clock.js';
import type { ResolvedClusterOptions } from './options.js';
import type { RuntimeReport } from './runtime-link.js';
import type { MemoryMeasure } from './types.js';

/** One worker's limits, jitter drawn; 0 means off. */
export interface WorkerLimits {
  readonly memory: number;
  readonly memoryHard: number;
  readonly measure: MemoryMeasure;
  readonly requests: number;
  readonly age: number;
}

/** A limit passed: what to do, and the figures for the health event and the log line. */
export type LimitBreach =
  | { readonly reason: 'memory'; readonly action: 'recycle' | 'kill'; readonly measure: MemoryMeasure; readonly value: number; readonly limit: number }
  | { readonly reason: 'requests' | 'age'; readonly action: 'recycle'; readonly value: number; readonly limit: number };

export type LimitOptions = Pick<ResolvedClusterOptions,
  'maxMemory' | 'maxMemoryHard' | 'maxMemoryOf' | 'maxRequests' | 'maxRequestsJitter' | 'maxAge' | 'maxAgeJitter'>;

/** Whether any recycling limit is set at all (else no watch is made). */
export function hasLimits(options: LimitOptions): boolean {
  return options.maxMemory > 0 || options.maxMemoryHard > 0 || options.maxRequests > 0 || options.maxAge > 0;
}

/** `random` returns [0, 1), as Math.random. */
export function limitsFor(options: LimitOptions, random: () => number = Math.random): WorkerLimits {
  const spread = (base: number, jitter: number): number => (base === 0 ? 0 : base + Math.floor(random() * (jitter + 1)));
  return {
    memory: options.maxMemory,
    memoryHard: options.maxMemoryHard,
    measure: options.maxMemoryOf,
    requests: spread(options.maxRequests, options.maxRequestsJitter),
    age: spread(options.maxAge, options.maxAgeJitter),
  };
}

export function memoryOf(report: RuntimeReport, measure: MemoryMeasure): number {
  return measure === 'heap' ? report.memory.heapUsed : report.memory.rss;
}

/** The memory limits a fresh worker was already over, and which are so left out for it. */
export interface LimitsLeftOut {
  /** maxMemory: recycling it would only start another like it. */
  readonly memory: boolean;
  /** maxMemoryHard: SIGKILLing it would only start another like it, and fail its requests each time. */
  readonly memoryHard: boolean;
}

export interface LimitWatchEvents {
  /** A limit was passed. Called at most once per worker, unless a recycle failed (then again after `retryDelay`). */
  breach(breach: LimitBreach): void;
  /**
   * Its first report after readiness was already over maxMemory or maxMemoryHard: acting on it
   * would never end (each replacement starts as big); those limits are left out for this worker.
   */
  startsOverLimit(memory: number, limits: WorkerLimits, leftOut: LimitsLeftOut): void;
}

export class LimitWatch {
  readonly limits: WorkerLimits;
  readonly #clock: Clock;
  readonly #events: LimitWatchEvents;
  #ready = false;
  #stopped = false;
  /** A breach was reported and is being acted on: nothing more until it fails. */
  #acting = false;
  /** The first report after readiness decides whether the memory limits apply. */
  #checkedBaseline = false;
  #softMemory: boolean;
  #hardMemory: boolean;
  #readyAt = 0;
  #ageTimer: ClockTimer | undefined;

  constructor(limits: WorkerLimits, clock: Clock, events: LimitWatchEvents) {
    this.limits = limits;
    this.#clock = clock;
    this.#events = events;
    this.#softMemory = limits.memory > 0;
    this.#hardMemory = limits.memoryHard > 0;
  }

  /** The worker is ready: from now on its limits count. */
  ready(): void {
    if (this.#stopped) return;
    this.#ready = true;
    this.#readyAt = this.#clock.now();
    if (this.limits.age > 0) this.#armAge(this.limits.age);
  }

  report(report: RuntimeReport): void {
    if (!this.#ready || this.#stopped) return;
    const { memory, memoryHard, measure, requests } = this.limits;
    const used = memoryOf(report, measure);
    if (!this.#checkedBaseline) this.#checkBaseline(used);
    if (this.#hardMemory && used >= memoryHard) {
      // The hard limit acts even while a recycle is under way: it is what bounds a fast leak.
      this.#stopped = true;
      this.#clearAge();
      this.#events.breach({ reason: 'memory', action: 'kill', measure, value: used, limit: memoryHard });
      return;
    }
    if (this.#acting) return;
    if (this.#softMemory && used >= memory) this.#breach({ reason: 'memory', action: 'recycle', measure, value: used, limit: memory });
    else if (requests > 0 && report.requests >= requests) this.#breach({ reason: 'requests', action: 'recycle', value: report.requests, limit: requests });
  }

  /** The recycle did not happen (its replacement failed to start): try again after `delay` ms. */
  recycleFailed(delay: number): void {
    if (this.#stopped) return;
    this.#clock.setTimeout(() => {
      this.#acting = false;
      if (this.limits.age > 0 && this.#ageTimer === undefined) this.#armAge(0);
    }, delay);
  }

  /** The worker is draining or gone: nothing more to watch. */
  stop(): void {
    this.#stopped = true;
    this.#clearAge();
  }

  /**
   * A worker already over a memory limit at its first report once ready would be replaced by one
   * just like it: the soft limit would recycle forever, the hard one SIGKILL forever (each kill
   * failing the requests in flight, 16 kills in 10 s with two workers). Both are guarded alike:
   * the limit is left out for this worker, and said once (slots.ts), with the fix.
   */
  #checkBaseline(used: number): void {
    this.#checkedBaseline = true;
    const leftOut = {
      memory: this.#softMemory && used >= this.limits.memory,
      memoryHard: this.#hardMemory && used >= this.limits.memoryHard,
    };
    if (leftOut.memory) this.#softMemory = false;
    if (leftOut.memoryHard) this.#hardMemory = false;
    if (leftOut.memory || leftOut.memoryHard) this.#events.startsOverLimit(used, this.limits, leftOut);
  }

  #breach(breach: LimitBreach): void {
    this.#acting = true;
    this.#events.breach(breach);
  }

  #armAge(delay: number): void {
    this.#ageTimer = this.#clock.setTimeout(() => {
      this.#ageTimer = undefined;
      if (this.#stopped || this.#acting) return;
      // A timer may fire a millisecond before the wall clock says its time is up.
      const age = Math.max(this.#clock.now() - this.#readyAt, this.limits.age);
      this.#breach({ reason: 'age', action: 'recycle', value: age, limit: this.limits.age });
    }, delay);
  }

  #clearAge(): void {
    this.#clock.clearTimeout(this.#ageTimer);
    this.#ageTimer = undefined;
  }
}
