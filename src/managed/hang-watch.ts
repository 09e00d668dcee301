/**
 * Hang detection (hangTimeout). A worker's runtime report is sent from a timer on the app's own
 * event loop (src/worker/reporter.cts), so its arrival proves that loop turns: a worker whose loop
 * is blocked (`while (true) {}`, a synchronous call that never returns) sends none. One watch per
 * worker, armed once the worker is ready (before that, startTimeout is the limit) and re-armed by
 * each report; silent for `timeout` ms, the worker is hung. A heartbeat from a thread would go on
 * while the loop is stuck, which is why the report is the heartbeat.
 *
 * Any message of the app's counts as well: its IPC channel carries the report behind whatever
 * the app sent first, so an app that floods process.send() delays its own reports, by seconds.
 * Its messages prove the same thing: they leave the worker's queue only while its event loop
 * turns (libuv writes them out on the loop), so a blocked loop sends nothing of either kind.
 *
 * A beat only notes the time, as one may come per message: the timer, when it fires, waits on for
 * whatever is left of `timeout` since the latest beat.
 */
import type { Clock, ClockTimer } from '../util/clock.js';

export class HangWatch {
  readonly #clock: Clock;
  readonly #timeout: number;
  readonly #onHang: (silentFor: number) => void;
  #timer: ClockTimer | undefined;
  #armed = false;
  #stopped = false;
  #lastSign = 0;

  constructor(clock: Clock, timeout: number, onHang: (silentFor: number) => void) {
    this.#clock = clock;
    this.#timeout = timeout;
    this.#onHang = onHang;
  }

  /** The worker is ready: from now on it must report. */
  arm(): void {
    if (this.#stopped) return;
    this.#armed = true;
    this.beat();
  }

  /** A report or a message arrived: the worker's event loop turns. */
  beat(): void {
    if (!this.#armed || this.#stopped) return;
    this.#lastSign = this.#clock.now();
    if (this.#timer === undefined) this.#wait(this.#timeout);
  }

  #wait(ms: number): void {
    this.#timer = this.#clock.setTimeout(() => {
      const silentFor = this.#clock.now() - this.#lastSign;
      if (silentFor < this.#timeout) {
        this.#wait(this.#timeout - silentFor);
        return;
      }
      this.stop();
      this.#onHang(silentFor);
    }, ms);
  }

  /** The worker exited or drains (its drain has a deadline of its own): nothing more to watch. */
  stop(): void {
    this.#stopped = true;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
