import { ERRNO } from "../sim/errno.js";
import type { PerfEvent } from "./event.js";
import { PERF_PMU_CAP } from "./pmu.js";
import type { KernelAttr } from "./uapi.js";

/** The clocks perf_event_set_clock() takes, and whether each is NMI-safe. */
const CLOCKS = new Map<number, boolean>([
  [0, false], // CLOCK_REALTIME
  [1, true], // CLOCK_MONOTONIC
  [4, true], // CLOCK_MONOTONIC_RAW
  [7, false], // CLOCK_BOOTTIME
  [11, false], // CLOCK_TAI
]);

/** The clock an event time-stamps with: its clockid, or -1 for the default local_clock(). */
export function perfEventClock(attr: KernelAttr): number {
  return attr.use_clockid ? attr.clockid : -1;
}

/**
 * kernel: perf_event_set_clock(): an unknown clockid is EINVAL, and so is a clock that is
 * not NMI-safe on a PMU that may raise NMIs (only PMUs with PERF_PMU_CAP_NO_NMI take it).
 */
export function perfEventSetClock(e: PerfEvent): number {
  if (!e.attr.use_clockid) return 0;
  const nmiSafe = CLOCKS.get(e.attr.clockid);
  if (nmiSafe === undefined) return -ERRNO.EINVAL;
  if (!nmiSafe && !(e.pmu.capabilities & PERF_PMU_CAP.NO_NMI)) return -ERRNO.EINVAL;
  return 0;
}

/** Where each event's records go, when redirected (vpmu models no ring buffer contents). */
const outputOf = new WeakMap<PerfEvent, PerfEvent>();

/** The event whose ring buffer `e` writes to after SET_OUTPUT, or null. */
export function perfEventOutput(e: PerfEvent): PerfEvent | null {
  return outputOf.get(e) ?? null;
}

/**
 * kernel: perf_event_set_output(): redirect `e`'s records into `output`'s buffer (null:
 * undo). EINVAL for the event itself, an event of another CPU, a per-task buffer of another
 * task, another clock, another write direction. vpmu has no mmap, so the "active mmap"
 * refusal never applies.
 */
export function perfEventSetOutput(e: PerfEvent, output: PerfEvent | null): number {
  if (output === null) {
    outputOf.delete(e);
    return 0;
  }
  if (output === e) return -ERRNO.EINVAL;
  if (output.cpu !== e.cpu) return -ERRNO.EINVAL;
  if (output.cpu === -1 && output.task !== e.task) return -ERRNO.EINVAL;
  if (perfEventClock(output.attr) !== perfEventClock(e.attr)) return -ERRNO.EINVAL;
  if (output.attr.write_backward !== e.attr.write_backward) return -ERRNO.EINVAL;
  outputOf.set(e, output);
  return 0;
}
