import { PERF_COUNT_HW } from "../hw/pmu-desc.js";
import type { Ns } from "../sim/time.js";
import type { PerfCore } from "./core.js";
import type { PerfEvent } from "./event.js";
import { perfEventEnable } from "./ioctl.js";
import { perfEventCreateKernelCounter } from "./open.js";
import { PERF_TYPE_HARDWARE } from "./uapi.js";

/** watchdog_thresh (seconds). */
export const WATCHDOG_THRESH = 10;

/**
 * The hard-lockup detector (kernel/watchdog_perf.c): one pinned cycles event per CPU,
 * created disabled by the kernel and then enabled, with a period of watchdog_thresh
 * seconds of cycles. A stock kernel creates it with no exclude bits, so it counts guest
 * mode too (the event a mediated vPMU refuses to coexist with); the 2024 passthrough RFC
 * series created it with exclude_guest = 1.
 */
export function startNmiWatchdog(core: PerfCore, excludeGuest: boolean): PerfEvent[] {
  const out: PerfEvent[] = [];
  for (const cc of core.cpuctx) {
    if (!cc.online) continue;
    const cpu = core.cpu(cc.cpu);
    // kernel: hw_nmi_get_sample_period() = cpu_khz * 1000 * watchdog_thresh
    const period = cpu.coreType.scaling.freqMHz * 1e6 * WATCHDOG_THRESH;
    const e = perfEventCreateKernelCounter(
      core,
      {
        type: PERF_TYPE_HARDWARE,
        config: PERF_COUNT_HW.CPU_CYCLES,
        pinned: true,
        disabled: true,
        sample_period: period,
        exclude_guest: excludeGuest,
      },
      cc.cpu,
      null,
      "nmi_watchdog",
      (_e: PerfEvent, _now: Ns) => {},
    );
    if (typeof e === "number") continue;
    perfEventEnable(core, e, core.now());
    out.push(e);
  }
  return out;
}
