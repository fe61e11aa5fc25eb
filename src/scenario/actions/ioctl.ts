import { z } from "zod";
import { sysIoctl } from "../../perf/ioctl.js";
import { PERF_IOC_FLAG_GROUP } from "../../perf/uapi.js";
import { ActionCommon, defineAction } from "./kind.js";

/** ioctl(2) on a perf fd: PERF_EVENT_IOC_*. */
export const ioctl = defineAction({
  schema: z.strictObject({
    ...ActionCommon,
    do: z.literal("ioctl"),
    fd: z.string(),
    op: z.enum(["ENABLE", "DISABLE", "RESET", "REFRESH", "PERIOD", "ID"]),
    arg: z.number().int().optional(),
    group: z.boolean().optional(),
  }),
  compile(a, c) {
    c.needFd(a.fd, "fd");
    return a;
  },
  execute(a, run) {
    // ENABLE, DISABLE and RESET take PERF_IOC_FLAG_GROUP; the others their argument.
    const flagged = a.op === "ENABLE" || a.op === "DISABLE" || a.op === "RESET";
    const arg = flagged ? (a.group ? PERF_IOC_FLAG_GROUP : 0) : (a.arg ?? 0);
    return { ret: sysIoctl(run.sys.perf, run.fds.fd(a.fd), a.op, arg) };
  },
  describe: (a) => `ioctl(${a.fd}, ${a.op}${a.group ? " | GROUP" : ""})`,
});
