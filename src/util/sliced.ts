/**
 * Long work on the primary's event loop, in slices. The primary's loop is the data path (it
 * accepts every new connection and hands it to a worker), so work that grows with input it does
 * not control, such as the app's metrics at each scrape (tens of thousands of series from each
 * worker), is written once as a generator that `yield`s every few hundred items, and run either
 * at once (runSync: tests, small inputs) or in slices of a few milliseconds with the loop free in
 * between (runSliced). One algorithm, two schedules.
 */

/** Work as a generator: it yields (nothing) where it may be paused, and returns its result. */
export type Steps<T> = Generator<void, T, void>;

/** Runs the steps to the end now. */
export function runSync<T>(steps: Steps<T>): T {
  for (;;) {
    const next = steps.next();
    if (next.done === true) return next.value;
  }
}

/** How long one slice may hold the event loop, in ms. */
export const SLICE_MS = 4;

/** Runs the steps in slices of about `sliceMs`, letting the event loop turn (I/O, timers, accepts) between them. */
export async function runSliced<T>(steps: Steps<T>, sliceMs = SLICE_MS): Promise<T> {
  let sliceStart = performance.now();
  for (;;) {
    const next = steps.next();
    if (next.done === true) return next.value;
    if (performance.now() - sliceStart >= sliceMs) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
}

/** How many items pass between two places where work may be paused. */
export const ITEMS_PER_STEP = 256;
