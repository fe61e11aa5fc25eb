import type { ExecState } from "./exec.js";
import { NMODES, NQ } from "./quantity.js";

/**
 * Ground truth: what really executed, per mode, for one account (a CPU, or a task on one
 * CPU). Reports compare what perf measured against these numbers.
 */
export class TruthAccount {
  /** counts[mode * NQ + quantity]. */
  readonly counts = new Float64Array(NMODES * NQ);
  /** Nanoseconds per mode. */
  readonly time = new Float64Array(NMODES);
  /** Nanoseconds this account was on a CPU (all modes). */
  runtime = 0;

  /** Adds `dt` nanoseconds of `exec`. */
  add(exec: ExecState, dt: number): void {
    this.runtime += dt;
    const f = exec.fracs;
    const r = exec.rates;
    const c = this.counts;
    for (let m = 0; m < NMODES; m++) {
      const fm = f[m]!;
      if (fm === 0) continue;
      const t = fm * dt;
      this.time[m]! += t;
      const off = m * NQ;
      for (let q = 0; q < NQ; q++) c[off + q]! += r[q]! * t;
    }
  }

  /** Count of `quantity` summed over the modes in `modeMask`. */
  count(quantity: number, modeMask: number): number {
    if (quantity < 0) return 0;
    let s = 0;
    for (let m = 0; m < NMODES; m++) if (modeMask & (1 << m)) s += this.counts[m * NQ + quantity]!;
    return s;
  }

  /** Time in the modes of `modeMask`. */
  timeIn(modeMask: number): number {
    let s = 0;
    for (let m = 0; m < NMODES; m++) if (modeMask & (1 << m)) s += this.time[m]!;
    return s;
  }

  /** Adds another account into this one (for aggregation). */
  merge(o: TruthAccount): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += o.counts[i]!;
    for (let i = 0; i < NMODES; i++) this.time[i]! += o.time[i]!;
    this.runtime += o.runtime;
  }
}
