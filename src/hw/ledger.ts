import type { ExecState } from "./exec.js";
import { NMODES, NQ } from "./quantity.js";

/**
 * Ground truth: what really executed, per mode, for one account (a CPU, or a task on one
 * CPU). Reports compare what perf measured against these numbers. Time is kept per
 * ExecState (there are only a few per run) and counts are derived on demand, so charging
 * an interval on the hot path is one map update.
 */
export class TruthAccount {
  /** Nanoseconds spent executing each ExecState. */
  private readonly byExec = new Map<ExecState, number>();
  /** Nanoseconds this account was on a CPU (all modes). */
  runtime = 0;

  /** Adds `dt` nanoseconds of `exec`. */
  add(exec: ExecState, dt: number): void {
    this.runtime += dt;
    this.byExec.set(exec, (this.byExec.get(exec) ?? 0) + dt);
  }

  /** Count of `quantity` summed over the modes in `modeMask`. */
  count(quantity: number, modeMask: number): number {
    if (quantity < 0 || quantity >= NQ) return 0;
    let s = 0;
    for (const [e, t] of this.byExec) {
      let frac = 0;
      for (let m = 0; m < NMODES; m++) if (modeMask & (1 << m)) frac += e.fracs[m]!;
      if (frac !== 0) s += e.rates[quantity]! * frac * t;
    }
    return s;
  }

  /** Time in the modes of `modeMask`. */
  timeIn(modeMask: number): number {
    let s = 0;
    for (const [e, t] of this.byExec) {
      for (let m = 0; m < NMODES; m++) if (modeMask & (1 << m)) s += e.fracs[m]! * t;
    }
    return s;
  }

  /** Adds another account into this one (for aggregation). */
  merge(o: TruthAccount): void {
    for (const [e, t] of o.byExec) this.byExec.set(e, (this.byExec.get(e) ?? 0) + t);
    this.runtime += o.runtime;
  }
}
