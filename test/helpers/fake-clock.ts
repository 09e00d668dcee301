// A clock the unit tests move by hand: timers fire in order when `advance()` passes them.
import type { Clock, ClockTimer } from '../../dist/util/clock.js';

interface Pending {
  at: number;
  callback: () => void;
  timer: ClockTimer;
}

export class FakeClock implements Clock {
  #now = 0;
  readonly #pending: Pending[] = [];

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): ClockTimer {
    const timer = {};
    this.#pending.push({ at: this.#now + ms, callback, timer });
    this.#pending.sort((a, b) => a.at - b.at);
    return timer;
  }

  clearTimeout(timer: ClockTimer | undefined): void {
    const index = this.#pending.findIndex((entry) => entry.timer === timer);
    if (index !== -1) this.#pending.splice(index, 1);
  }

  /** Moves time forward by `ms`, firing each timer due on the way. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (let next = this.#pending[0]; next !== undefined && next.at <= end; next = this.#pending[0]) {
      this.#pending.shift();
      this.#now = next.at;
      next.callback();
    }
    this.#now = end;
  }
}
