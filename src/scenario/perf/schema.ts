import { z } from "zod";
import { CpuList, Duration } from "../values.js";

/** Events in perf's own syntax: a comma-separated string or a list of strings. */
const EventList = z.union(
  [z.string().min(1).max(65_536), z.array(z.string().min(1).max(4096)).min(1).max(1024)],
  {
    error: 'perf events such as "cycles,instructions:u" or a list of them',
  },
);

/** One entry of `perf`: a host perf stat. */
export const PerfMeasurement = z.strictObject({
  name: z.string().regex(/^[A-Za-z_][\w.-]*$/, { error: "a name of letters, digits, _ . -" }),
  events: EventList,
  /** System-wide on these CPUs (`all` = every CPU), like perf stat -a / -C. */
  cpus: CpuList.optional(),
  /** A task by name, like perf stat -p. */
  task: z.string().optional(),
  start: Duration.optional(),
  stop: Duration.optional(),
  interval: Duration.optional(),
  /** Run unprivileged (subject to perf_event_paranoid). */
  unprivileged: z.boolean().optional(),
  /**
   * expand (default): generic hardware events open once per core PMU with an extended
   * type, like current perf; legacy: once, bound to the first PMU that accepts them.
   */
  generic_events: z.enum(["expand", "legacy"]).optional(),
});

export type PerfMeasurementSpec = z.infer<typeof PerfMeasurement>;
