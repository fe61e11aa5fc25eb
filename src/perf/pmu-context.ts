import { TIMER_SCOPE_SELF, Timer } from "../sim/queue.js";
import type { Ns } from "../sim/time.js";
import type { PerfEventContext } from "./context.js";
import type { PerfEvent } from "./event.js";
import type { Pmu } from "./pmu.js";

/**
 * struct perf_event_pmu_context (epc): one per (context, PMU), holding the groups of that
 * PMU that are on the hardware now and whether multiplexing is needed.
 */
export class PerfEventPmuContext {
  /** Active pinned and flexible group leaders, in the order they went on. */
  pinnedActive: PerfEvent[] = [];
  flexibleActive: PerfEvent[] = [];
  /** Spare list swapped in while a whole list is scheduled out (no allocation). */
  spare: PerfEvent[] = [];
  nrEvents = 0;
  rotateNecessary = false;
  /**
   * Events of an exclusive PMU in this epc, by attr cpu (-1: any CPU), and their total:
   * what exclusive_event_installable() looks for in the context's event list. Made with
   * the first such event.
   */
  exclusiveByCpu: Map<number, number> | null = null;
  nrExclusive = 0;
  /** The groups the last guest-context put scheduled in, in order (guest-switch.ts). */
  guestPlanPinned: PerfEvent[] = [];
  guestPlanFlexible: PerfEvent[] = [];
  /** The flexible group that put tried and could not put on (the pass multiplexes), or null. */
  guestFailFlexible: PerfEvent | null = null;

  constructor(
    readonly pmu: Pmu,
    readonly ctx: PerfEventContext,
  ) {}
}

/**
 * struct perf_cpu_pmu_context: per (PMU, CPU) state: the CPU context's epc, the epc of the
 * task context now on this CPU, hardware occupancy, and the multiplexing hrtimer.
 */
export class PerfCpuPmuContext {
  taskEpc: PerfEventPmuContext | null = null;
  /** Hardware (non-software) events ACTIVE on this CPU. */
  activeOncpu = 0;
  /** An attr.exclusive group is on. */
  exclusive = false;
  hrtimerActive = false;
  /** Expiry of the last arming (hrtimer_forward_now keeps the grid). */
  lastExpires = 0;
  private timer: Timer | null = null;

  constructor(
    readonly pmu: Pmu,
    readonly cpu: number,
    readonly epc: PerfEventPmuContext,
    private readonly onTimer: (cpc: PerfCpuPmuContext, now: Ns) => void,
  ) {}

  /** The multiplexing hrtimer, made at first use (most (PMU, CPU) pairs never multiplex). */
  get hrtimer(): Timer {
    if (this.timer === null) {
      const t = new Timer(`mux ${this.pmu.name}/${this.cpu}`, (now) => this.onTimer(this, now));
      // The handler looks at its own CPU only, and completes a lazy guest load there itself
      // once the interrupt has exited the vCPU (PerfCore.muxHrtimerHandler()).
      t.scope = TIMER_SCOPE_SELF;
      this.timer = t;
    }
    return this.timer;
  }
}
