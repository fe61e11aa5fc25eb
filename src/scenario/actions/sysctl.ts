import { z } from "zod";
import { perfEventRelease } from "../../perf/install.js";
import { startNmiWatchdog } from "../../perf/watchdog.js";
import { ERRNO } from "../../sim/errno.js";
import type { RunContext } from "../run-context.js";
import { ActionCommon, defineAction } from "./kind.js";

/** A runtime sysctl write (echo value > /proc/sys/...): 0, or -EINVAL for a bad value. */
export const sysctl = defineAction({
  schema: z.strictObject({
    ...ActionCommon,
    do: z.literal("sysctl"),
    name: z.enum([
      "kernel.nmi_watchdog",
      "kernel.perf_event_paranoid",
      "kernel.perf_event_max_sample_rate",
    ]),
    value: z.number().int(),
  }),
  compile: (a) => a,
  execute: (a, run) => ({ ret: write(a.name, a.value, run) }),
  describe: (a) => `sysctl ${a.name}=${a.value}`,
});

function write(name: string, value: number, run: RunContext): number {
  const core = run.sys.perf;
  switch (name) {
    case "kernel.nmi_watchdog":
      if (value !== 0 && value !== 1) return -ERRNO.EINVAL;
      if (value === 0) {
        for (const e of run.watchdog) perfEventRelease(core, e, run.sys.now);
        run.watchdog = [];
      } else if (run.watchdog.length === 0) {
        run.watchdog = startNmiWatchdog(core, run.kernel.profile === "rfc-v1");
      }
      return 0;
    case "kernel.perf_event_paranoid":
      core.opts.paranoid = value;
      return 0;
    case "kernel.perf_event_max_sample_rate":
      if (value < 1) return -ERRNO.EINVAL;
      core.opts.maxSampleRate = value;
      return 0;
    default:
      return -ERRNO.EINVAL;
  }
}
