/**
 * Hang detection (hangTimeout). A worker's runtime report is sent from a timer on the app's own
 * event loop (src/worker/reporter.cts), so its arrival proves that loop turns: a worker whose loop
 * is blocked (`while (true) {}`, a synchronous call that never returns) sends none. One watch per
 * worker, armed once the worker is ready (before that, startTimeout is the limit) and re-armed by
 * each report; silent for `timeout` ms, the worker is hung. A heartbeat from a thread would go on
 * while the loop is stuck, which is why the report, and nothing else, is the heartbeat.
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

  /** A report arrived: the worker's event loop turns. */
  beat(): void {
    if (!this.#armed || this.#stopped) return;
    this.#lastSign = this.#clock.now();
    this.#clock.clearTimeout(this.#timer);
    this.#timer = this.#clock.setTimeout(() => {
      this.stop();
      this.#onHang(this.#clock.now() - this.#lastSign);
    }, this.#timeout);
  }

  /** The worker exited: nothing more to watch. */
  stop(): void {
    this.#stopped = true;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
