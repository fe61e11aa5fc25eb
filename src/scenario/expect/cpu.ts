import { z } from "zod";
import { defineSubject } from "./subject.js";

/** A CPU's busy and idle time and context switches. */
export const cpuSubject = defineSubject({
  key: "cpu",
  schema: z.strictObject({
    id: z.number().int().nonnegative(),
    field: z.enum(["busy", "idle", "switches"]),
  }),
  compile(s, c) {
    const n = c.ctx.nrCpus;
    if (c.ctx.machine && s.id >= n) c.err(["id"], `CPU ${s.id} does not exist`, `a CPU below ${n}`);
    return s;
  },
  isTime: (s) => s.field === "busy" || s.field === "idle",
  describe: (s) => `CPU ${s.id} ${s.field}`,
  observe(s, run) {
    const cpu = run.sys.machine.cpus[s.id]!;
    switch (s.field) {
      case "busy":
        return Math.round(cpu.truth.runtime);
      case "idle":
        return Math.round(cpu.idleTime);
      case "switches":
        return run.sys.sched.switchesOn(cpu.id);
    }
  },
});
