import { z } from "zod";
import { TruthAccount } from "../../hw/ledger.js";
import { ALL_MODES, MODE_NAMES, QUANTITY_NAMES, quantityByName } from "../../hw/quantity.js";
import { CpuList } from "../values.js";
import { defineSubject } from "./subject.js";

/** The ground truth of a quantity, on the machine or one task, on some CPUs, in some modes. */
export const truthSubject = defineSubject({
  key: "truth",
  schema: z.strictObject({
    event: z.string(),
    task: z.string().optional(),
    cpus: CpuList.optional(),
    modes: z.array(z.enum(["host-user", "host-kernel", "guest-user", "guest-kernel"])).optional(),
  }),
  compile(s, c) {
    const q = quantityByName(s.event);
    if (q === undefined)
      c.err(["event"], `unknown quantity "${s.event}"`, `one of: ${QUANTITY_NAMES.join(", ")}`);
    c.ctx.needTask(s.task, c.path("task"));
    const cpus = c.ctx.cpuList(s.cpus, c.path("cpus"));
    const mask = s.modes
      ? s.modes.reduce((m, n) => m | (1 << MODE_NAMES.indexOf(n)), 0)
      : ALL_MODES;
    return { q: q!, task: s.task, cpus, mask };
  },
  isTime: () => false,
  describe(s) {
    const who = s.task ? `task ${s.task}` : "machine";
    const where = s.cpus !== undefined ? ` on CPUs ${s.cpus}` : "";
    const modes = s.modes ? ` (${s.modes.join("+")})` : "";
    return `true ${s.event} of ${who}${where}${modes}`;
  },
  observe(t, run) {
    const acct = new TruthAccount();
    const inCpus = (c: number) => t.cpus === undefined || t.cpus.includes(c);
    if (t.task !== undefined) {
      const task = run.tasks.get(t.task);
      if (!task) return 0;
      for (const [cpu, a] of task.truth) if (inCpus(cpu)) acct.merge(a);
    } else {
      for (const cpu of run.sys.machine.cpus) if (inCpus(cpu.id)) acct.merge(cpu.truth);
    }
    return Math.round(acct.count(t.q, t.mask));
  },
});
