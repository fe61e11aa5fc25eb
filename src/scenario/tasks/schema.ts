import { z } from "zod";
import { CpuList, Duration } from "../values.js";

/** One entry of `tasks`: a host task running a workload. */
export const TaskSpecSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z_][\w.-]*$/, { error: "a name of letters, digits, _ . -" }),
  workload: z.string(),
  affinity: CpuList.optional(),
  start: Duration.optional(),
  duty: z.strictObject({ run: Duration, sleep: Duration }).optional(),
  exit_after: Duration.optional(),
});

export type TaskSpecFile = z.infer<typeof TaskSpecSchema>;
