import type { MachineDesc } from "../../hw/machine.js";
import type { RunResult } from "../../report/result.js";
import type { System } from "../../system.js";

/** The machine as the run left it: each CPU's core type, cluster, PMU and online state. */
export function machineResult(desc: MachineDesc, sys: System): RunResult["machine"] {
  return {
    name: desc.name,
    arch: desc.arch,
    cpus: sys.machine.cpus.map((c) => ({
      id: c.id,
      core_type: c.coreType.name,
      cluster: c.cluster,
      pmu: c.coreType.pmu.name,
      online: c.online,
    })),
  };
}

/** Each CPU's busy and idle time (ground truth) and context switches. */
export function cpuResults(sys: System): RunResult["cpus"] {
  return sys.machine.cpus.map((c) => ({
    id: c.id,
    busy_ns: Math.round(c.truth.runtime),
    idle_ns: Math.round(c.idleTime),
    switches: sys.sched.switchesOn(c.id),
  }));
}
