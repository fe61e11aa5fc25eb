import { z } from "zod";
import { ERRNO } from "../../sim/errno.js";
import { taskNamed } from "../run-context.js";
import { ActionCommon, defineAction } from "./kind.js";

/** kill(2) with SIGKILL of a task or a vCPU thread. */
export const kill = defineAction({
  schema: z.strictObject({ ...ActionCommon, do: z.literal("kill"), task: z.string() }),
  compile(a, c) {
    c.needTask(a.task, "task", true);
    return a;
  },
  execute(a, run) {
    const t = taskNamed(run, a.task);
    return { ret: t ? run.sys.sched.kill(t.pid, run.sys.now) : -ERRNO.ESRCH };
  },
  describe: (a) => `kill(${a.task})`,
});
