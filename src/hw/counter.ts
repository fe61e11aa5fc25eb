import type { EventQueue } from "../sim/queue.js";
import { Timer } from "../sim/queue.js";
import type { Ns } from "../sim/time.js";
import { type ExecState, rateOf } from "./exec.js";
import type { CounterIdx } from "./pmu-desc.js";

/**
 * Which counters of a PMU have an owner, one bit per architectural index, so a driver finds
 * a free counter without visiting each one; and the PMU's counting clock, which its counters
 * accrue by.
 *
 * The clock is real time minus `offset`, and stands still while frozen: freezing stops every
 * running counter at once (a lazy mediated load, perf/guest-switch.ts, stops the host's
 * counters for the guest run), thawing starts them again where they were, without visiting
 * any. A frozen PMU's counters have no overflow to predict: only counters without an
 * overflow handler are frozen (plain counting).
 */
export class CounterOccupancy {
  /** Real time minus counting time. */
  offset = 0;
  /** Frozen since `frozenAt` (real time). */
  frozen = false;
  frozenAt = 0;

  /** The counting clock at real time `now`. */
  clock(now: number): number {
    return (this.frozen ? this.frozenAt : now) - this.offset;
  }

  /** Stops the clock (no-op if stopped). */
  freeze(now: number): void {
    if (this.frozen) return;
    this.frozen = true;
    this.frozenAt = now;
  }

  /** Starts the clock again: the time it stood still is not counted. */
  thaw(now: number): void {
    if (!this.frozen) return;
    this.frozen = false;
    this.offset += now - this.frozenAt;
  }

  /** Held counters with index 0-31 and 32-63 (bit i of `high` is index 32 + i). */
  low = 0;
  high = 0;
  /** Enabled counters, the same way: what a change of execution must retarget. */
  onLow = 0;
  onHigh = 0;
  /** Counters freed since the last `CpuPmuHw.clearFreed()`. */
  freedLow = 0;
  freedHigh = 0;

  setHeld(idx: number, held: boolean): void {
    const bit = 1 << (idx & 31);
    if (idx < 32) {
      this.low = held ? this.low | bit : this.low & ~bit;
      if (!held) this.freedLow |= bit;
    } else {
      this.high = held ? this.high | bit : this.high & ~bit;
      if (!held) this.freedHigh |= bit;
    }
  }

  /** A counter taken and started (a driver's add). */
  take(idx: number): void {
    this.setHeld(idx, true);
    this.setOn(idx, true);
  }

  /** A counter stopped and freed (a driver's del). */
  release(idx: number): void {
    this.setHeld(idx, false);
    this.setOn(idx, false);
  }

  setOn(idx: number, on: boolean): void {
    const bit = 1 << (idx & 31);
    if (idx < 32) this.onLow = on ? this.onLow | bit : this.onLow & ~bit;
    else this.onHigh = on ? this.onHigh | bit : this.onHigh & ~bit;
  }

  isHeld(idx: number): boolean {
    return ((idx < 32 ? this.low : this.high) & (1 << (idx & 31))) !== 0;
  }

  /**
   * The first free counter among `preferred` (in order), else the lowest free index below 32
   * in `mask`; -1 when every candidate is held.
   */
  firstFree(preferred: readonly number[], mask: number): number {
    for (let i = 0; i < preferred.length; i++)
      if (!this.isHeld(preferred[i]!)) return preferred[i]!;
    const free = mask & ~this.low;
    return free === 0 ? -1 : 31 - Math.clz32(free & -free);
  }
}

/** Float64Array slots a HwCounter's numbers take. */
export const HW_COUNTER_FIELDS = 5;

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
  /** Counting enabled (change it with setOn(), which keeps the PMU's mask in step). */
  enabled = false;
  /**
   * The register's numbers (rate, accrued, lifetime, since, base) live in its PMU's
   * Float64Array (`HW_COUNTER_FIELDS` slots from `at`), next to the other counters' and
   * unboxed: every sched-in, sched-out and fold of the CPU reads them.
   */
  private readonly f: Float64Array;
  private readonly at: number;
  /** Current rate per ns (0 when disabled or idle). */
  get rate(): number {
    return this.f[this.at]!;
  }
  set rate(v: number) {
    this.f[this.at] = v;
  }
  /** Accrued since the last write. */
  get accrued(): number {
    return this.f[this.at + 1]!;
  }
  set accrued(v: number) {
    this.f[this.at + 1] = v;
  }
  /** Everything counted while enabled, never reset: what a host driver folds into a 64-bit count. */
  get lifetime(): number {
    return this.f[this.at + 2]!;
  }
  set lifetime(v: number) {
    this.f[this.at + 2] = v;
  }
  /** Counting-clock time `accrued` was last folded (CounterOccupancy.clock()). */
  get since(): number {
    return this.f[this.at + 3]!;
  }
  set since(v: number) {
    this.f[this.at + 3] = v;
  }
  /** Value written last (or its distance to 2^width when baseIsDistance). */
  get base(): number {
    return this.f[this.at + 4]!;
  }
  set base(v: number) {
    this.f[this.at + 4] = v;
  }
  baseIsDistance = false;
  /** Overflow callback; when set, the wrap is predicted and scheduled. */
  onOverflow: ((c: HwCounter, now: Ns) => void) | null = null;
  private holder: unknown = null;
  /** 2^width. */
  readonly modulus: number;
  /** The overflow timer, made at its first arming (most counters never get one). */
  private timer: Timer | null = null;
  /** `overflowTimer.armed`, kept here so a stopped counter's check touches only the counter. */
  private timerArmed = false;

  constructor(
    readonly idx: CounterIdx,
    readonly width: number,
    private readonly queue: EventQueue,
    /** The PMU's record of which counters are held, kept in step with `owner`. */
    private readonly occupancy: CounterOccupancy,
    /** Where its numbers live (zeroed), and its first slot there. */
    fields: Float64Array = new Float64Array(HW_COUNTER_FIELDS),
    at = 0,
  ) {
    this.modulus = 2 ** width;
    this.f = fields;
    this.at = at;
  }

  /** The timer that fires at the predicted wrap. */
  get overflowTimer(): Timer {
    if (this.timer === null)
      this.timer = new Timer(`ovf${this.idx}`, (now) => this.fireOverflow(now));
    return this.timer;
  }

  /** Who holds the counter (for traces, the invariant checker and counter allocation). */
  get owner(): unknown {
    return this.holder;
  }

  set owner(o: unknown) {
    this.setOwner(o === undefined ? null : o);
  }

  /** Turns counting on or off (no fold, no rate update: callers do both). */
  setOn(on: boolean): void {
    this.enabled = on;
    this.occupancy.setOn(this.idx, on);
  }

  /** Gives the counter to `owner`; null frees it. */
  setOwner(owner: unknown): void {
    this.holder = owner;
    this.occupancy.setHeld(this.idx, owner !== null);
  }

  /**
   * A host driver's pmu->add() on the register: takes the counter for `owner` and starts it
   * counting `quantity` in `modeMask` at the rate of `exec`, with one fold.
   */
  acquire(
    owner: unknown,
    quantity: number,
    modeMask: number,
    now: Ns,
    exec: ExecState | null,
  ): void {
    this.holder = owner;
    this.occupancy.take(this.idx);
    this.fold(now);
    this.quantity = quantity;
    this.modeMask = modeMask;
    this.enabled = true;
    this.rate = rateOf(exec, quantity, modeMask);
    // predict() has nothing to do for a counter without an overflow handler or timer.
    if (this.onOverflow !== null || this.timerArmed) this.predict();
  }

  /**
   * A host driver's pmu->del() on the register: stops and frees the counter, and returns
   * everything it counted (`lifetime`) up to `now`.
   */
  release(now: Ns): number {
    this.fold(now);
    this.enabled = false;
    this.rate = 0;
    if (this.onOverflow !== null || this.timerArmed) this.predict();
    if (this.onOverflow !== null) this.onOverflow = null;
    this.holder = null;
    this.occupancy.release(this.idx);
    return this.lifetime;
  }

  /** Folds the count up to `now`. */
  fold(now: Ns): void {
    const t = this.occupancy.clock(now);
    if (this.rate !== 0) {
      const d = this.rate * (t - this.since);
      this.accrued += d;
      this.lifetime += d;
    }
    this.since = t;
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
    const left = this.onOverflow === null ? 1 : this.toWrap();
    const occ = this.occupancy;
    // A counter that stops exactly at its wrap has still overflowed: fire now. A frozen
    // clock delivers nothing (it only stops counters that have no overflow handler).
    if (this.onOverflow === null || (this.rate <= 0 && left > 0) || occ.frozen) {
      if (this.timerArmed) this.cancelTimer();
      return;
    }
    const dt = left <= 0 ? 0 : Math.ceil(left / this.rate);
    // Back to real time.
    this.queue.arm(this.overflowTimer, (this.since + occ.offset + dt) as Ns);
    this.timerArmed = true;
  }

  private cancelTimer(): void {
    this.queue.cancel(this.timer!);
    this.timerArmed = false;
  }

  private fireOverflow(now: Ns): void {
    this.timerArmed = false;
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

  /** Sets a stopped counter to zero (no fold: it has no rate). */
  clear(): void {
    this.base = 0;
    this.baseIsDistance = false;
    this.accrued = 0;
  }

  /** Current value as a number (exact below 2^53). */
  value(now: Ns): number {
    this.fold(now);
    if (this.toWrap() <= 0) {
      // Read at the instant of the wrap, before the overflow timer ran: the hardware has set
      // the overflow bit all the same, so the overflow is delivered now.
      if (this.timerArmed) this.cancelTimer();
      this.wrap();
      this.onOverflow?.(this, now);
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
    this.writeWide(v);
  }

  /** write() of a bigint, or of a number outside the fast path: truncated to the width. */
  private writeWide(v: number | bigint): void {
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
