import { z } from "zod";
import { sysClose } from "../../perf/ioctl.js";
import { ActionCommon, defineAction } from "./kind.js";

/** close(2) of a perf fd; its last values stay for expectations, in state DEAD. */
export const close = defineAction({
  schema: z.strictObject({ ...ActionCommon, do: z.literal("close"), fd: z.string() }),
  compile(a, c) {
    c.needFd(a.fd, "fd");
    return a;
  },
  execute(a, run) {
    run.fds.keepClosed(a.fd, run.sys.perf);
    return { ret: sysClose(run.sys.perf, run.fds.fd(a.fd)) };
  },
  describe: (a) => `close(${a.fd})`,
});
