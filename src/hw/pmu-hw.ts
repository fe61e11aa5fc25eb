import type { EventQueue } from "../sim/queue.js";
import type { Ns } from "../sim/time.js";
import { CounterOccupancy, HW_COUNTER_FIELDS, HwCounter } from "./counter.js";
import type { ExecState } from "./exec.js";
import type { CounterIdx, PmuHwDesc } from "./pmu-desc.js";

/**
 * The PMU registers of one CPU: its general-purpose and fixed counters. Whoever owns a
 * counter (a host perf driver, KVM, or the guest itself) programs it here; the CPU calls
 * `retarget` whenever what it executes changes so every running counter changes rate.
 */
export class CpuPmuHw {
  /** General-purpose (x86) / event (arm64) counters, index 0..nrGp-1. */
  readonly gp: HwCounter[] = [];
  /** Fixed counters (x86 fixed 0-2, arm64 the cycle counter). */
  readonly fixed: HwCounter[] = [];
  /** Every counter, gp first. */
  readonly all: HwCounter[] = [];
  /** Counters by architectural index (sparse). */
  readonly slot: Array<HwCounter | undefined> = [];
  /** Which counters have an owner. */
  readonly occupancy = new CounterOccupancy();
  /**
   * AMD PerfMonV2 PerfCntrGlobalStatus: overflow bits of a guest context loaded by the
   * mediated vPMU (host perf's own overflows are handled through its events).
   */
  globalStatus = 0n;
  /** AMD PerfMonV2 PerfCntrGlobalCtl as the mediated vPMU leaves it. */
  globalCtl = 0n;

  constructor(
    readonly desc: PmuHwDesc,
    queue: EventQueue,
  ) {
    // The counters' numbers side by side in one array (HwCounter).
    const fields = new Float64Array((desc.nrGp + desc.fixed.length) * HW_COUNTER_FIELDS);
    let at = 0;
    for (let i = 0; i < desc.nrGp; i++, at += HW_COUNTER_FIELDS) {
      this.gp.push(new HwCounter(i as CounterIdx, desc.gpWidth, queue, this.occupancy, fields, at));
    }
    for (const f of desc.fixed) {
      this.fixed.push(new HwCounter(f.idx, desc.fixedWidth, queue, this.occupancy, fields, at));
      at += HW_COUNTER_FIELDS;
    }
    for (const c of [...this.gp, ...this.fixed]) {
      this.all.push(c);
      this.slot[c.idx] = c;
    }
  }

  /** The counter at an architectural index, or undefined. */
  counter(idx: number): HwCounter | undefined {
    return this.slot[idx];
  }

  /** Folds every enabled counter to `now` and gives it the rate of `exec` (in index order). */
  retarget(now: Ns, exec: ExecState | null): void {
    const occ = this.occupancy;
    const slot = this.slot;
    for (let m = occ.onLow; m !== 0; m &= m - 1) {
      const c = slot[31 - Math.clz32(m & -m)]!;
      c.fold(now);
      c.retarget(exec);
    }
    for (let m = occ.onHigh; m !== 0; m &= m - 1) {
      const c = slot[63 - Math.clz32(m & -m)]!;
      c.fold(now);
      c.retarget(exec);
    }
  }

  /**
   * Zeroes the counters freed since the last call that are still free and stopped: what a
   * mediated vPMU put leaves behind.
   */
  clearFreed(): void {
    const occ = this.occupancy;
    const slot = this.slot;
    for (let m = occ.freedLow; m !== 0; m &= m - 1) {
      const c = slot[31 - Math.clz32(m & -m)]!;
      if (!c.enabled && c.owner === null) c.clear();
    }
    for (let m = occ.freedHigh; m !== 0; m &= m - 1) {
      const c = slot[63 - Math.clz32(m & -m)]!;
      if (!c.enabled && c.owner === null) c.clear();
    }
    occ.freedLow = 0;
    occ.freedHigh = 0;
  }

  /** Programs a counter and turns it on or off with a single fold and rate update. */
  configure(
    c: HwCounter,
    quantity: number,
    modeMask: number,
    on: boolean,
    now: Ns,
    exec: ExecState | null,
  ): void {
    c.fold(now);
    c.quantity = quantity;
    c.modeMask = modeMask;
    c.setOn(on);
    c.retarget(exec);
  }

  /** Starts or stops a counter. */
  setEnabled(c: HwCounter, on: boolean, now: Ns, exec: ExecState | null): void {
    c.fold(now);
    c.setOn(on);
    c.retarget(exec);
  }
}
