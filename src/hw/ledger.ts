import type { ExecState } from "./exec.js";
import { NMODES, NQ } from "./quantity.js";

/** Nanoseconds spent executing one ExecState, updated in place. */
interface TimeCell {
  readonly exec: ExecState | null;
  t: number;
}

/** The empty cell the recent-cell cache starts with (matches no ExecState). */
const NO_CELL: TimeCell = { exec: null, t: 0 };

/**
 * Ground truth: what really executed, per mode, for one account (a CPU, or a task on one
 * CPU). Reports compare what perf measured against these numbers. Time is kept per
 * ExecState (there are only a few per run) and counts are derived on demand, so charging
 * an interval on the hot path is one in-place addition.
 */
export class TruthAccount {
  /**
   * Nanoseconds spent executing each ExecState, in a mutable cell so that charging an
   * interval updates it in place instead of re-inserting a number into the map.
   */
  private readonly byExec = new Map<ExecState, TimeCell>();
  /**
   * The two cells charged last, most recent first: a vCPU's CPU alternates between the
   * guest's and KVM's ExecStates at every entry and exit.
   */
  private recent: TimeCell = NO_CELL;
  private previous: TimeCell = NO_CELL;
  /** Nanoseconds this account was on a CPU (all modes). */
  runtime = 0;

  /** Adds `dt` nanoseconds of `exec`. */
  add(exec: ExecState, dt: number): void {
    this.runtime += dt;
    this.cell(exec).t += dt;
  }

  private cell(exec: ExecState): TimeCell {
    const recent = this.recent;
    if (recent.exec === exec) return recent;
    let c = this.previous;
    if (c.exec !== exec) {
      c = this.byExec.get(exec) ?? this.newCell(exec);
    }
    this.previous = recent;
    this.recent = c;
    return c;
  }

  private newCell(exec: ExecState): TimeCell {
    const c = { exec, t: 0 };
    this.byExec.set(exec, c);
    return c;
  }

  /** Count of `quantity` summed over the modes in `modeMask`. */
  count(quantity: number, modeMask: number): number {
    if (quantity < 0 || quantity >= NQ) return 0;
    let s = 0;
    for (const [e, { t }] of this.byExec) {
      let frac = 0;
      for (let m = 0; m < NMODES; m++) if (modeMask & (1 << m)) frac += e.fracs[m]!;
      if (frac !== 0) s += e.rates[quantity]! * frac * t;
    }
    return s;
  }

  /** Time in the modes of `modeMask`. */
  timeIn(modeMask: number): number {
    let s = 0;
    for (const [e, { t }] of this.byExec) {
      for (let m = 0; m < NMODES; m++) if (modeMask & (1 << m)) s += e.fracs[m]! * t;
    }
    return s;
  }

  /** Adds another account into this one (for aggregation). */
  merge(o: TruthAccount): void {
    for (const [e, { t }] of o.byExec) this.cell(e).t += t;
    this.runtime += o.runtime;
  }
}
