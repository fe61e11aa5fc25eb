import type { Ns } from "./time.js";

/**
 * The simulation clock. Time only moves forward; an attempt to move it back is a bug in
 * the model and is reported through the `onBackwards` hook (the invariant checker) instead
 * of being applied.
 */
export class Clock {
  /** Current simulated time in nanoseconds. */
  now: Ns = 0 as Ns;
  /** Called when something asks to move time backwards. */
  onBackwards: ((from: Ns, to: Ns) => void) | undefined;

  /** Moves the clock to `t` (never backwards). */
  advance(t: Ns): void {
    if (t < this.now) {
      this.onBackwards?.(this.now, t);
      return;
    }
    this.now = t;
  }
}
