import { z } from "zod";
import { defineSubject } from "./subject.js";

/** A task's scheduling numbers at the end of the run. */
export const taskSubject = defineSubject({
  key: "task",
  schema: z.strictObject({
    name: z.string(),
    field: z.enum(["runtime", "migrations", "switches", "cpu", "state"]),
  }),
  compile(s, c) {
    c.ctx.needTask(s.name, c.path("name"));
    return s;
  },
  isTime: (s) => s.field === "runtime",
  describe: (s) => `task ${s.name} ${s.field}`,
  observe(s, run) {
    const t = run.tasks.get(s.name);
    if (!t) return null;
    switch (s.field) {
      case "runtime":
        return t.runtime;
      case "migrations":
        return t.nrMigrations;
      case "switches":
        return t.nrSwitches;
      case "cpu":
        return t.cpu;
      case "state":
        return t.state;
    }
  },
});
