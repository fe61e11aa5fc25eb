import { z } from "zod";
import { sysRead } from "../../perf/read.js";
import { ActionCommon, defineAction } from "./kind.js";

/** read(2) of a perf fd with a 4096-byte buffer; the values are the call's data. */
export const read = defineAction({
  schema: z.strictObject({ ...ActionCommon, do: z.literal("read"), fd: z.string() }),
  compile(a, c) {
    c.needFd(a.fd, "fd");
    return a;
  },
  execute(a, run) {
    const r = sysRead(run.sys.perf, run.fds.fd(a.fd), 4096);
    if (typeof r === "number") return { ret: r };
    const { value, time_enabled, time_running, group } = r;
    return { ret: r.bytes, data: { value, time_enabled, time_running, group } };
  },
  describe: (a) => `read(${a.fd})`,
});
