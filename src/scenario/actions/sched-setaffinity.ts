import { z } from "zod";
import { parseCpuList } from "../../hw/cpulist.js";
import { ERRNO } from "../../sim/errno.js";
import { taskNamed } from "../run-context.js";
import { CpuList } from "../values.js";
import { ActionCommon, defineAction } from "./kind.js";

/** sched_setaffinity(2) of a task or a vCPU thread. */
export const schedSetaffinity = defineAction({
  schema: z.strictObject({
    ...ActionCommon,
    do: z.literal("sched_setaffinity"),
    task: z.string(),
    cpus: CpuList,
  }),
  compile(a, c) {
    c.needTask(a.task, "task", true);
    // CPUs that do not exist are the call's to refuse (EINVAL), not the loader's.
    const all = typeof a.cpus === "string" && a.cpus.trim() === "all";
    const r = all ? undefined : parseCpuList(a.cpus);
    if (typeof r === "string") {
      c.err(["cpus"], r, 'a CPU list such as "0-3"');
      return { task: a.task, cpus: [] };
    }
    return { task: a.task, cpus: r ?? Array.from({ length: c.ctx.nrCpus }, (_, i) => i) };
  },
  execute(a, run) {
    const t = taskNamed(run, a.task);
    return { ret: t ? run.sys.sched.setAffinity(t.pid, a.cpus, run.sys.now) : -ERRNO.ESRCH };
  },
  describe: (a) => `sched_setaffinity(${a.task}, ${a.cpus})`,
});
