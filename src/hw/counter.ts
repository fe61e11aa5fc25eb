import type { EventQueue } from "../sim/queue.js";
import { Timer } from "../sim/queue.js";
import type { Ns } from "../sim/time.js";
import { type ExecState, rateOf } from "./exec.js";
import type { CounterIdx } from "./pmu-desc.js";

/**
 * One hardware counter register. It accrues lazily: between state changes it advances at
 * `rate` per ns, so its value is computed on read, and the moment it wraps is predicted
 * and scheduled exactly instead of being found by ticking.
 *
 * The value is kept without BigInt on the hot path: `base` is the value last written and
 * `accrued` what was counted since. A large written value (a 64-bit counter set close to
 * overflow) is stored as its distance to the wrap (`baseIsDistance`), which a double holds
 * exactly.
 */
export class HwCounter {
  /** The quantity it counts (-1: counts nothing). */
  quantity = -1;
  /** Modes it counts in (bitmask of Mode). */
  modeMask = 0;
  /** Counting enabled. */
  enabled = false;
  /** Current rate per ns (0 when disabled or idle). */
  rate = 0;
  /** Accrued since the last write. */
  accrued = 0;
  /** Everything counted while enabled, never reset: what a host driver folds into a 64-bit count. */
  lifetime = 0;
  /** Time `accrued` was last folded. */
  since: Ns = 0 as Ns;
  /** Value written last (or its distance to 2^width when baseIsDistance). */
  base = 0;
  baseIsDistance = false;
  /** Overflow callback; when set, the wrap is predicted and scheduled. */
  onOverflow: ((c: HwCounter, now: Ns) => void) | null = null;
  /** Who holds the counter (for traces and the invariant checker). */
  owner: unknown = null;
  ownerName = "";
  /** 2^width. */
  readonly modulus: number;
  readonly overflowTimer: Timer;

  constructor(
    readonly idx: CounterIdx,
    readonly width: number,
    private readonly queue: EventQueue,
  ) {
    this.modulus = 2 ** width;
    this.overflowTimer = new Timer(`ovf${idx}`, (now) => this.fireOverflow(now));
  }

  /** Folds the count up to `now`. */
  fold(now: Ns): void {
    if (this.rate !== 0) {
      const d = this.rate * (now - this.since);
      this.accrued += d;
      this.lifetime += d;
    }
    this.since = now;
  }

  /** Accrued into the wrap threshold: how many more counts until the counter overflows. */
  private toWrap(): number {
    const d = this.baseIsDistance ? this.base : this.modulus - this.base;
    return d - this.accrued;
  }

  /** Recomputes the rate for what the CPU executes now (call after fold). */
  retarget(exec: ExecState | null): void {
    this.rate = this.enabled ? rateOf(exec, this.quantity, this.modeMask) : 0;
    this.predict();
  }

  /** Schedules (or cancels) the overflow timer from the current rate. */
  predict(): void {
    if (this.onOverflow === null || this.rate <= 0) {
      if (this.overflowTimer.armed) this.queue.cancel(this.overflowTimer);
      return;
    }
    const left = this.toWrap();
    const dt = left <= 0 ? 0 : Math.ceil(left / this.rate);
    this.queue.arm(this.overflowTimer, (this.since + dt) as Ns);
  }

  private fireOverflow(now: Ns): void {
    this.fold(now);
    // The predicted time is exact up to float rounding: never let the counter stop short.
    const d = this.baseIsDistance ? this.base : this.modulus - this.base;
    if (this.accrued < d) {
      this.lifetime += d - this.accrued;
      this.accrued = d;
    }
    this.wrap();
    this.onOverflow?.(this, now);
    this.predict();
  }

  /** Applies the wrap: the value restarts from what was counted beyond 2^width. */
  private wrap(): void {
    const d = this.baseIsDistance ? this.base : this.modulus - this.base;
    const beyond = this.accrued - d;
    this.base = Math.floor(beyond) % this.modulus;
    this.baseIsDistance = false;
    this.accrued = beyond - Math.floor(beyond);
  }

  /** Stops the counter and clears it to zero in one fold (a PMU put). Returns the value it had. */
  stopAndClear(now: Ns): number {
    const v = this.value(now);
    this.enabled = false;
    this.rate = 0;
    this.onOverflow = null;
    this.base = 0;
    this.baseIsDistance = false;
    this.accrued = 0;
    if (this.overflowTimer.armed) this.queue.cancel(this.overflowTimer);
    return v;
  }

  /** Current value as a number (exact below 2^53). */
  value(now: Ns): number {
    this.fold(now);
    if (this.toWrap() <= 0) {
      this.wrap();
      this.predict();
    }
    if (this.baseIsDistance) return this.modulus - (this.base - Math.floor(this.accrued));
    return this.base + Math.floor(this.accrued);
  }

  /** Current value as a bigint (exact for any width). */
  valueBig(now: Ns): bigint {
    this.value(now);
    if (this.baseIsDistance) {
      return (1n << BigInt(this.width)) - BigInt(this.base - Math.floor(this.accrued));
    }
    return BigInt(this.base + Math.floor(this.accrued));
  }

  /** Writes the register (the value is truncated to the counter width). */
  write(v: number | bigint, now: Ns): void {
    this.fold(now);
    // Fast path (the hot one: PMU context switches, sampling periods): a plain in-range number.
    if (
      typeof v === "number" &&
      v >= 0 &&
      v < this.modulus &&
      this.modulus <= 2 ** 53 &&
      Number.isInteger(v)
    ) {
      this.base = v;
      this.baseIsDistance = false;
      this.accrued = 0;
      this.predict();
      return;
    }
    let big = typeof v === "bigint" ? v : BigInt(Math.floor(v));
    const mod = 1n << BigInt(this.width);
    big = ((big % mod) + mod) % mod;
    if (big <= BigInt(Number.MAX_SAFE_INTEGER)) {
      this.base = Number(big);
      this.baseIsDistance = false;
    } else {
      this.base = Number(mod - big);
      this.baseIsDistance = true;
    }
    this.accrued = 0;
    this.predict();
  }

  /**
   * Everything counted so far (fractional, never wraps). A host driver takes deltas of this,
   * which models the kernel folding hardware wraps into the 64-bit event count.
   */
  counted(now: Ns): number {
    this.fold(now);
    return this.lifetime;
  }
}
