import { z } from "zod";
import { ActionCommon, defineAction } from "./kind.js";

/** CPU hotplug (echo 0/1 > /sys/devices/system/cpu/cpuN/online): cpu_online or cpu_offline. */
function cpuHotplug<D extends "cpu_online" | "cpu_offline">(name: D) {
  return defineAction({
    schema: z.strictObject({
      ...ActionCommon,
      do: z.literal(name),
      cpu: z.number().int().nonnegative(),
    }),
    compile: (a) => a,
    execute: (a, run) => ({
      ret: run.sys.sched.setOnline(a.cpu, name === "cpu_online", run.sys.now),
    }),
    describe: (a) => `${name}(${a.cpu})`,
  });
}

export const cpuOnline = cpuHotplug("cpu_online");
export const cpuOffline = cpuHotplug("cpu_offline");
