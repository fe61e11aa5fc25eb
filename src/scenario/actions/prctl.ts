import { z } from "zod";
import { sysIoctl } from "../../perf/ioctl.js";
import { ActionCommon, defineAction } from "./kind.js";

/**
 * prctl(2) PR_TASK_PERF_EVENTS_DISABLE / _ENABLE (31 / 32): disables or enables every perf
 * event the calling process opened, in the order it opened them; returns 0. The caller is
 * the simulated perf tool process, which opened the fds of every measurement and
 * perf_event_open action.
 */
export const prctl = defineAction({
  schema: z.strictObject({
    ...ActionCommon,
    do: z.literal("prctl"),
    option: z.enum(["PR_TASK_PERF_EVENTS_DISABLE", "PR_TASK_PERF_EVENTS_ENABLE"]),
  }),
  compile: (a) => a,
  execute(a, run) {
    // kernel: perf_event_task_disable()/_enable() walk current->perf_event_list and do to
    // each event (and its inherited children) what ioctl(DISABLE or ENABLE, 0) does.
    const core = run.sys.perf;
    const op = a.option === "PR_TASK_PERF_EVENTS_DISABLE" ? "DISABLE" : "ENABLE";
    for (const [fd, e] of [...core.fds]) if (e.owner === "user") sysIoctl(core, fd, op, 0);
    return { ret: 0 };
  },
  describe: (a) => `prctl(${a.option})`,
});
