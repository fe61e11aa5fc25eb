import type { Ns } from "../sim/time.js";

/** Runs `run` as guest kernel code, in order with the guest's other instructions. */
export type GuestCode = (run: (t: Ns) => void, now: Ns) => void;

/** One step of the guest perf core's time accounting, waiting for the guest to execute it. */
interface Stamp {
  active: readonly number[];
  edge: "enable" | "disable" | null;
}

/**
 * The guest perf core's enabled and running times for one perf stat's events. The guest
 * kernel stamps them with its own clock (kvmclock/TSC, perf_clock()), which advances in host
 * time, also while the host has the vCPU preempted: the guest does not see that, and does not
 * subtract steal time from event times (kernel: perf_event_update_time() and
 * __perf_update_times() in the guest). So an event the guest keeps on a counter runs for as
 * long as it is enabled; only the guest's own multiplexing (perf_rotate_context()) takes
 * running time from it.
 *
 * Each step (the enable, a rotation, the stop) is guest code: it takes its timestamp when the
 * vCPU executes it, which is later than the host instant it was issued at when the vCPU was
 * out or had instructions queued. Enabled time begins when the guest executes its enable
 * (kernel: perf_event_enable() -> event_sched_in() stamps the event), not when the scenario
 * asked for it.
 */
export class GuestEventTimes {
  /** When the guest executed the enable, or -1. */
  private enabledAt = -1;
  /** When the guest executed the disable, or -1. */
  private disabledAt = -1;
  private readonly running: number[];
  /** When each event last went on a counter, or -1 while it is off. */
  private readonly since: number[];
  /** Steps issued that the guest has not executed yet, in issue order. */
  private readonly pending = new Set<Stamp>();

  constructor(
    nrEvents: number,
    private readonly code: GuestCode,
  ) {
    this.running = new Array<number>(nrEvents).fill(0);
    this.since = new Array<number>(nrEvents).fill(-1);
  }

  /** The guest enables its events: those in `active` go on counters (kernel: event_sched_in()). */
  enable(active: readonly number[], now: Ns): void {
    this.issue({ active, edge: "enable" }, now);
  }

  /** A guest multiplexing rotation: the events on counters become `active`. */
  rotate(active: readonly number[], now: Ns): void {
    this.issue({ active, edge: null }, now);
  }

  /** The guest stops counting and reads its events' times (kernel: perf_event_read()). */
  disable(now: Ns): void {
    this.issue({ active: [], edge: "disable" }, now);
  }

  /** The end of the run: steps the guest has not executed yet take their times now. */
  flush(now: Ns): void {
    for (const s of this.pending) this.apply(s, now);
    this.pending.clear();
  }

  /** Enabled time up to the disable (or up to `now` while still enabled). */
  enabledNs(now: Ns): number {
    if (this.enabledAt < 0) return 0;
    return (this.disabledAt >= 0 ? this.disabledAt : now) - this.enabledAt;
  }

  /** Event `k`'s running time up to the disable (or up to `now`). */
  runningNs(k: number, now: Ns): number {
    const since = this.since[k] ?? -1;
    return (this.running[k] ?? 0) + (since >= 0 ? now - since : 0);
  }

  private issue(s: Stamp, now: Ns): void {
    this.pending.add(s);
    this.code((t) => {
      // Already taken at the end of the run (flush()).
      if (this.pending.delete(s)) this.apply(s, t);
    }, now);
  }

  private apply(s: Stamp, t: number): void {
    if (s.edge === "enable") this.enabledAt = t;
    for (let k = 0; k < this.since.length; k++) {
      const since = this.since[k]!;
      if (since < 0) continue;
      this.running[k]! += t - since;
      this.since[k] = -1;
    }
    for (const k of s.active) this.since[k] = t;
    if (s.edge === "disable") this.disabledAt = t;
  }
}
